"""Label aliases ops type, and corrections exported for training read back as the text itself."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from triage import dataset
from triage.export import corrections_csv, corrections_filename
from triage.store import Store


@pytest.mark.parametrize(
    ("cell", "label", "hinted"),
    [
        ("faq", "faq", False),
        ("FAQ", "faq", False),
        ("FAQ回答可", "faq", False),
        ("ＦＡＱ回答可", "faq", False),
        ("補償請求", "compensation", False),
        (" エスカレーション ", "escalation", False),
        ("ｴｽｶﾚｰｼｮﾝ", "escalation", False),
        ("補償", "compensation", True),
        ("エスカ", "escalation", True),
        ("返金", None, False),
        ("", None, False),
    ],
)
def test_label_aliases(cell: str, label: str | None, hinted: bool) -> None:
    assert dataset.canonical_label(cell) == (label, hinted)


def test_japanese_labels_in_a_csv_train_as_the_labels_with_a_hint_for_short_ones() -> None:
    table = dataset.parse("text,label\nあ,FAQ回答可\nい,補償\nう,エスカレーション\n".encode(), "ja.csv")
    assert [r.label for r in table.rows] == ["faq", "compensation", "escalation"]
    assert len(table.notes) == 1 and table.notes[0].startswith("line 3:")


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    s.create_schema()
    return s


def _inquiry(store: Store, text: str, label: str) -> int:
    row, _ = store.add_inquiry(source="web", text=text, label=label, confidence=0.9,
                               probabilities={label: 0.9}, needs_review=False, model_version="v1")
    return row.id


def test_an_exported_correction_reads_back_as_its_own_text(store: Store) -> None:
    texts = ["=1+1 返金してください", "＋補償はありますか", "-- 至急 --", "@all 弁護士に相談します", "普通の問い合わせです"]
    ids = [_inquiry(store, t, "faq") for t in texts]
    for i in ids:
        store.add_correction(i, "compensation", "=agent")
    data, n = corrections_csv(store, bom=True)
    assert n == len(texts)
    # Excel would run none of the cells...
    cells = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert cells[0] == ["text", "label", "original_label", "inquiry_id", "source", "corrected_at", "agent"]
    assert all(not row[0].startswith(("=", "+", "-", "@", "＋")) for row in cells[1:])
    assert [row[2] for row in cells[1:]] == ["faq"] * n and [row[3] for row in cells[1:]] == [str(i) for i in ids]
    # ...and training reads the text without the apostrophe.
    table = dataset.parse(data, "corrections.csv")
    assert [r.text for r in table.rows] == texts
    assert {r.label for r in table.rows} == {"compensation"}


def test_the_export_file_name_carries_the_japan_date() -> None:
    assert corrections_filename(datetime(2026, 12, 2, 16, 0, tzinfo=UTC)) == "corrections-2026-12-03.csv"
