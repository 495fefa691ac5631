"""Every CSV the project writes is formula-safe and masked: corrections, misclassified rows, routed backlogs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.lifecycle import _misclassified_csv

EMAIL = "taro.agent@example.jp"
CARD_JP = "5555ー5555ー5555ー4444"


def _rows(data: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data, newline="")))


def _assert_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert EMAIL not in cell and CARD_JP not in cell and "5555" not in cell, cell
            assert not cell.startswith(("=", "+", "-", "@", "＝")), cell


def test_corrections_export_masks_every_column_the_agent_too(app, client, auth_headers, admin) -> None:
    text = f"=HYPERLINK(\"http://x\") 返金して カード {CARD_JP}"
    inquiry = client.post("/api/v1/classify", json={"text": text}, headers=auth_headers).get_json()["inquiry_id"]
    # A contact system names the agent; some send the agent's e-mail address.
    resp = client.post(f"/api/v1/inquiries/{inquiry}/correction", json={"label": "compensation", "agent": EMAIL},
                       headers=auth_headers)
    assert resp.status_code == 201
    # The page exports corrections an admin accepted (issue 13 item 12).
    store = app.extensions["triage.store"]
    store.review_correction(store.corrections()[0][0].id, "accepted", "admin1")
    body = admin.get("/admin/corrections.csv").data.decode("utf-8-sig")
    rows = _rows(body)
    header = rows[0]
    assert header[:2] == ["text", "label"] and "agent" in header and len(rows) == 2
    _assert_safe(rows)
    assert rows[1][header.index("agent")] == "[EMAIL]" and "[CARD]" in rows[1][0]


def test_misclassified_rows_are_masked_and_formula_safe() -> None:
    data = _misclassified_csv([f"=cmd|' /C calc'!A0 連絡は {EMAIL}", f"+81 カード {CARD_JP}", "正しく分類"],
                              ["faq", "compensation", "faq"], ["escalation", "faq", "faq"])
    rows = _rows(data)
    assert len(rows) == 3  # the header and the two misclassified rows
    _assert_safe(rows)


def test_routed_backlog_is_masked_and_formula_safe(tmp_path: Path, models_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    src = tmp_path / "in.csv"
    src.write_text(f"id,text,contact\n1,\"@SUM(1) 補償して {CARD_JP}\",{EMAIL}\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["classify", "--csv", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out.read_text(encoding="utf-8"))
    _assert_safe(rows)
    assert rows[1][2] == "[EMAIL]"
