"""CSV reading: encodings, line-numbered errors, duplicates and the per-label minimum."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage import dataset
from triage.dataset import DatasetError

ROWS = [
    ("①のお知らせが届きました。㈱サンプルの件です～", "faq"),
    ("髙橋です。ﾊﾟｽﾜｰﾄﾞの変え方を教えて", "faq"),
    ("補償はいくらですか", "compensation"),
    ("弁護士に相談しています", "escalation"),
]


def _csv_text(rows: list[tuple[str, str]]) -> str:
    return "text,label,note\n" + "".join(f'"{t}",{label},x\n' for t, label in rows)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_same_rows_in_every_encoding(encoding: str) -> None:
    table = dataset.parse(_csv_text(ROWS).encode(encoding), "rows.csv")
    assert [(r.text, r.label) for r in table.rows] == ROWS
    assert table.encoding == encoding


def test_shift_jis_codec_would_fail_but_cp932_reads() -> None:
    data = _csv_text(ROWS).encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    assert dataset.parse(data, "x.csv").encoding == "cp932"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        ("text,label\n".encode("utf-16"), "UTF-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("本文,分類\nこんにちは,faq\n".encode(), "no 'text'"),
        (b"text,label\n\xff\xfe\xfa bad,faq\n", "neither UTF-8 nor CP932"),
        (b"text,label\n", "no rows"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        dataset.parse(data, "in.csv")


def test_every_bad_row_is_reported_with_its_line_number() -> None:
    text = (
        "text,label\n"
        "ok one,faq\n"  # line 2
        ",faq\n"  # line 3: empty text
        "something,refund\n"  # line 4: unknown label
        '"multi\nline",faq\n'  # lines 5-6
        "ok one,escalation\n"  # line 7: conflicts with line 2
        "no label,\n"  # line 8
    )
    with pytest.raises(DatasetError) as err:
        dataset.parse(text.encode(), "bad.csv")
    errors = err.value.errors
    assert errors[0].startswith("line 3:") and "empty" in errors[0]
    assert errors[1].startswith("line 4:") and "'refund'" in errors[1]
    # In the order of the file, although the conflict is found after the other checks.
    assert errors[2].startswith("line 7:") and "line 2" in errors[2]
    assert errors[3].startswith("line 8:") and "empty" in errors[3]
    assert "4 bad row(s)" in str(err.value)


def test_exact_duplicates_are_dropped_and_counted() -> None:
    table = dataset.parse(b"text,label\na,faq\nb,faq\na,faq\na,faq\n", "d.csv")
    assert [r.text for r in table.rows] == ["a", "b"]
    assert table.duplicates_dropped == 2


def _training_file(tmp_path: Path, per_label: dict[str, int], name: str = "t.csv") -> Path:
    lines = ["text,label"] + [f"{label} row {i},{label}" for label, n in per_label.items() for i in range(n)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_too_few_rows_for_a_label_is_refused(tmp_path: Path) -> None:
    path = _training_file(tmp_path, {"faq": 25, "compensation": 19, "escalation": 30})
    with pytest.raises(DatasetError, match="compensation: 19"):
        dataset.load_training([path])


def test_a_later_file_overrides_conflicting_labels(tmp_path: Path) -> None:
    base = _training_file(tmp_path, {"faq": 21, "compensation": 20, "escalation": 20})
    fix = tmp_path / "fix.csv"
    fix.write_text("text,label\nfaq row 0,escalation\nfaq row 1,faq\n", encoding="utf-8")
    merged = dataset.load_training([base, fix])
    assert merged.overridden == 1
    assert merged.labels[merged.texts.index("faq row 0")] == "escalation"
    assert merged.counts() == {"faq": 20, "compensation": 20, "escalation": 21}


def test_a_file_mixing_utf8_and_cp932_is_refused_not_read_as_mojibake() -> None:
    data = "text,label\n補償はありますか,compensation\n".encode() + "何が漏れた？,faq\n".encode("cp932")
    with pytest.raises(DatasetError, match="mixes UTF-8 and CP932"):
        dataset.parse(data, "mixed.csv")
    # A file that is CP932 throughout still reads.
    assert dataset.parse("text,label\n何が漏れた？,faq\n".encode("cp932"), "sjis.csv").encoding == "cp932"
