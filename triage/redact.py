"""Finding and masking personal data: e-mail, Japanese phone numbers, cards, My Number, postcodes.

Used for what leaves the service (logs, exports) and, when configured, for
the stored text. Card numbers count only when the Luhn check passes and My
Number only when its check digit does, so that order numbers survive.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

_D = r"[0-9]"
_SEP = r"[-‐‑–—―ー−\s]"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # Anchored where a local part can start, so that long runs of letters stay linear.
    ("EMAIL", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    # Card layouts: 13-19 digits in a row, 4-4-4-(1..7), or Amex 4-6-5.
    ("CARD", re.compile(
        r"(?<![0-9])(?:[0-9]{13,19}|[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{1,7}|[0-9]{4}([ -])[0-9]{6}\2[0-9]{5})(?![0-9])"
    )),
    # Not a tail or head of a longer group of numbers (a card that failed Luhn).
    ("MYNUMBER", re.compile(rf"(?<![0-9])(?<![0-9][ -]){_D}{{4}}{_SEP}?{_D}{{4}}{_SEP}?{_D}{{4}}(?![0-9])(?![ -][0-9])")),
    ("PHONE", re.compile(
        rf"(?<![0-9+])(?:\+81{_SEP}?\(?0?\)?{_D}{{1,4}}|\(?0{_D}{{1,4}}\)?){_SEP}?\(?{_D}{{1,4}}\)?{_SEP}?{_D}{{3,4}}(?![0-9])"
    )),
    ("POSTCODE", re.compile(rf"〒\s?{_D}{{3}}{_SEP}?{_D}{{4}}(?![0-9])|(?<![0-9]){_D}{{3}}-{_D}{{4}}(?![0-9-])")),
]


@dataclass(frozen=True)
class Finding:
    """One piece of personal data found in a text."""

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


def _shadow(text: str) -> str:
    """Map full-width digits and symbols to ASCII, keeping every index in place."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def find(text: str) -> list[Finding]:
    """Return the personal data in a text, without overlaps, in order."""
    shadow = _shadow(text)
    taken = [False] * len(text)
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(shadow):
            if any(taken[m.start() : m.end()]):
                continue
            digits = re.sub(r"[^0-9]", "", m.group())
            if kind == "CARD" and not (13 <= len(digits) <= 19 and luhn_ok(digits)):
                continue
            if kind == "MYNUMBER" and not my_number_ok(digits):
                continue
            if kind == "PHONE":
                n = len(digits) - (2 if m.group().lstrip("(").startswith("+81") else 0)
                if not 9 <= n <= 11:
                    continue
            found.append(Finding(kind, m.start(), m.end()))
            for i in range(m.start(), m.end()):
                taken[i] = True
    return sorted(found, key=lambda f: f.start)


def redact(text: str) -> str:
    """Return the text with each piece of personal data replaced by [KIND]."""
    out = []
    pos = 0
    for f in find(text):
        out.append(text[pos : f.start])
        out.append(f"[{f.kind}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


class RedactingFilter(logging.Filter):
    """A logging filter that masks personal data in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked, and drop the arguments."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not stop logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_record_factory() -> None:
    """Mask personal data when any log record is created, for every handler (idempotent)."""
    old = logging.getLogRecordFactory()
    if getattr(old, "_triage_redacts", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old(*args, **kwargs)
        RedactingFilter().filter(record)
        return record

    factory._triage_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
