"""Exports that leave the service: agent corrections as training CSV, claims for the claims desk's sheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from . import claims
from .claims import COLUMNS
from .intake import as_utc, claim_of
from .redact import redact
from .store import Store

from .dataset import FORMULA_PREFIX, FORMULA_STARTS


def excel_safe(value: str) -> str:
    """Prefix a cell that Excel would run as a formula with an apostrophe."""
    return FORMULA_PREFIX + value if value.startswith(FORMULA_STARTS) else value


CORRECTION_HEADER = ["text", "label", "original_label", "inquiry_id", "source", "corrected_at", "agent"]


def corrections_filename(now: datetime | None = None) -> str:
    """Return the download name of a corrections export, dated in Japan time (corrections-2026-12-02.csv)."""
    return f"corrections-{(now or datetime.now(claims.JST)).astimezone(claims.JST):%Y-%m-%d}.csv"


def corrections_csv(store: Store, bom: bool = False, accepted_only: bool = False) -> tuple[bytes, int]:
    """Return (CSV bytes, rows): each inquiry's latest correction with the model's original label and the inquiry id.

    `triage train` reads the file as it is (text, label; the other columns are
    ignored), and strips the apostrophe that keeps Excel from running a cell.
    With ``accepted_only`` only corrections an admin accepted are written.
    """
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(CORRECTION_HEADER)
    rows = store.corrections(accepted_only=accepted_only)
    for correction, inquiry in rows:
        # Exports leave the service: personal data is masked on the way out.
        w.writerow([excel_safe(redact(inquiry.text)), correction.label, inquiry.label, str(inquiry.id),
                    inquiry.source, as_utc(correction.created_at).isoformat(timespec="seconds"),
                    excel_safe(correction.agent)])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), len(rows)


CLAIM_HEADER = ["inquiry_id", "received_at", "source", "external_id", "route", "handled", *COLUMNS, "requests_ja", "text"]


def claims_csv(store: Store, since: datetime | None = None, bom: bool = False) -> tuple[bytes, int]:
    """Return (CSV bytes, rows): one row per compensation inquiry with its claim fields, masked and formula-safe."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(CLAIM_HEADER)
    rows = store.compensation_inquiries(since)
    for row in rows:
        claim = claim_of(row)
        cells = claims.cells(claim)
        received = as_utc(row.received_at).astimezone(claims.JST).isoformat(timespec="seconds")
        values = [str(row.id), received, row.source, row.external_id or "", row.corrected_label or row.label,
                  "true" if row.handled else "false", *cells.values(), claims.cells(claim, japanese=True)["requests"],
                  row.text]
        # Exports leave the service: personal data masked, no cell that Excel would run as a formula.
        w.writerow([excel_safe(redact(v)) for v in values])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), len(rows)
