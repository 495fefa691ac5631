"""Every rule for finding personal data and reference numbers in a text, in one place.

Two renderers use these rules: ``triage.redact`` masks what leaves the service
(logs, exports, stored text) as ``[KIND]``, and ``triage.text`` replaces the
same spans with placeholder words before features are made. Both call
``find`` here, so a number the model never sees as digits is also a number no
log line shows.

Rules:

- One separator class, ``SEPARATOR``, between the digit groups of every
  number kind: whitespace within a line, of any width (also U+3000), and every
  dash people or input methods type (ASCII, U+2010-2015, minus U+2212,
  katakana ー, full- and half-width forms); a line break ends a number. A bare postcode (no 〒) takes only the dashes of that
  class: "123 4567" is too often two unrelated numbers.
- Digits may be ASCII, full width or any character whose NFKC form is one
  ASCII digit; matching runs on a same-length "shadow" of the text in which each
  such character is replaced by its NFKC form, so spans index the original.
- Card numbers count only when the Luhn check passes, My Number only with a
  valid check digit, phone numbers only with 9-11 national digits: order
  numbers survive masking.
- Personal kinds (``PERSONAL``) are found first; the feature-only kinds (URLs,
  already-masked cards, order and member numbers) only where nothing personal
  was found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .native import digit_runs

DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u30fc\ufe58\ufe63\uff0d\uff70"
# Whitespace within a line (also U+3000 and no-break spaces): a line break ends a number.
_HSPACE = "[^\\S\\n\\r\\x0b\\x0c\\x1c-\\x1e\\x85\\u2028\\u2029]"
# The one separator class: a run of one to three of these between digit groups.
SEPARATOR = rf"(?:[{re.escape(DASHES)}]|{_HSPACE})"
_S = rf"{SEPARATOR}{{0,3}}"  # optional separator
_S1 = rf"{SEPARATOR}{{1,3}}"  # required separator
_DASH1 = rf"[{re.escape(DASHES)}]{{1,3}}"
_D = "[0-9]"
# Not the tail or head of a longer group of numbers (lookbehinds need fixed widths).
_NOT_AFTER_GROUP = "".join(rf"(?<![0-9]{SEPARATOR * n})" for n in (1, 2, 3))
_NOT_BEFORE_GROUP = rf"(?!{SEPARATOR}{{1,3}}[0-9])"

# Priority order: phone numbers always start with 0 or +81, card numbers never with 0.
PERSONAL = ("EMAIL", "PHONE", "CARD", "MYNUMBER", "POSTCODE")
FEATURE_ONLY = ("URL", "MASKED_CARD", "IDNUM")

_PATTERNS: dict[str, re.Pattern[str]] = {
    # Anchored where a local part can start, so that long runs of letters stay linear.
    "EMAIL": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    # 13-19 digits: groups of four (4-4-4-1..7, also contiguous) or Amex/Diners 4-6-4/5. Card
    # numbers never start with 0 (phone numbers always do: two phone numbers in a row are not a card).
    # Written in one run or with a separator at every group boundary: "20261202-022327" (a date and a
    # time, a version name) is no card.
    "CARD": re.compile(
        rf"(?<![0-9])(?!0)(?:{_D}{{13,19}}|{_D}{{4}}(?:{_S1}{_D}{{4}}){{2}}{_S1}{_D}{{1,7}}"
        rf"|{_D}{{4}}{_S1}{_D}{{6}}{_S1}{_D}{{4,5}})(?![0-9])"
    ),
    "MYNUMBER": re.compile(
        rf"(?<![0-9]){_NOT_AFTER_GROUP}(?:{_D}{{12}}|{_D}{{4}}{_S1}{_D}{{4}}{_S1}{_D}{{4}})(?![0-9]){_NOT_BEFORE_GROUP}"
    ),
    # +81 forms and 0-prefixed national forms, with optional parentheses around the area code.
    "PHONE": re.compile(
        rf"(?<![0-9+])(?:\+81{_S}\(?0?\)?{_D}{{1,4}}|\(?0{_D}{{1,4}}\)?){_S}\(?{_D}{{1,4}}\)?{_S}{_D}{{3,4}}(?![0-9])"
    ),
    "POSTCODE": re.compile(
        rf"〒{_S}{_D}{{3}}{_S}{_D}{{4}}(?![0-9])|(?<![0-9]){_D}{{3}}{_DASH1}{_D}{{4}}(?![0-9]){_NOT_BEFORE_GROUP}"
    ),
    "URL": re.compile(r"(?:https?://|www\.)[^\s<>\"'、。「」（）()]+", re.IGNORECASE),
    "MASKED_CARD": re.compile(rf"\*{{4}}(?:{_S}\*{{4}}){{0,2}}{_S}{_D}{{4}}(?![0-9])"),
    # Order, member and ticket numbers: letters with digits, or long digit runs.
    "IDNUM": re.compile(
        r"(?<![0-9a-z])[a-z]{1,5}[-_]?[0-9][0-9a-z]*(?:[-_][0-9a-z]+)+"
        r"|(?<![0-9a-z])[a-z]{1,5}[0-9]{4,}[0-9a-z]*|[0-9]{5,}(?:-[0-9]+)*",
        re.IGNORECASE,
    ),
}


# A text skips the scan of a kind it cannot hold (``_possible``): each scan costs 1-13 µs, lookbehinds
# at every place, and most inquiries hold no digit or only a date or an amount ("12月3日", "3万円").
# The fewest ASCII digits, and the longest run of them, that a finding of each kind holds (what its
# pattern and its check in ``_valid`` ask for); within a finding, a digit follows the one before after
# at most _NUMBER_GAP other characters ("+81 (0)", ") - (").
_NUMBER_GAP = 5
_MIN_DIGITS = {"EMAIL": (0, 0), "URL": (0, 0), "PHONE": (9, 3), "CARD": (13, 4), "MYNUMBER": (12, 4),
               "POSTCODE": (7, 4), "MASKED_CARD": (4, 4), "IDNUM": (1, 1)}
# The most characters a match of a kind can start before its first ASCII digit ("+8", "〒 - ", "ab-1",
# "****-****-****-1"); the kinds not listed need no digit.
_LEAD = {"PHONE": 1, "CARD": 0, "MYNUMBER": 0, "POSTCODE": 4, "MASKED_CARD": 21, "IDNUM": 6}
_DIGIT = re.compile("[0-9]")
# A character no match of a kind holds: a scan that would start before the next digit ends at the first
# one after it. Numbers hold digits, separators, ( ) + 〒 *; their lookaheads, at the end of such a scan,
# see what they see at a stop (no digit, no separator). IDNUM holds letters, digits, - and _ (IGNORECASE,
# as its pattern) and looks ahead at nothing.
_NUMBER_STOP = re.compile(rf"[^0-9\s()+〒*{re.escape(DASHES)}]")
_STOP = {"PHONE": _NUMBER_STOP, "CARD": _NUMBER_STOP, "MYNUMBER": _NUMBER_STOP, "POSTCODE": _NUMBER_STOP,
         "MASKED_CARD": _NUMBER_STOP, "IDNUM": re.compile("[^0-9a-z_-]", re.IGNORECASE)}
# An IDNUM whose digits run shorter than five has a letter, maybe - or _, then a digit (its first two
# alternatives); a URL holds :// or www. in any case (``re`` matches w to nothing but w and W without
# regard to case, and : / . to themselves: a test checks every code point).
_IDNUM_SHORT_RUN = re.compile(r"[a-z][-_]?[0-9]", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One piece of personal data (or a reference number) found in a text."""

    kind: str
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    """Return True if the digits pass the Luhn check (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def my_number_ok(digits: str) -> bool:
    """Return True if 12 digits carry a valid My Number check digit."""
    if len(digits) != 12:
        return False
    body = [int(c) for c in digits[:11]]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


class _Fold(dict[int, str]):
    """A str.translate table built on demand: each character to its NFKC form when that is one character."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch)
        value = self[code] = folded if len(folded) == 1 else ch
        return value


