"""Reading and validating labelled CSV files (the training and evaluation format)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABELS = ("faq", "compensation", "escalation")
LABELS_JA = {"faq": "FAQ回答可", "compensation": "補償請求", "escalation": "エスカレーション"}
# Excel treats a cell starting with these as a formula (CSV injection); full-width
# forms too, since Excel in Japan converts them. Exports prefix such a cell with an
# apostrophe, and reading strips it again, so an export trains on the text itself.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
FORMULA_PREFIX = "'"
# Ops write the labels as the page shows them: the Japanese names are accepted as they are,
# and the short forms people type are accepted with a hint (they are easy to mistype).
LABEL_ALIASES = {"faq回答可": "faq", "補償請求": "compensation", "エスカレーション": "escalation"}
SHORT_LABEL_ALIASES = {"補償": "compensation", "エスカ": "escalation"}
MIN_ROWS_PER_LABEL = 20
# The optional column naming who wrote a row (or from which brief).
WRITER_COLUMN = "writer"
# Shown in an error message; the full list would bury the first mistakes.
MAX_ERRORS_SHOWN = 20


def canonical_label(value: str) -> tuple[str | None, bool]:
    """Return (label, hinted) for a label cell: the label it names (None if none) and whether it was a short form."""
    key = unicodedata.normalize("NFKC", value).strip().lower()
    if key in LABELS:
        return key, False
    if key in LABEL_ALIASES:
        return LABEL_ALIASES[key], False
    if key in SHORT_LABEL_ALIASES:
        return SHORT_LABEL_ALIASES[key], True
    return None, False


def line_of(message: str) -> int:
    """Return the line number a row message starts with ("line 12: ..."), 0 for a file-wide one."""
    m = re.match(r"line (\d+):", message)
    return int(m.group(1)) if m else 0


class DatasetError(Exception):
    """A CSV file that cannot be used; the message names the file and what to fix."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def __str__(self) -> str:
        text = self.args[0]
        if self.errors:
            shown = self.errors[:MAX_ERRORS_SHOWN]
            more = len(self.errors) - len(shown)
            text += "\n" + "\n".join(f"  {e}" for e in shown)
            if more:
                text += f"\n  ... and {more} more"
        return text


@dataclass
class Row:
    """One labelled inquiry with where it came from."""

    text: str
    label: str | None
    line: int
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    """A decoded CSV: its rows, header and the encoding it was read with."""

    path: str
    encoding: str
    header: list[str]
    rows: list[Row]
    sha256: str
    duplicates_dropped: int = 0
    # Rows accepted with a remark (a short label such as 補償), by line.
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode CSV bytes as UTF-8 (with or without BOM) or CP932, or raise DatasetError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DatasetError(
            f"{name}: this file is UTF-16. Save it as 'CSV UTF-8' (Excel: 名前を付けて保存 → CSV UTF-8) and try again."
        )
    if b"\x00" in data[:4096]:
        raise DatasetError(f"{name}: this looks like a binary file, not a CSV text file.")
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    else:
        # Excel in Japan writes CP932; Python's shift_jis codec fails on ①㈱～.
        encodings = ["utf-8", "cp932"]
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and any(b >= 0x80 for b in data[: exc.start]):
                # Valid UTF-8 text before the first invalid byte: a file that mixes UTF-8 and CP932
                # (rows pasted from two sources). Read as CP932, its UTF-8 part would become mojibake.
                raise DatasetError(
                    f"{name}: the file mixes UTF-8 and CP932 (Shift_JIS) text; save it once as 'CSV UTF-8' "
                    "(Excel: 名前を付けて保存 → CSV UTF-8) and try again."
                ) from None
            continue
    raise DatasetError(
        f"{name}: the file is neither UTF-8 nor CP932 (Shift_JIS). Save it as 'CSV UTF-8' and try again."
    )


