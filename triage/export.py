"""Every CSV the project writes (corrections for training, claims for the claims desk): formula-safe and masked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from . import claims
from .claims import COLUMNS
from .redact import redact
from .results import claim_of
from .store import as_utc

if TYPE_CHECKING:
    from .store import Store

from .dataset import FORMULA_PREFIX, FORMULA_STARTS


def excel_safe(value: str) -> str:
    """Prefix a cell that Excel would run as a formula with an apostrophe."""
    return FORMULA_PREFIX + value if value.startswith(FORMULA_STARTS) else value


def safe_cell(value: object) -> str:
    """Return a cell as it may leave the service: personal data masked, then formula-safe."""
    return excel_safe(redact(str(value)))


def csv_text(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """Render a CSV whose every cell (header included) went through ``safe_cell``."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([safe_cell(c) for c in row])
    return buf.getvalue()


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
    rows = store.corrections(accepted_only=accepted_only)
    # Exports leave the service: every cell is masked, the agent's name too (it may be an e-mail address).
    data = csv_text(CORRECTION_HEADER, (
        [inquiry.text, correction.label, inquiry.label, str(inquiry.id), inquiry.source,
         as_utc(correction.created_at).isoformat(timespec="seconds"), correction.agent]
        for correction, inquiry in rows
    )).encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), len(rows)


CLAIM_HEADER = ["inquiry_id", "received_at", "source", "external_id", "route", "handled", *COLUMNS, "requests_ja", "text"]


def claims_csv(store: Store, since: datetime | None = None, bom: bool = False) -> tuple[bytes, int]:
    """Return (CSV bytes, rows): one row per compensation inquiry with its claim fields, masked and formula-safe."""
    rows = store.compensation_inquiries(since)

    def values(row: object) -> list[str]:
        claim = claim_of(row)
        received = as_utc(row.received_at).astimezone(claims.JST).isoformat(timespec="seconds")
        return [str(row.id), received, row.source, row.external_id or "", row.corrected_label or row.label,
                "true" if row.handled else "false", *claims.cells(claim).values(),
                claims.cells(claim, japanese=True)["requests"], row.text]

    data = csv_text(CLAIM_HEADER, (values(r) for r in rows)).encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), len(rows)