_FOLD = _Fold()


def shadow(text: str) -> str:
    """Map each character whose NFKC form is one character to that form, keeping every index in place."""
    # A character of an NFKC-normalized text is its own NFKC form (a test checks every code point), and
    # normalisation hands over such texts: the check costs under a microsecond, the translation 14.
    if unicodedata.is_normalized("NFKC", text):
        return text
    return text.translate(_FOLD)


# The last text ``find`` folded, its shadow and the kinds it may hold: normalisation looks for personal
# data, then (most often in the very same string) for reference numbers.
_LAST: tuple[str, str, frozenset[str]] = ("", "", frozenset())


def _shadow_of(text: str) -> tuple[str, frozenset[str]]:
    """Return ``shadow(text)`` and the kinds it may hold (``_possible``), remembered once."""
    global _LAST
    last = _LAST  # one read: another thread may replace it, never change it
    if last[0] is text:
        return last[1], last[2]
    folded = shadow(text)
    possible = _possible(folded)
    _LAST = (text, folded, possible)
    return folded, possible


def _possible(folded: str) -> frozenset[str]:
    """Return the kinds a text may hold: none with too few digits, an e-mail address needs @, a URL :// or www."""
    _, run, count = digit_runs(folded, _NUMBER_GAP)
    out = {k for k, (least, least_run) in _MIN_DIGITS.items() if count >= least and run >= least_run}
    if "@" not in folded:
        out.discard("EMAIL")
    if "://" not in folded and ("." not in folded or "www." not in folded.lower()):  # a regex costs 14 µs here
        out.discard("URL")
    if "MASKED_CARD" in out and "*" not in folded:
        out.discard("MASKED_CARD")
    if "IDNUM" in out and run < 5 and _IDNUM_SHORT_RUN.search(folded) is None:
        out.discard("IDNUM")
    return frozenset(out)


