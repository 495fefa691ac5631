"""Login sessions the server can end: logout, disable, password change, log out everywhere, lifetime, idle timeout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from triage.store import AuthSession, utcnow

from .conftest import PASSWORD, csrf_token, login


def _copy_of(client, app):
    """A second browser holding a copy of the client's session cookie (what a thief would have)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _inquiry(app) -> int:
    row, _ = app.extensions["triage.store"].add_inquiry(
        source="api", text="補償はありますか", label="faq", confidence=0.9, probabilities={}, needs_review=False,
        model_version="v")
    return row.id


def _age_sessions(app, **fields: timedelta) -> None:
    with app.extensions["triage.store"].session() as s:
        for row in s.query(AuthSession).all():
            for name, delta in fields.items():
                setattr(row, name, utcnow() - delta)


def test_a_cookie_copied_before_logout_is_dead_after_it(agent, app) -> None:
    inquiry = _inquiry(app)
    token = csrf_token(agent)
    thief = _copy_of(agent, app)
    assert thief.get("/queue").status_code == 200  # the copy works while the session lives
    agent.post("/logout", data={"csrf_token": token})
    assert thief.get("/queue").status_code == 302
    resp = thief.post(f"/inquiries/{inquiry}/correction", data={"label": "escalation", "csrf_token": token})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert app.extensions["triage.store"].get_inquiry(inquiry).corrections == []
    # Logging in again makes a new session.
    login(agent, "agent1")
    assert agent.get("/queue").status_code == 200 and thief.get("/queue").status_code == 302


def test_the_cookie_is_not_reissued_on_every_response(agent) -> None:
    agent.get("/")  # the first page stores the CSRF token in the session
    resp = agent.get("/queue")
    assert resp.status_code == 200
    assert not any(c.startswith("session=") for c in resp.headers.getlist("Set-Cookie"))


def test_a_session_ends_after_its_absolute_lifetime_however_active(agent, app) -> None:
    _age_sessions(app, created_at=timedelta(hours=app.config["SESSION_HOURS"], minutes=1),
                  last_seen_at=timedelta(seconds=5))
    assert agent.get("/").status_code == 302


def test_a_session_ends_when_idle_and_lives_while_used(agent, app) -> None:
    _age_sessions(app, last_seen_at=timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 5))
    assert agent.get("/").status_code == 200  # used in time: it lives on, and the use is recorded
    with app.extensions["triage.store"].session() as s:
        seen = s.query(AuthSession).one().last_seen_at
    assert utcnow() - seen.replace(tzinfo=utcnow().tzinfo) < timedelta(minutes=1)
    _age_sessions(app, last_seen_at=timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert agent.get("/").status_code == 302


def test_a_password_change_ends_every_session(agent, app) -> None:
    from triage.auth import set_password

    thief = _copy_of(agent, app)
    assert set_password(app.extensions["triage.store"], "agent1", "a new long password") == 1
    assert agent.get("/").status_code == 302 and thief.get("/").status_code == 302


def test_disabling_an_account_ends_its_sessions_for_good(agent, app) -> None:
    from triage.auth import set_disabled

    thief = _copy_of(agent, app)
    store = app.extensions["triage.store"]
    set_disabled(store, "agent1")
    set_disabled(store, "agent1", disabled=False)
    # Re-enabling the account does not bring the old sessions back.
    assert agent.get("/").status_code == 302 and thief.get("/").status_code == 302


def test_an_admin_logs_an_account_out_everywhere(agent, admin, app) -> None:
    second = app.test_client()
    login(second, "agent1")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "すべての端末からログアウト" in page
    resp = admin.post("/admin/users/logout", data={"name": "agent1", "csrf_token": csrf_token(admin)})
    assert resp.status_code == 303
    assert "セッションを 2 件終了しました" in admin.get("/admin/").get_data(as_text=True)
    assert agent.get("/").status_code == 302 and second.get("/").status_code == 302
    assert admin.get("/").status_code == 200  # only that account


@pytest.mark.parametrize("command", [["users", "logout", "agent1"],
                                     ["users", "passwd", "agent1", "--password", "another long password"]])
def test_cli_ends_sessions(agent, app, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    from triage.cli import cli

    monkeypatch.setenv("TRIAGE_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert "1 session(s)" in result.output
    assert agent.get("/").status_code == 302


def test_only_a_hash_of_the_session_token_is_stored(agent, app) -> None:
    cookie = agent.get_cookie("session").value
    with app.extensions["triage.store"].session() as s:
        stored = [row.id for row in s.query(AuthSession).all()]
    assert len(stored) == 1 and len(stored[0]) == 64 and stored[0] not in cookie
    assert PASSWORD not in cookie


def test_purge_deletes_old_session_records(agent, app, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from triage.cli import cli

    _age_sessions(app, created_at=timedelta(days=100), last_seen_at=timedelta(days=95))
    login(app.test_client(), "agent1")  # a fresh session stays
    monkeypatch.setenv("TRIAGE_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setattr("triage.services.instance_path", lambda: tmp_path / "instance")
    result = CliRunner().invoke(cli, ["purge", "--older-than", "90"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 login session record(s)" in result.output
    with app.extensions["triage.store"].session() as s:
        assert s.query(AuthSession).count() == 1
