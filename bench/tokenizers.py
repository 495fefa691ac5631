"""Peer tokenizers behind triage's own features: Janome and SudachiPy in place of fugashi.

Each peer is an ``analyse(text) -> [(part of speech, lemma, surface)]`` like
``triage.text.analyse``, with UniDic's names for the parts of speech, so that
``triage.features.Featurizer`` builds exactly the same kinds of features from
it (lemma 1–2-grams, lexicon concepts, character n-grams, per sentence).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from unittest import mock

from triage import text

Analyse = Callable[[str], list[tuple[str, str, str]]]
_local = threading.local()
# IPADIC (Janome) names two of the kept classes differently from UniDic; its
# pronouns and suffixes are sub-classes of 名詞, which UniDic keeps as well.
_IPADIC_TO_UNIDIC = {"接頭詞": "接頭辞", "フィラー": "感動詞"}


def _janome(normalized: str) -> list[tuple[str, str, str]]:
    tok = getattr(_local, "janome", None)
    if tok is None:
        from janome.tokenizer import Tokenizer

        tok = _local.janome = Tokenizer()
    out = []
    for t in tok.tokenize(normalized):
        pos = t.part_of_speech.split(",", 1)[0]
        base = t.base_form if t.base_form and t.base_form != "*" else t.surface
        out.append((_IPADIC_TO_UNIDIC.get(pos, pos), base, t.surface))
    return out


def _sudachi(normalized: str) -> list[tuple[str, str, str]]:
    tok = getattr(_local, "sudachi", None)
    if tok is None:
        from sudachipy import Dictionary, SplitMode

        # Split mode A (short units) is the closest to the UniDic short units of unidic-lite.
        tok = _local.sudachi = Dictionary().tokenizer(mode=SplitMode.A)
    return [(m.part_of_speech()[0], m.dictionary_form() or m.surface(), m.surface()) for m in tok.tokenize(normalized)]


def _versions(*packages: str) -> str:
    return " + ".join(f"{p} {version(p)}" for p in packages)


# name -> (analyse, packages it needs, what it returns as the lemma)
TOKENIZERS: dict[str, tuple[Analyse, tuple[str, ...], str]] = {
    "fugashi": (text.analyse, ("fugashi", "unidic-lite"), "lemmas (triage's own)"),
    "janome": (_janome, ("janome",), "base forms, bundled IPADIC"),
    "sudachipy": (_sudachi, ("sudachipy", "sudachidict-core"), "dictionary forms, mode A"),
}


def describe(name: str) -> str:
    """Return the packages and versions behind a tokenizer, or why it is missing."""
    _, packages, what = TOKENIZERS[name]
    try:
        return f"{_versions(*packages)}, {what}"
    except Exception as exc:
        return f"not installed ({exc}); pip install -e '.[bench]'"


@contextmanager
def use(name: str) -> Iterator[Analyse]:
    """Make ``triage.features`` read text with the named tokenizer until the block ends."""
    analyse = TOKENIZERS[name][0]
    # The features locate tokens through triage.text.located, which calls triage.text.analyse.
    with mock.patch("triage.text.analyse", analyse):
        yield analyse
