"""One rule set for personal data: masking covers every span the features replace, for every separator and width."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage import pii
from triage.redact import find, redact
from triage.text import PLACEHOLDERS, normalize_with_offsets

# Every separator people and input methods put between digit groups, one at a time.
SEPARATORS = [" ", "\u3000", "\u00a0", "\t", *pii.DASHES, " - ", "ー ", "\u3000\u3000"]
DASHES = list(pii.DASHES)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
FILLERS = ["お問い合わせの件、", "です。", "電話は", "カード番号は", "「", "」", "マイナンバー：", "宛先 ", "\n", "住所は"]


def _digits(draw: st.DrawFn, n: int) -> str:
    return "".join(draw(st.sampled_from("0123456789")) for _ in range(n))


def _width(draw: st.DrawFn, text: str) -> str:
    mode = draw(st.sampled_from(["ascii", "full", "mixed"]))
    if mode == "ascii":
        return text
    if mode == "full":
        return text.translate(FULL_WIDTH)
    return "".join(c.translate(FULL_WIDTH) if draw(st.booleans()) else c for c in text)


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(digits[pos : pos + size])
        pos += size
    return sep.join(out)


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if pii.luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


def _my_number_complete(body: str) -> str:
    for check in "0123456789":
        if pii.my_number_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


@st.composite
def card(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    digits = _luhn_complete(draw(st.sampled_from("3456")) + _digits(draw, length - 2))
    layouts = [[4, 4, 4, length - 12], [length]]
    if length == 15:
        layouts.append([4, 6, 5])
    if length == 14:
        layouts.append([4, 6, 4])
    return _group(digits, draw(st.sampled_from(layouts)), draw(st.sampled_from(SEPARATORS)))


@st.composite
def my_number(draw: st.DrawFn) -> str:
    digits = _my_number_complete(_digits(draw, 11))
    return _group(digits, draw(st.sampled_from([[4, 4, 4], [12]])), draw(st.sampled_from(SEPARATORS)))


@st.composite
def phone(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(SEPARATORS))
    kind = draw(st.sampled_from(["mobile", "tokyo", "city", "town", "free", "intl", "paren"]))
    if kind == "mobile":
        return _group("0" + draw(st.sampled_from("789")) + "0" + _digits(draw, 8), [3, 4, 4], sep)
    if kind == "tokyo":
        return _group("03" + _digits(draw, 8), [2, 4, 4], sep)
    if kind == "city":
        return _group("0" + _digits(draw, 9), [3, 3, 4], sep)
    if kind == "town":
        return _group("0" + _digits(draw, 9), [4, 2, 4], sep)
    if kind == "free":
        return _group("0120" + _digits(draw, 6), [4, 3, 3], sep)
    if kind == "paren":
        return "(03)" + _group(_digits(draw, 8), [4, 4], sep)
    return "+81" + sep + _group(draw(st.sampled_from("789")) + "0" + _digits(draw, 8), [2, 4, 4], sep)


@st.composite
def postcode(draw: st.DrawFn) -> str:
    digits = _digits(draw, 7)
    if draw(st.booleans()):
        return "〒" + draw(st.sampled_from(["", " ", "\u3000"])) + _group(digits, [3, 4], draw(st.sampled_from(SEPARATORS)))
    return _group(digits, [3, 4], draw(st.sampled_from(DASHES)))


@st.composite
def email(draw: st.DrawFn) -> str:
    word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789", min_size=1, max_size=8)
    local = draw(word) + draw(st.sampled_from(["", ".", "_", "+", "-"])) + draw(word)
    text = f"{local}@{draw(word)}.{draw(st.sampled_from(['jp', 'co.jp', 'com', 'ne.jp']))}"
    # Full-width letters and ＠ are what a Japanese input method leaves in.
    if draw(st.booleans()):
        text = text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    return text


KINDS = {"CARD": card(), "MYNUMBER": my_number(), "PHONE": phone(), "POSTCODE": postcode(), "EMAIL": email()}


@st.composite
def text_with_numbers(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int]]]:
    """A text of fillers and personal numbers; returns it with (kind, start, end) of each number."""
    parts = [draw(st.sampled_from(FILLERS))]
    spans = []
    pos = len(parts[0])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(sorted(KINDS)))
        number = draw(KINDS[kind])
        if kind != "EMAIL":
            number = _width(draw, number)
        spans.append((kind, pos, pos + len(number)))
        filler = draw(st.sampled_from(FILLERS))
        parts += [number, filler]
        pos += len(number) + len(filler)
    return "".join(parts), spans


def _masked(text: str) -> list[tuple[int, int]]:
    return [(f.start, f.end) for f in find(text, cover=True)]


def _covered(span: tuple[int, int], masked: list[tuple[int, int]]) -> bool:
    start, end = span
    return all(any(a <= i < b for a, b in masked) for i in range(start, end))


PERSONAL_WORDS = {PLACEHOLDERS[k] for k in pii.PERSONAL}


def _feature_spans(text: str) -> list[tuple[str, int, int]]:
    """Where the feature side put a personal-data placeholder, as spans of the original text."""
    normalized, offsets = normalize_with_offsets(text)
    spans = []
    for word in PERSONAL_WORDS:
        needle = f" {word} "
        i = normalized.find(needle)
        while i >= 0:
            j = i + len(needle)
            end = offsets[j] if j < len(normalized) else len(text)
            spans.append((word, offsets[i], end))
            i = normalized.find(needle, j)
    return spans


@settings(max_examples=400, deadline=None)
@given(text_with_numbers())
def test_every_number_kind_with_every_separator_and_width_is_masked_and_a_placeholder(sample) -> None:
    text, spans = sample
    masked = _masked(text)
    for kind, start, end in spans:
        assert _covered((start, end), masked), (kind, text[start:end], redact(text))
        assert text[start:end] not in redact(text)
    # The feature side replaced each number with a personal-data placeholder (which one may differ where two
    # rules overlap: a Diners card whose middle group is a valid phone number).
    placed = _feature_spans(text)
    for kind, start, end in spans:
        assert any(start <= s < end for _, s, _ in placed), (kind, text[start:end], normalize_with_offsets(text)[0])


# Digits of every width, every separator, and characters whose NFKC form is longer than one character.
_ALPHABET = "0123456789０１２３４５６７８９+＋()（）〒@＠.abcXYZ*①⑴㈱ﷺ" + pii.DASHES + " \u3000\u00a0\n"


@settings(max_examples=400, deadline=None)
@given(st.one_of(text_with_numbers().map(lambda s: s[0]), st.text(alphabet=_ALPHABET, max_size=80)))
def test_masking_covers_every_span_the_features_replace(text: str) -> None:
    masked = _masked(text)
    for word, start, end in _feature_spans(text):
        assert _covered((start, end), masked), (word, text[start:end], text, redact(text))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("5555ー5555ー5555ー4444", "CARD"),
        ("5555‐5555‐5555‐4444", "CARD"),
        ("5555－5555－5555－4444", "CARD"),
        ("５５５５－５５５５－５５５５－４４４４", "CARD"),
        ("4111‒1111‒1111‒1111", "CARD"),  # U+2012, issue 11
        ("3782 822463 10005", "CARD"),  # Amex 4-6-5
        ("0120‒000‒000", "PHONE"),
        ("０９０ー１２３４ー５６７８", "PHONE"),
        ("+81 (0)90-1234-5678", "PHONE"),
        ("1234ー5678ー9018", "MYNUMBER"),
        ("〒150ー0001", "POSTCODE"),
        ("150－0001", "POSTCODE"),
    ],
)
def test_japanese_separators_are_masked(text: str, kind: str) -> None:
    assert [f.kind for f in find(f"番号は{text}です")] == [kind]
    assert redact(f"番号は{text}です") == f"番号は[{kind}]です"


@pytest.mark.parametrize("text", ["4111 1111 1111 1112", "1234 5678 9012", "注文番号 A-20261103-0042", "123 4567",
                                  "3万円", "2026年11月20日", "model 20261202-022327-84e5c2bc"])
def test_numbers_that_are_not_personal_data_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("text", "kind"), [
    ("www.example.com を見て", "URL"),  # no ":" at all: a rule is skipped only without "." and ":"
    ("ＷＷＷ．ｅｘａｍｐｌｅ．ｃｏｍ を見て", "URL"),
    ("https://example.com", "URL"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ まで", "EMAIL"),
    ("会員番号ＡＢ１２３４５です", "IDNUM"),
    ("カード ****　１２３４ です", "MASKED_CARD"),
    ("電話 ０９０１２３４５６７８", "PHONE"),
])
def test_a_rule_skipped_for_want_of_a_character_is_skipped_only_when_the_folded_text_lacks_it(text: str,
                                                                                               kind: str) -> None:
    assert [f.kind for f in pii.find(text, (kind,))] == [kind]


def _every_kind(text: str, kinds: tuple[str, ...] = (*pii.PERSONAL, *pii.FEATURE_ONLY), cover: bool = False
                ) -> list[pii.Finding]:
    """``pii.find`` with every kind scanned from the start, whatever the text holds (before ``_possible``, ``_LEAD``)."""
    saved = pii._possible, pii._LEAD, pii._STOP
    pii._possible, pii._LEAD, pii._STOP = (lambda folded: frozenset(kinds)), {}, {}
    pii._LAST = ("", "", frozenset())
    try:
        return pii.find(text, kinds, cover)
    finally:
        pii._possible, pii._LEAD, pii._STOP = saved
        pii._LAST = ("", "", frozenset())


_NEAR_MISSES = ["ab12cd-34", "x-1_y", "ıd-12345", "ſ1-2", "K12-3", "A-20261103-0042", "12345-6-", "注文AB1234", "12月3日", "3万円", "2026年11月20日", "10:00", "a1", "ab-1", "x_12", "1234", "12345", "***", "****",
                "(03)", "+81", "〒", "www", "WwW.", "http", "://", "@", "ı1", "K9", "ſ2", "ｗｗｗ．", "：／／"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(text_with_numbers().map(lambda s: s[0]), st.sampled_from(_NEAR_MISSES + FILLERS),
                          st.text(alphabet=_ALPHABET, max_size=20)), max_size=5).map("".join),
       st.booleans())
def test_skipping_what_a_text_cannot_hold_finds_what_scanning_every_kind_from_the_start_finds(text: str, cover: bool) -> None:
    for kinds in (pii.PERSONAL, pii.FEATURE_ONLY):
        pii._LAST = ("", "", frozenset())
        assert pii.find(text, kinds, cover) == _every_kind(text, kinds, cover), text


def test_skipping_on_every_training_row_finds_what_scanning_every_kind_from_the_start_finds() -> None:
    from triage import dataset

    from .conftest import DATA

    for row in dataset.read(DATA / "inquiries.csv").rows[::3]:
        for text in (row.text, row.text.lower(), unicodedata.normalize("NFKC", row.text).lower()):
            for kinds in (pii.PERSONAL, pii.FEATURE_ONLY):
                pii._LAST = ("", "", frozenset())
                assert pii.find(text, kinds, True) == _every_kind(text, kinds, True), text


def _every_character() -> str:
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_a_character_of_a_normalized_text_is_its_own_fold() -> None:
    # shadow() returns a normalized text as it is: every character it would change cannot occur in one.
    changed = [c for c in _every_character() if unicodedata.decomposition(c) and pii.shadow(c + "!") != c + "!"]
    assert changed, "the fold changes no character"
    assert not [c for c in changed if unicodedata.is_normalized("NFKC", c) or unicodedata.is_normalized("NFKC", "a" + c)]
    text = "ﾃｽﾄ（全角）①㈱ＡＢＣ"
    assert pii.shadow(text) == text.translate(pii._FOLD) != text


def test_the_characters_the_url_check_looks_for_match_only_themselves_in_any_case() -> None:
    # _possible looks for "://" as it is and "www." in the lower-cased text: re's IGNORECASE must not
    # match those characters to anything else (as it matches k to the Kelvin sign).
    assert sorted(re.findall("[w:/.]", _every_character(), re.IGNORECASE)) == [".", "/", ":", "W", "w"]
    assert "W".lower() == "w"


def test_the_idnum_scan_stops_only_at_characters_no_idnum_holds() -> None:
    # Its stop class must be the exact complement of what IDNUM's classes match without regard to case
    # (re folds ı, ſ, K and İ into a-z).
    every = _every_character()
    inside = re.findall("[0-9a-z_-]", every, re.IGNORECASE)
    assert len(inside) + len(pii._STOP["IDNUM"].findall(every)) == len(every)
    assert not set(inside) & set(pii._STOP["IDNUM"].findall(every))
