"""Peer tokenizers for the same pipeline: Janome and SudachiPy.

Built like ``triage.text.JapaneseTokenizer``: an instance holds only settings
(so it pickles and ``sklearn.clone`` copies it), the analyser lives in a
per-thread cache (neither library promises thread safety), and a call returns
a plain list of base forms of the kept parts of speech.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from triage.text import KEEP_POS

# IPADIC (Janome) names the kept classes differently from UniDic: pronouns,
# suffixes and na-adjective stems are sub-classes of 名詞 there; 接頭詞 is
# UniDic's 接頭辞; fillers are their own class (UniDic: 感動詞-フィラー).
JANOME_KEEP_POS = frozenset(["名詞", "動詞", "形容詞", "副詞", "連体詞", "感動詞", "フィラー", "接頭詞", "助動詞"])

_local = threading.local()


def _janome():  # noqa: ANN202 - janome.tokenizer.Tokenizer
    tok = getattr(_local, "janome", None)
    if tok is None:
        from janome.tokenizer import Tokenizer

        tok = _local.janome = Tokenizer()
    return tok


def _sudachi(mode: str):  # noqa: ANN202 - sudachipy.Tokenizer
    cache = getattr(_local, "sudachi", None)
    if cache is None:
        cache = _local.sudachi = {}
    tok = cache.get(mode)
    if tok is None:
        from sudachipy import Dictionary, SplitMode

        split = getattr(SplitMode, mode)
        dictionary = Dictionary()
        # `tokenizer()` replaces the deprecated `create()` in SudachiPy 0.6.10+.
        make = getattr(dictionary, "tokenizer", None) or dictionary.create
        tok = cache[mode] = make(mode=split)
    return tok


class _Settings:
    """get_params/set_params so that scikit-learn can clone a pipeline holding the tokenizer."""

    def __init__(self, keep_pos: Iterable[str] | None = None) -> None:
        self.keep_pos = keep_pos

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """Return the settings."""
        return dict(vars(self))

    def set_params(self, **params: object) -> _Settings:
        """Change settings the way scikit-learn estimators do."""
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class JanomeTokenizer(_Settings):
    """Base forms (基本形) of the kept parts of speech, by Janome with its bundled IPADIC."""

    def __call__(self, text: str) -> list[str]:
        """Return the base forms of ``text`` (already normalized)."""
        keep = JANOME_KEEP_POS if self.keep_pos is None else frozenset(self.keep_pos)
        out: list[str] = []
        for token in _janome().tokenize(text):
            pos = token.part_of_speech
            if pos[: pos.find(",")] in keep:
                base = token.base_form
                out.append(base if base and base != "*" else token.surface)
        return out


class SudachiTokenizer(_Settings):
    """Dictionary forms (辞書形) of the kept parts of speech, by SudachiPy with sudachidict_core.

    Split mode A (short units) is the closest to UniDic's short units that
    fugashi with unidic-lite returns; Sudachi's POS follow UniDic, so the kept
    classes are triage's own.
    """

    def __init__(self, keep_pos: Iterable[str] | None = None, mode: str = "A") -> None:
        super().__init__(keep_pos)
        self.mode = mode

    def __call__(self, text: str) -> list[str]:
        """Return the dictionary forms of ``text`` (already normalized)."""
        keep = KEEP_POS if self.keep_pos is None else frozenset(self.keep_pos)
        out: list[str] = []
        for m in _sudachi(self.mode).tokenize(text):
            if m.part_of_speech()[0] in keep:
                out.append(m.dictionary_form() or m.surface())
        return out
