"""What `triage evaluate` and `triage evaluate-claims` compute and print: pure functions, no click."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import dataset
from .dataset import DatasetError, Table

if TYPE_CHECKING:
    from .faq import KnowledgeBase
    from .registry import LoadedModel


def evaluate(loaded: LoadedModel, table: Table, by_column: str | None = None,
             kb: KnowledgeBase | None = None) -> dict[str, Any]:
    """Return the metrics of the model on a labelled table, per value of ``by_column`` too, and FAQ hit rates."""
    from .model import calibration_error, confident_errors, metrics

    texts = [r.text for r in table.rows]
    labels = [r.label or "" for r in table.rows]
    predictions = loaded.router.predict_many(texts)
    predicted = [p.label for p in predictions]
    report: dict[str, Any] = metrics(labels, predicted)
    report["model_version"] = loaded.version
    report["needs_review_rate"] = sum(p.needs_review for p in predictions) / len(predictions)
    report["calibration_error"] = calibration_error(labels, predictions)
    report["confident_errors"] = confident_errors(texts, labels, predictions)
    if by_column:
        if by_column not in table.header:
            raise DatasetError(f"{table.path}: no column {by_column!r} (found: {', '.join(table.header)}).")
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(table.rows):
            groups.setdefault(row.extra.get(by_column, ""), []).append(i)
        report["by"] = {
            by_column: {
                key: {k: v for k, v in metrics([labels[i] for i in idx], [predicted[i] for i in idx]).items()
                      if k in ("n", "accuracy", "macro_f1", "per_class")}
                for key, idx in sorted(groups.items())
            }
        }
    if kb is not None and "faq_id" in table.header:
        from .faq import hit_rates

        report["faq"] = hit_rates(kb, table.rows)
    return report


def format_evaluation(report: dict[str, Any], csv_file: str) -> str:
    """Render an evaluation as `triage evaluate` prints it (the metrics table, FAQ hits, the groups)."""
    from .lifecycle import format_report

    parts = [f"Model {report['model_version']} on {csv_file}:\n\n", format_report(report), "\n"]
    if "faq" in report:
        f = report["faq"]
        parts.append(f"FAQ suggestions (FAQ version {f['version']}) on {f['n']} faq rows: "
                     f"top-1 {f['top1']:.3f}, top-3 {f['top3']:.3f}\n\n")
    for by_column, groups in report.get("by", {}).items():
        parts.append(f"by {by_column}:\n")
        for key, m in groups.items():
            parts.append(f"  {key or '(empty)':<16} n={m['n']:<5} macro-F1 {m['macro_f1']:.3f}  "
                         f"escalation recall {m['per_class']['escalation']['recall']:.3f}\n")
    return "".join(parts)


# -- claims extraction -------------------------------------------------------------


@dataclass(frozen=True)
class ClaimCase:
    """One row of a claims evaluation CSV: where it is, the text, when it arrived, the claim expected."""

    line: int
    text: str
    arrival: datetime | None
    expected: dict[str, Any]


def read_claim_cases(csv_file: str) -> list[ClaimCase]:
    """Read text,received_at,expected rows, or raise DatasetError naming each bad line."""
    from .claims import FIELDS

    try:
        data = Path(csv_file).read_bytes()
    except OSError as exc:
        raise DatasetError(f"{csv_file}: cannot read ({exc.strerror}).") from None
    content, _ = dataset.decode(data, csv_file)
    reader = csv.DictReader(io.StringIO(content, newline=""))
    missing = [c for c in ("text", "expected") if c not in (reader.fieldnames or [])]
    if missing:
        raise DatasetError(f"{csv_file}: the header has no {' and no '.join(map(repr, missing))} column; "
                           "expected text,received_at,expected.")
    cases, errors, line = [], [], 2
    for record in reader:
        start, line = line, reader.line_num + 1
        try:
            expected = json.loads(record["expected"] or "{}")
            if not isinstance(expected, dict) or any(not isinstance(expected.get(f, []), list) for f in FIELDS):
                raise ValueError("not an object of lists")
        except ValueError as exc:
            errors.append(f"line {start}: 'expected' is not JSON with lists {', '.join(FIELDS)} ({exc})")
            continue
        stamp = (record.get("received_at") or "").strip()
        try:
            arrival = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace("/", "-")) if stamp else None
        except ValueError:
            errors.append(f"line {start}: received_at {stamp!r} is not a date and time (use 2026-12-02T10:00:00+09:00)")
            continue
        cases.append(ClaimCase(start, record["text"] or "", arrival, expected))
    if errors:
        raise DatasetError(f"{csv_file}: {len(errors)} bad row(s):\n  " + "\n  ".join(errors[:20]))
    if not cases:
        raise DatasetError(f"{csv_file}: the file has a header but no rows.")
    return cases


def evaluate_claims(cases: list[ClaimCase], csv_file: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return precision and recall per claim field over the cases, and the claim extracted from each."""
    from .claims import extract, score

    predicted = [extract(c.text, c.arrival) for c in cases]
    report = score([(p, c.expected) for p, c in zip(predicted, cases, strict=True)])
    report["csv"] = csv_file
    return report, predicted


def claim_misses_csv(cases: list[ClaimCase], predicted: list[dict[str, Any]]) -> bytes:
    """Return the line number and the differing items of every case not extracted exactly (no text), as CSV."""
    from .claims import differences

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["line", "field", "extra", "missed"])
    for p, c in zip(predicted, cases, strict=True):
        for field, diff in differences(p, c.expected).items():
            w.writerow([c.line, field, " | ".join(diff["extra"]), " | ".join(diff["missed"])])
    return buf.getvalue().encode("utf-8")


def format_claims(report: dict[str, Any]) -> str:
    """Render a claims evaluation as `triage evaluate-claims` prints it."""
    lines = [f"Claims extraction on {report['csv']} (n = {report['n']} inquiries), counted per extracted item:\n",
             f"  {'field':<12}{'precision':>10}{'recall':>8}{'F1':>7}{'tp':>6}{'fp':>5}{'fn':>5}"
             f"{'exact rows':>12}   bar"]
    for field, f in report["fields"].items():
        verdict = "ok" if f["meets_bar"] else "BELOW"
        lines.append(f"  {field:<12}{f['precision']:>10.3f}{f['recall']:>8.3f}{f['f1']:>7.3f}{f['tp']:>6}{f['fp']:>5}"
                     f"{f['fn']:>5}{f['rows_exact']:>7}/{report['n']:<4}  {f['bar']:.2f} {verdict}")
    lines.append("\nA derived product (440円×2 -> 880円) counts when expected and never against.")
    return "\n".join(lines) + "\n"
