"""`triage incident` and `triage faq`: the day-one set-up from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from triage import faq
from triage.cli import cli

from .conftest import DATA

NEW_FAQ = ("id,question,answer,keywords\n"
           "refund,返金はいつですか,{company}の返金期限は{refund_deadline}です。{hotline}までどうぞ。,返金 期限\n"
           "hours,窓口の受付時間は,{hours}に受け付けております（㈱①～）。,受付 時間\n")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(DATA))
    monkeypatch.setenv("TRIAGE_GATE_CSV", "")
    return tmp_path


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result


def test_a_fresh_database_shows_the_settings_and_the_bundled_faq(env: Path) -> None:
    shown = run("incident", "show").output
    assert "company=株式会社サンプル" in shown and "instruction.person_at_risk=通話を切らずに責任者へ転送" in shown
    assert "transfer.person_at_risk=内線 2001" in shown
    listing = run("faq", "list").output
    assert re.search(r"^\* +1 .*first-run .*faq\.csv$", listing, re.MULTILINE), listing


def test_set_changes_the_profile_and_refuses_bad_keys_without_changing_anything(env: Path) -> None:
    run("incident", "set", "company=株式会社ミナト", "hotline=0120-111-222", "instruction.press=広報へ")
    shown = run("incident", "show").output
    assert "company=株式会社ミナト" in shown and "hotline=0120-111-222" in shown and "instruction.press=広報へ" in shown
    bad = run("incident", "set", "company=X社", "url=www.example.jp", "nonsense", code=1).output
    assert "nothing was changed" in bad and "url must start with https://" in bad and "'nonsense' is not KEY=VALUE" in bad
    assert "company=株式会社ミナト" in run("incident", "show").output
    assert "Nothing changed" in run("incident", "set", "company=株式会社ミナト").output


def test_import_cp932_validates_placeholders_against_the_profile(env: Path) -> None:
    path = env / "new.csv"
    path.write_bytes(NEW_FAQ.encode("cp932"))
    refused = run("faq", "import", str(path), code=1).output
    assert "line 2: the answer uses {refund_deadline}" in refused and "triage incident set refund_deadline=" in refused
    assert "nothing was imported" in refused
    run("incident", "set", "refund_deadline=2027年1月31日")
    done = run("faq", "import", str(path)).output
    assert "2 entries, valid (cp932)" in done and "Imported and activated FAQ version 2" in done
    assert re.search(r"^\* +2 ", run("faq", "list").output, re.MULTILINE)
    # The profile may lose a placeholder the active FAQ uses: reported, not refused.
    warned = run("incident", "set", "refund_deadline=")
    assert "uses {refund_deadline}, which the profile cannot fill" in warned.stderr


def test_a_repeated_id_is_refused_and_changes_nothing(env: Path) -> None:
    run("faq", "list")
    before = run("faq", "list").output
    path = env / "dup.csv"
    path.write_bytes((NEW_FAQ.replace("{refund_deadline}", "1月末") + "refund,重複,別の回答,\n").encode("cp932"))
    out = run("faq", "import", str(path), code=1).output
    assert "line 4: the id 'refund' is already used on line 2" in out
    assert run("faq", "list").output == before


def test_check_compares_hit_rates_and_stores_nothing(env: Path) -> None:
    before = run("faq", "list").output
    out = run("faq", "import", "--check", "--eval", str(DATA / "test.csv"), str(DATA / "faq.csv")).output
    assert re.search(r"active \(version 1\) +top-1 0\.\d{3}  top-3 0\.\d{3}", out), out
    assert re.search(r"new +top-1 0\.\d{3}  top-3 0\.\d{3}", out), out
    assert "nothing was stored" in out
    assert run("faq", "list").output == before
    no_ids = run("faq", "import", "--check", "--eval", str(DATA / "inquiries.csv"), str(DATA / "faq.csv"), code=1)
    assert "no 'faq_id' column" in no_ids.output


def test_export_round_trips_and_activate_rollback_walk_the_versions(env: Path) -> None:
    run("incident", "set", "refund_deadline=2027年1月31日")
    path = env / "new.csv"
    path.write_bytes(NEW_FAQ.encode("cp932"))
    run("faq", "import", str(path))
    out = env / "out.csv"
    run("faq", "export", str(out))
    assert faq.parse(out.read_bytes(), "out.csv").entries == faq.parse(NEW_FAQ.encode(), "x.csv").entries
    run("faq", "import", str(out))
    assert "Rolled back to FAQ version 2" in run("faq", "rollback").output
    assert "Rolled back to FAQ version 1" in run("faq", "rollback").output
    assert "nothing to roll back to" in run("faq", "rollback", code=1).output
    assert "Activated FAQ version 3" in run("faq", "activate", "3").output
    assert "no FAQ version 9" in run("faq", "activate", "9", code=1).output
    run("faq", "export", "--version", "1", str(out))
    assert faq.parse(out.read_bytes(), "out.csv").entries == faq.read_entries(DATA / "faq.csv")
