"""Login limits: failed attempts only, per account and per address, shared by every worker through the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from triage.store import LoginFailure, utcnow

from .conftest import PASSWORD, app_config, csrf_token

WRONG = "not the password at all"


def _login(client, name: str, password: str, address: str = "127.0.0.1") -> int:
    token = csrf_token(client)
    resp = client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})
    return resp.status_code


def test_twelve_correct_logins_from_one_address_are_never_limited(app) -> None:
    # A shift starting behind one NAT address: only failures count.
    statuses = [_login(app.test_client(), "agent1", PASSWORD, "192.0.2.7") for _ in range(12)]
    assert statuses == [302] * 12


def test_failures_per_account_are_limited_even_for_the_right_password(app) -> None:
    statuses = [_login(app.test_client(), "agent1", WRONG, f"192.0.2.{i}") for i in range(1, 7)]
    assert statuses == [401] * 5 + [429]
    with app.extensions["triage.store"].session() as s:  # the refused attempt was not counted
        assert s.query(LoginFailure).filter(LoginFailure.key == "login-account:agent1").count() == 5
    resp_client = app.test_client()
    token = csrf_token(resp_client)
    resp = resp_client.post("/login", data={"name": "agent1", "password": PASSWORD, "csrf_token": token},
                            environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "しばらくログインできません" in resp.get_data(as_text=True)
    # Another account is not limited by agent1's failures; agent1 is again once the window has passed.
    assert _login(app.test_client(), "admin1", PASSWORD, "192.0.2.100") == 302
    with app.extensions["triage.store"].session() as s:
        for row in s.query(LoginFailure).all():
            row.created_at = utcnow() - timedelta(minutes=2)
    assert _login(app.test_client(), "agent1", PASSWORD, "192.0.2.101") == 302


def test_failures_per_address_are_limited_across_account_names(app) -> None:
    statuses = [_login(app.test_client(), f"probe-{i}", WRONG, "198.51.100.4") for i in range(7)]
    assert statuses == [401] * 5 + [429, 429]
    assert _login(app.test_client(), "probe-x", WRONG, "198.51.100.5") == 401


def test_a_successful_login_clears_the_accounts_earlier_failures(app) -> None:
    for i in range(4):
        assert _login(app.test_client(), "agent1", WRONG, f"203.0.113.{i}") == 401
    assert _login(app.test_client(), "agent1", PASSWORD, "203.0.113.50") == 302
    statuses = [_login(app.test_client(), "agent1", WRONG, f"203.0.113.{60 + i}") for i in range(5)]
    assert statuses == [401] * 5


def test_two_workers_share_one_count(app, models_dir: Path, tmp_path: Path) -> None:
    # A second app on the same database is what a second gunicorn worker (or host) is.
    from triage import create_app

    other = create_app(app_config(models_dir, tmp_path))
    apps = [app, other] * 3
    statuses = [_login(a.test_client(), "agent1", WRONG, f"192.0.2.{i}") for i, a in enumerate(apps)]
    assert statuses == [401] * 5 + [429]
    other.extensions["triage.store"].engine.dispose()


@pytest.mark.parametrize("spec", ["five per minute", "0 per minute", "5 per fortnight"])
def test_a_malformed_limit_stops_the_start(models_dir: Path, tmp_path: Path, spec: str) -> None:
    from triage import StartupError, create_app

    with pytest.raises(StartupError, match="TRIAGE_LOGIN_LIMIT"):
        create_app(app_config(models_dir, tmp_path, LOGIN_LIMIT=spec))