def parse(data: bytes, name: str, require_label: bool = True, text_column: str = "text") -> Table:
    """Parse CSV bytes into a Table; every bad row is reported with its line number."""
    text, encoding = decode(data, name)
    if not text.strip():
        raise DatasetError(f"{name}: the file is empty; it needs a header row with 'text' and 'label'.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise DatasetError(f"{name}: line 1: cannot read the header ({exc}).") from None
    needed = [text_column, "label"] if require_label else [text_column]
    missing = [c for c in needed if c not in header]
    if missing:
        raise DatasetError(
            f"{name}: the header has no {' and no '.join(repr(m) for m in missing)} column "
            f"(found: {', '.join(repr(h) for h in header) or 'nothing'}). "
            "The first row must name the columns, e.g. 'text,label'."
        )
    text_i = header.index(text_column)
    label_i = header.index("label") if "label" in header else None
    rows: list[Row] = []
    errors: list[str] = []
    notes: list[str] = []
    try:
        for start, record in records(reader, len(header)):
            value = record[text_i].strip()
            if value.startswith(FORMULA_PREFIX) and value[1:].startswith(FORMULA_STARTS):
                value = value[1:].strip()
            label = record[label_i].strip() if label_i is not None else None
            extra = {h: record[i] for i, h in enumerate(header) if i not in (text_i, label_i) and i < len(record)}
            if not value:
                errors.append(f"line {start}: the text is empty.")
                continue
            if label:
                known, hinted = canonical_label(label)
                if known is not None:
                    if hinted:
                        notes.append(f"line {start}: label {label!r} read as {known} ({LABELS_JA[known]}); "
                                     f"write {LABELS_JA[known]} or {known} to be sure.")
                    label = known
            if require_label and label not in LABELS:
                errors.append(
                    f"line {start}: unknown label {label!r}; use one of {', '.join(LABELS)}."
                    if label
                    else f"line {start}: the label is empty; use one of {', '.join(LABELS)}."
                )
                continue
            rows.append(Row(value, label, start, extra))
    except MalformedCsv as exc:
        errors.append(f"line {exc.line}: malformed CSV ({exc.error}); check the quotes on this line.")
    sha = hashlib.sha256(data).hexdigest()
    table = Table(name, encoding, header, rows, sha, notes=notes)
    if require_label:
        table.rows, table.duplicates_dropped, dup_errors = _dedupe(rows)
        errors.extend(dup_errors)
    # Reported in the order of the file, whatever check found them.
    errors.sort(key=line_of)
    if errors:
        raise DatasetError(f"{name}: {len(errors)} bad row(s); fix them and try again:", errors)
    if not table.rows:
        raise DatasetError(f"{name}: the file has a header but no rows.")
    return table


class MalformedCsv(Exception):
    """A record the csv module cannot read (an unclosed quote); reading stops there."""

    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(f"line {line}: {error}")
        self.line, self.error = line, error


def records(reader: Any, width: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, cells) of each non-blank record after the header, padded to ``width`` cells.

    Raises MalformedCsv naming the line where the csv module gave up (nothing after it is read).
    """
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MalformedCsv(line, exc) from None
        start, line = line, reader.line_num + 1
        if any(cell.strip() for cell in record):
            yield start, record + [""] * (width - len(record))


def _dedupe(rows: list[Row]) -> tuple[list[Row], int, list[str]]:
    """Drop exact duplicates; report a text that appears with two different labels."""
    seen: dict[str, Row] = {}
    kept: list[Row] = []
    dropped = 0
    errors: list[str] = []
    for row in rows:
        first = seen.get(row.text)
        if first is None:
            seen[row.text] = row
            kept.append(row)
        elif first.label == row.label:
            dropped += 1
        else:
            errors.append(
                f"line {row.line}: the same text as line {first.line} but labelled "
                f"{row.label!r} there {first.label!r}; keep one label."
            )
    return kept, dropped, errors


def read(path: str | Path, require_label: bool = True, text_column: str = "text") -> Table:
    """Read one CSV file from disk, with a clear error when it cannot be opened."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a CSV file.") from None
    except PermissionError:
        raise DatasetError(f"{path}: permission denied.") from None
    return parse(data, str(path), require_label=require_label, text_column=text_column)


@dataclass
class TrainingSet:
    """Texts and labels merged from several files, with what the merge did."""

    texts: list[str]
    labels: list[str]
    sources: list[dict[str, object]]
    duplicates_dropped: int
    overridden: int
    # Who wrote each row (the `writer` column, else the file's name): folds
    # grouped by writer choose thresholds on text the model has not seen the like of.
    groups: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the number of rows per label."""
        c = Counter(self.labels)
        return {label: c.get(label, 0) for label in LABELS}


def load_training(paths: list[str | Path], min_per_label: int = MIN_ROWS_PER_LABEL) -> TrainingSet:
    """Read and merge training files; a later file's label overrides an earlier one's."""
    if not paths:
        raise DatasetError("no CSV file given; e.g. `triage train data/inquiries.csv`.")
    merged: dict[str, str] = {}
    writers: dict[str, str] = {}
    sources: list[dict[str, object]] = []
    dropped = overridden = 0
    for path in paths:
        table = read(path)
        dropped += table.duplicates_dropped
        for row in table.rows:
            old = merged.get(row.text)
            if old is not None and old != row.label:
                # Agent corrections come last and win over the original label.
                overridden += 1
            elif old is not None:
                dropped += 1
            merged[row.text] = row.label  # type: ignore[assignment]
            writers[row.text] = row.extra.get(WRITER_COLUMN, "").strip() or Path(path).stem
        sources.append(
            {"path": str(path), "sha256": table.sha256, "rows": len(table.rows), "encoding": table.encoding}
        )
    texts = list(merged)
    labels = [merged[t] for t in texts]
    counts = Counter(labels)
    short = [f"{label}: {counts.get(label, 0)}" for label in LABELS if counts.get(label, 0) < min_per_label]
    if short:
        raise DatasetError(
            f"too few rows to train: every label needs at least {min_per_label} rows "
            f"({'; '.join(short)}). Add labelled rows to the CSV and train again."
        )
    return TrainingSet(texts, labels, sources, dropped, overridden, [writers[t] for t in texts])
