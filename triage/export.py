"""Agent corrections as a training CSV that is safe to open in Excel."""

from __future__ import annotations

import csv
import io

from .redact import redact
from .store import Store

# Excel treats a cell starting with these as a formula (CSV injection);
# full-width forms too, since Excel in Japan converts them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def excel_safe(value: str) -> str:
    """Prefix a cell that Excel would run as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def corrections_csv(store: Store, bom: bool = False) -> tuple[bytes, int]:
    """Return (CSV bytes, rows): text,label,source,corrected_at,agent of each latest correction."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["text", "label", "source", "corrected_at", "agent"])
    rows = store.corrections()
    for correction, inquiry in rows:
        # Exports leave the service: personal data is masked on the way out.
        w.writerow([excel_safe(redact(inquiry.text)), correction.label, inquiry.source,
                    correction.created_at.isoformat(timespec="seconds"), excel_safe(correction.agent)])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), len(rows)