def _valid(kind: str, matched: str) -> bool:
    if kind not in ("CARD", "MYNUMBER", "PHONE"):
        return True
    digits = re.sub("[^0-9]", "", matched)
    if kind == "CARD":
        return 13 <= len(digits) <= 19 and luhn_ok(digits)
    if kind == "MYNUMBER":
        return my_number_ok(digits)
    national = len(digits) - (2 if matched.lstrip("(").startswith("+81") else 0)
    return 9 <= national <= 11


def _candidates(kind: str, folded: str) -> list[tuple[int, int]]:
    """Every valid match of a kind; after a match that fails its check, the next one may start inside it.

    Only the checked kinds (cards, My Number, phones) can fail, and their
    matches are short: the scan stays linear in the length of the text.
    """
    pattern = _PATTERNS[kind]
    lead = _LEAD.get(kind)
    stop = _STOP.get(kind)
    out = []
    pos = 0
    while True:
        end = len(folded)
        if lead is not None:
            # No match starts more than ``lead`` characters before a digit: the scan starts there (a
            # lookbehind still sees the text before it), not at every place of a long e-mail before it.
            digit = _DIGIT.search(folded, pos)
            if digit is None:
                break
            pos = max(pos, digit.start() - lead)
            if stop is not None and (after := stop.search(folded, digit.start())) is not None:
                end = after.start()  # a match that starts before the digit holds it, and none crosses a stop
        if (m := pattern.search(folded, pos, end)) is None:
            if end == len(folded):
                break
            pos = end
            continue
        if m.end() > m.start() and _valid(kind, m.group()):
            out.append(m.span())
            pos = m.end()
        else:
            pos = m.start() + 1
    return out


def find(text: str, kinds: Iterable[str] = PERSONAL, cover: bool = False) -> list[Finding]:
    """Return the findings of ``kinds`` in a text, in order, without overlaps (earlier kinds win).

    With ``cover`` (masking), the parts of valid matches that lost to an
    overlapping finding are returned too, as findings of their own kind: what
    any rule calls personal data is masked, even where two rules disagree on
    where one number ends (two phone numbers on adjacent lines, a card whose
    middle group looks like a phone number).
    """
    folded, possible = _shadow_of(text)
    kinds = tuple(kinds)
    if possible.isdisjoint(kinds):  # most texts: no digit, no @, no URL
        return []
    taken = bytearray(len(text))
    found: list[Finding] = []
    losers: list[tuple[str, int, int]] = []
    for kind in kinds:
        if kind not in possible:
            continue
        for start, end in _candidates(kind, folded):
            if any(taken[start:end]):
                losers.append((kind, start, end))
                continue
            found.append(Finding(kind, start, end))
            taken[start:end] = b"\x01" * (end - start)
    if cover:
        for kind, start, end in losers:
            i = start
            while i < end:
                if taken[i]:
                    i += 1
                    continue
                j = i
                while j < end and not taken[j]:
                    j += 1
                # A bare separator between two findings is not personal data.
                if any(c.isalnum() for c in folded[i:j]):
                    found.append(Finding(kind, i, j))
                    taken[i:j] = b"\x01" * (j - i)
                i = j
    return sorted(found, key=lambda f: f.start)


def render(text: str, replace: Callable[[Finding], str], kinds: Iterable[str] = PERSONAL) -> str:
    """Return the text with each finding replaced by ``replace(finding)``."""
    found = find(text, kinds)
    if not found:  # most texts
        return text
    out = []
    pos = 0
    for f in found:
        out.append(text[pos : f.start])
        out.append(replace(f))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
