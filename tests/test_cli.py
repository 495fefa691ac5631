"""The CLI: fixed commands, clear errors with a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.registry import Registry


@pytest.fixture
def runner(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    return CliRunner()


def test_evaluate_json_has_the_fixed_keys(runner: CliRunner, tiny_csv: Path) -> None:
    result = runner.invoke(cli, ["evaluate", str(tiny_csv), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("n", "accuracy", "macro_f1", "per_class", "confusion", "model_version"):
        assert key in report
    assert set(report["per_class"]["faq"]) == {"precision", "recall", "f1", "support"}
    assert report["confusion"]["labels"] == ["faq", "compensation", "escalation"]
    assert len(report["confusion"]["matrix"]) == 3
    assert report["n"] == 120


def test_train_prints_the_report_and_activates(runner: CliRunner, tiny_csv: Path, models_dir: Path) -> None:
    before = Registry(models_dir).active()
    result = runner.invoke(cli, ["train", str(tiny_csv)])
    assert result.exit_code == 0, result.output
    for part in ("precision", "macro-F1", "confusion", "misclassified rows", "Quality gate"):
        assert part in result.output
    # No gate CSV is configured here, so the gate refuses to replace the active model.
    assert Registry(models_dir).active() == before
    assert len(Registry(models_dir).versions()) == 2


def test_classify_text_and_stdin(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["classify", "パスワードの変え方は？"])
    assert result.exit_code == 0, result.output
    assert "confidence" in result.output
    result = runner.invoke(cli, ["classify", "-", "--json"], input="弁護士と相談して訴訟します")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["label"] in ("faq", "compensation", "escalation")


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_classify_csv_backlog_keeps_columns_and_encoding(runner: CliRunner, tmp_path: Path, encoding: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,補償はいくらですか\n2,\"退会したい①\"\n", encoding=encoding)
    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["classify", "--csv", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text(encoding=encoding).splitlines()))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"id", "text", "label", "label_ja", "confidence", "needs_review"}
    assert rows[1]["text"] == "退会したい①"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\x00\x01\x02binary\x00", "binary"),
        ("text,label\nこんにちは,faq\n".encode("utf-16"), "UTF-16"),
        ("body,label\nこんにちは,faq\n".encode(), "no 'text' column"),
        (b"", "empty"),
    ],
)
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_bad_files_exit_non_zero_with_a_message(
    runner: CliRunner, tmp_path: Path, content: bytes | None, message: str, command: str
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(cli, [command, str(path)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_models_activate_and_rollback(runner: CliRunner, tiny_csv: Path, models_dir: Path) -> None:
    registry = Registry(models_dir)
    first = registry.active()
    assert runner.invoke(cli, ["train", str(tiny_csv), "--no-activate"]).exit_code == 0
    second = [v["version"] for v in registry.versions() if v["version"] != first][0]
    result = runner.invoke(cli, ["activate", second])
    assert result.exit_code == 0, result.output
    assert registry.active() == second
    listing = runner.invoke(cli, ["models"]).output
    assert f"* {second}" in listing
    result = runner.invoke(cli, ["rollback"])
    assert result.exit_code == 0, result.output
    assert registry.active() == first
    result = runner.invoke(cli, ["activate", "../x"])
    assert result.exit_code == 1 and "invalid version name" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "triage", "--help"], capture_output=True, text=True, check=True)
    assert "evaluate" in out.stdout
