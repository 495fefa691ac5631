"""CLI for operators: first run, accounts, tokens, purge."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.registry import Registry


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    # `triage purge` also clears the instance folder's uploads: this test's own, not the checkout's.
    monkeypatch.setattr("triage.services.instance_path", lambda: tmp_path / "instance")
    return tmp_path


def test_first_run_trains_the_default_model_and_says_so(env: Path, tiny_csv: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = env / "data"
    data.mkdir()
    shutil.copy(tiny_csv, data / "inquiries.csv")
    shutil.copy(Path(__file__).resolve().parent.parent / "data" / "faq.csv", data / "faq.csv")
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(data))
    result = CliRunner().invoke(cli, ["classify", "補償はありますか"])
    assert result.exit_code == 0, result.output
    assert "trained and activated the default" in result.output
    assert Registry(env / "models").active() is not None
    again = CliRunner().invoke(cli, ["classify", "補償はありますか"])
    assert "trained" not in again.output  # only the first run trains


def test_no_model_and_no_data_names_the_fix(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(env / "nowhere"))
    result = CliRunner().invoke(cli, ["classify", "補償"])
    assert result.exit_code == 1
    assert "triage train" in result.output and "Traceback" not in result.output


def test_users_add_disable_and_the_password_rule(env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "sato", "--role", "agent", "--password", "long enough pass"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["users", "add", "sato", "--role", "agent", "--password", "long enough pass"]).exit_code == 1
    short = runner.invoke(cli, ["users", "add", "kato", "--role", "admin", "--password", "short"])
    assert short.exit_code == 1 and "12 characters" in short.output
    assert runner.invoke(cli, ["users", "disable", "sato"]).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["users", "list"]).output
    assert runner.invoke(cli, ["users", "disable", "nobody"]).exit_code == 1


def test_ensure_admin_creates_one_account_once(env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["users", "ensure-admin"])
    assert first.exit_code == 0 and "admin /" in first.output
    assert runner.invoke(cli, ["users", "ensure-admin"]).output == ""


def test_tokens_are_shown_once_stored_hashed_and_revocable(env: Path) -> None:
    from triage.auth import token_owner
    from triage.cli import _settings, _store

    runner = CliRunner()
    result = runner.invoke(cli, ["tokens", "create", "ticketing"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    store = _store(_settings())
    assert token_owner(store, token) == "ticketing"
    assert token not in (env / "cli.sqlite").read_bytes().decode("latin-1")
    assert runner.invoke(cli, ["tokens", "create", "ticketing"]).exit_code == 1
    assert runner.invoke(cli, ["tokens", "revoke", "ticketing"]).exit_code == 0
    assert token_owner(store, token) is None


def test_purge_reports_counts(env: Path) -> None:
    from datetime import timedelta

    from triage.cli import _settings, _store
    from triage.store import utcnow

    store = _store(_settings())
    base = {"source": "api", "text": "x", "label": "faq", "confidence": 1.0, "probabilities": {},
            "needs_review": False, "model_version": "v"}
    store.add_inquiry(received_at=utcnow() - timedelta(days=120), **base)
    store.add_inquiry(**base)
    result = CliRunner().invoke(cli, ["purge", "--older-than", "90"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 inquiries and 0 corrections older than 90 days" in result.output
    assert store.count_inquiries() == 1
