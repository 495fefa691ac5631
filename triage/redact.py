"""Masking personal data in what leaves the service: logs, exports and, when configured, the stored text.

The rules (e-mail, Japanese phone numbers, Luhn-valid cards, My Number with a
valid check digit, postcodes) live in ``triage.pii``, shared with the feature
placeholders of ``triage.text``; this module renders each finding as ``[KIND]``.
"""

from __future__ import annotations

import logging

from .pii import Finding, find, luhn_ok, my_number_ok

__all__ = ["Finding", "RedactingFilter", "find", "install_record_factory", "luhn_ok", "my_number_ok", "redact"]


def redact(text: str) -> str:
    """Return the text with each piece of personal data replaced by [KIND]."""
    out = []
    pos = 0
    for f in find(text, cover=True):
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
