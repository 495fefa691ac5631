"""Text normalisation and Japanese tokenization shared by training and serving.

Everything here is imported by pickled models (``triage.text.JapaneseTokenizer``,
``triage.text.normalize``): renaming this module or these names breaks every
saved model, so bump ``TOKENIZER_VERSION`` and retrain instead.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

import fugashi
import unidic_lite

from . import pii
from .native import digit_runs, locate, nfkc, read_located, read_tokens

# Bump when normalisation or tokenization changes what a text becomes: the
# registry refuses a model stamped with another version (its features differ).
TOKENIZER_VERSION = "7"
DICTIONARY = "unidic-lite"

# Placeholders replace personal data and reference numbers before features are
# made, so that no address or number becomes a feature (and none leaks into a
# model file). ASCII words survive NFKC and MeCab as single nouns. The spans
# come from triage.pii, the same rules that mask logs and exports.
PLACEHOLDERS = {
    "URL": "urladdr",
    "EMAIL": "emailaddr",
    "CARD": "cardnum",
    "MASKED_CARD": "cardnum",
    "PHONE": "phonenum",
    "POSTCODE": "postcode",
    "MYNUMBER": "mynumber",
    "IDNUM": "idnum",
}
_DIGITS = str.maketrans("0123456789", "0000000000")
_NONZERO = re.compile("[1-9]")


def _placeholder(finding: pii.Finding) -> str:
    return " " + PLACEHOLDERS[finding.kind] + " "


def _placeholders(base: str) -> str:
    # Personal data first, then URLs and reference numbers in what is left:
    # a phone number inside a URL is still found (and masked in logs).
    return pii.render(pii.render(base, _placeholder), _placeholder, pii.FEATURE_ONLY)


_SURROGATES = re.compile("[\ud800-\udfff]")


_local = threading.local()


def normalize(text: str) -> str:
    """Return the text as features see it: NFKC, lower case, PII as placeholders (this thread's last text remembered)."""
    # One classify request normalizes the same text for the route, the FAQ search and the topic words.
    last = getattr(_local, "normalized", None)
    if last is not None and last[0] == text:
        return last[1]
    # Lone surrogates (possible through JSON escapes) cannot reach MeCab's UTF-8.
    # NFKC in C, character by character where that gives the same (triage/_fast.pyx): unicodedata spent
    # 0.2 µs per character of a text with full-width or half-width forms, as about half of inquiries have.
    out = nfkc(_SURROGATES.sub("\ufffd", text)).lower()
    # Digits carry no meaning for routing once identifiers are gone ("3万円"
    # and "5万円" ask the same thing), so all become 0.
    out = _placeholders(out)
    if digit_runs(out, 0)[0]:  # most texts hold none, and the scan costs more than the count
        out = _NONZERO.sub("0", out)  # what translate(_DIGITS) gives, without a per-character look-up
    _local.normalized = (text, out)
    return out


def normalize_many(texts: Iterable[str]) -> list[str]:
    """Normalize a batch of texts (a picklable step for a scikit-learn pipeline)."""
    return [normalize(t) for t in texts]


# Per-character NFKC + lower case, remembered: a dictionary look-up is much
# cheaper than a call into unicodedata, and texts reuse few distinct characters.
_CHAR_NFKC: dict[str, str] = {}


def _placeholders_with_offsets(base: str, offsets: list[int], kinds: tuple[str, ...]) -> tuple[str, list[int]]:
    out: list[str] = []
    out_offsets: list[int] = []
    pos = 0
    for f in pii.find(base, kinds):
        out.append(base[pos : f.start])
        out_offsets.extend(offsets[pos : f.start])
        sub = _placeholder(f)
        out.append(sub)
        out_offsets.extend([offsets[f.start]] * len(sub))
        pos = f.end
    out.append(base[pos:])
    out_offsets.extend(offsets[pos:])
    return "".join(out), out_offsets


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return ``normalize(text)`` and, for each of its characters, its index in ``text``."""
    chars: list[str] = []
    offsets: list[int] = []
    raw = text
    text = _SURROGATES.sub("\ufffd", text)
    cache = _CHAR_NFKC
    for i, ch in enumerate(text):
        piece = cache.get(ch)
        if piece is None:
            piece = cache[ch] = unicodedata.normalize("NFKC", ch).lower()
        if chars and piece and unicodedata.combining(piece[0]):
            # Half-width voicing marks (ｶﾞ) compose with the previous character.
            merged = unicodedata.normalize("NFC", chars[-1] + piece[0])
            if len(merged) == 1:
                chars[-1] = merged
                piece = piece[1:]
        for c in piece:
            chars.append(c)
            offsets.append(i)
    base = "".join(chars)
    whole = nfkc(text).lower()  # text has no surrogates here
    if base != whole:
        # Rare sequences compose across characters; fall back to a proportional map.
        base = whole
        offsets = [min(len(text) - 1, j * len(text) // max(1, len(base))) for j in range(len(base))]
    base, offsets = _placeholders_with_offsets(base, offsets, pii.PERSONAL)
    base, offsets = _placeholders_with_offsets(base, offsets, pii.FEATURE_ONLY)
    base = base.translate(_DIGITS)
    _local.normalized = (raw, base)  # the same text as normalize(raw) gives (a test checks)
    return base, offsets


def is_composing_mark(ch: str) -> bool:
    """Return True for a character that normalization merges into the one before it (ﾞ, ﾟ, combining marks)."""
    piece = _CHAR_NFKC.get(ch)
    if piece is None:
        piece = _CHAR_NFKC[ch] = unicodedata.normalize("NFKC", ch).lower()
    return bool(piece) and unicodedata.combining(piece[0]) > 0


def same_word(raw: str, normalized: str) -> bool:
    """Return True if ``raw`` (a slice of the text) normalizes to ``normalized`` (a token's surface)."""
    return unicodedata.normalize("NFKC", raw).lower().translate(_DIGITS) == normalized


# Parts of speech kept as features, by UniDic's first POS level. Content words
# carry the request; 助動詞 is kept because negation and wishes (ない, たい)
# separate "I want compensation" from "no compensation needed". Particles,
# symbols and whitespace are dropped: they are frequent everywhere and the
# character n-grams already see them.
KEEP_POS = frozenset(
    ["名詞", "代名詞", "動詞", "形容詞", "形状詞", "副詞", "連体詞", "感動詞", "接頭辞", "接尾辞", "助動詞"]
)


# MeCab writes "pos<TAB>lemma<TAB>surface" per token in one C call; reading a
# Node's features from Python costs more than the analysis itself. Backslashes
# are doubled because fugashi splits the arguments like a shell.
_LINE_FORMAT = (
    f'-r /dev/null -d "{unidic_lite.DICDIR}" -O "" --node-format=%f[0]\\\\t%f[7]\\\\t%m\\\\n '
    "--unk-format=%f[0]\\\\t\\\\t%m\\\\n --eos-format= --bos-format="
)


def _line_tagger() -> fugashi.GenericTagger:
    """Return this thread's Tagger that prints one line per token."""
    tagger = getattr(_local, "line_tagger", None)
    if tagger is None:
        tagger = fugashi.GenericTagger(_LINE_FORMAT)
        _local.line_tagger = tagger
    return tagger


def analyse(text: str) -> list[tuple[str, str, str]]:
    """Return (part of speech, lemma, surface) of every token, remembering this thread's last text.

    One request analyses the same text for the route, the highlight and the FAQ search.
    """
    last = getattr(_local, "last", None)
    if last is not None and last[0] == text:
        return last[1]
    # The lines are split and cut in C (triage/_fast.pyx): in Python this cost a third of MeCab's parse.
    # Loan words carry their source ("パスワード-password"): the lemma keeps the kana.
    tokens = read_tokens(_line_tagger().parse(text))
    _local.last = (text, tokens)
    return tokens


def located(text: str) -> list[tuple[str, str, str, int, int]]:
    """Return (part of speech, lemma, surface, start, end) of every token, with its place in ``text``."""
    # A token MeCab dropped or changed (whitespace) is not placed; the search runs in C (triage/_fast.pyx).
    # ``analyse`` is looked up here at each call: bench/tokenizers.py swaps it for another tokenizer's.
    return locate(text, analyse(text))


_MECAB_ANALYSE = analyse


def located_many(texts: Sequence[str]) -> Iterator[list[tuple[str, str, str, int, int]]]:
    """Return ``located`` of each text in turn: MeCab runs over all of them first, each output is read later.

    One pass of MeCab finds its dictionary in the caches from text to text. Its output (strings)
    is read and placed in C as each text's turn comes, so that only one text's tokens are alive
    at a time: a batch's tokens, tens of thousands of tuples, set off the garbage collector's
    passes. With ``analyse`` swapped for another tokenizer (bench/tokenizers.py), each text goes
    through ``located``.
    """
    if analyse is not _MECAB_ANALYSE:
        return (located(t) for t in texts)
    parse = _line_tagger().parse
    parsed = [parse(t) for t in texts]
    return (read_located(p, t) for p, t in zip(parsed, texts, strict=True))


def dictionary_version() -> str:
    """Return the installed dictionary's package version."""
    from importlib.metadata import version

    return f"{DICTIONARY}=={version('unidic-lite')}"


class JapaneseTokenizer:
    """Split normalized Japanese text into lemmas of the kept parts of speech.

    Holds only settings, so it pickles and clones; the Tagger lives in a
    per-thread cache and the result is a plain list built at once.
    """

    def __init__(self, keep_pos: Iterable[str] | None = None) -> None:
        self.keep_pos = keep_pos

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """Return the settings (lets ``sklearn.clone`` copy the tokenizer)."""
        return {"keep_pos": self.keep_pos}

    def set_params(self, **params: object) -> JapaneseTokenizer:
        """Change settings the way scikit-learn estimators do."""
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __call__(self, text: str) -> list[str]:
        """Return the lemmas of ``text`` (already normalized)."""
        keep = KEEP_POS if self.keep_pos is None else frozenset(self.keep_pos)
        return [lemma for tag, lemma, _ in analyse(text) if tag in keep]

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """Return ``(lemma, start, end)`` of every kept token in ``text``."""
        keep = KEEP_POS if self.keep_pos is None else frozenset(self.keep_pos)
        return [(lemma, start, end) for tag, lemma, _surface, start, end in located(text) if tag in keep]

    def __repr__(self) -> str:
        return f"JapaneseTokenizer(keep_pos={self.keep_pos!r})"


def raw_tokenize(text: str) -> str:
    """Run MeCab's analysis of ``text`` alone, with no normalisation or Python work (the benchmark floor)."""
    return _line_tagger().parse(text)
