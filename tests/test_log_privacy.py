"""Personal data never reaches a log line: plant sentinels everywhere, then grep every log of the session.

The grep is marked ``after_all``: tests/conftest.py moves it behind every other
test, so that it covers the log lines of the whole suite (in-process and every
real server started by tests/servers.py), whatever the file is called.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from triage.redact import find, redact
from triage.webhook import sign

from .conftest import WEBHOOK_SECRET, csrf_token

EMAIL = "sentinel.leak@example.jp"
PHONE = "090-0000-4242"
PHONE_WIDE = "０９０－００００－４２４３"
PHONE_INTL = "+81 90 0000 4244"
CARD = "4111 1111 1111 1111"
MY_NUMBER = "1234 5678 9018"
POSTCODE = "〒100-0042"
# Japanese separators and widths (issue 12 item 16, issue 11 item 1).
CARD_JP = "5555ー5555ー5555ー4444"
CARD_WIDE = "３７８２－８２２４６３－１０００５"
CARD_FIGURE_DASH = "4111‒1111‒1111‒1111"
PHONE_FIGURE_DASH = "0120‒000‒042"
PLANTED = (f"連絡先 {EMAIL} 電話 {PHONE} {PHONE_WIDE} {PHONE_INTL} {PHONE_FIGURE_DASH} カード {CARD} {CARD_JP} "
           f"{CARD_WIDE} {CARD_FIGURE_DASH} マイナンバー {MY_NUMBER} {POSTCODE} 弁護士に相談します")
# What a grep looks for: each sentinel as written and as bare digits.
NEEDLES = [EMAIL, "sentinel.leak", PHONE, PHONE_WIDE, "09000004242", "90 0000 4244", CARD, "4111111111111111",
           MY_NUMBER, "123456789018", "100-0042", CARD_JP, "5555555555554444", "5555ー5555", CARD_WIDE, "８２２４６３",
           CARD_FIGURE_DASH, "4111‒1111", PHONE_FIGURE_DASH, "000‒042"]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        (f"メール {EMAIL}", ["EMAIL"]),
        (f"電話 {PHONE} と {PHONE_WIDE} と {PHONE_INTL}", ["PHONE", "PHONE", "PHONE"]),
        (f"カード {CARD}", ["CARD"]),
        ("カード 4111 1111 1111 1112", []),  # fails the Luhn check: an order number, not a card
        (f"番号 {MY_NUMBER}", ["MYNUMBER"]),
        ("番号 1234 5678 9012", []),  # wrong check digit
        (f"住所 {POSTCODE} 東京都", ["POSTCODE"]),
        ("注文番号 A-20261103-0042", []),
    ],
)
def test_redaction_finds_each_kind_and_only_valid_numbers(text: str, kinds: list[str]) -> None:
    assert [f.kind for f in find(text)] == kinds
    masked = redact(text)
    for kind in kinds:
        assert f"[{kind}]" in masked


def test_store_redacted_setting_masks_the_stored_text(models_dir: Path, tmp_path: Path) -> None:
    from triage import create_app

    from .conftest import app_config

    app = create_app(app_config(models_dir, tmp_path, STORE_REDACTED=True))
    from triage.auth import create_token

    token = create_token(app.extensions["triage.store"], "t")
    resp = app.test_client().post("/api/v1/classify", json={"text": PLANTED}, headers={"Authorization": f"Bearer {token}"})
    stored = app.extensions["triage.store"].get_inquiry(resp.get_json()["inquiry_id"]).text
    assert not any(n in stored for n in NEEDLES) and "[EMAIL]" in stored and "弁護士" in stored


def test_plant_sentinels_through_every_channel(app, client, agent, auth_headers) -> None:
    # Web form, API, batch, webhook, a failed login named after the data, bad input, a correction.
    agent.post("/", data={"text": PLANTED, "csrf_token": csrf_token(agent)})
    client.post("/api/v1/classify", json={"text": PLANTED}, headers=auth_headers)
    client.post("/api/v1/classify/batch", json={"items": [{"text": PLANTED, "id": EMAIL}]}, headers=auth_headers)
    client.post("/api/v1/classify", json={"text": PLANTED, "id": 5.5}, headers=auth_headers)
    body = json.dumps({"text": PLANTED}, ensure_ascii=False).encode()
    ts = int(time.time())
    headers = {"webhook-id": "msg_sentinel", "webhook-timestamp": str(ts), "Content-Type": "application/json",
               "webhook-signature": sign(WEBHOOK_SECRET, "msg_sentinel", ts, body)}
    client.post("/api/v1/webhooks/inquiries", data=body, headers=headers)
    client.post("/api/v1/webhooks/inquiries", data=body, headers={**headers, "webhook-signature": "v1,AAAA"})
    anon = app.test_client()
    anon.post("/login", data={"name": f"{EMAIL} {PHONE} {CARD_JP}", "password": "x", "csrf_token": csrf_token(anon)})
    client.post("/api/v1/classify", json={"text": PLANTED}, headers={"Authorization": f"Bearer {CARD}"})
    row = app.extensions["triage.store"].queue()[0]
    agent.post(f"/inquiries/{row.id}/correction", data={"label": "faq", "csrf_token": csrf_token(agent)})
    # Metrics never carry inquiry content either.
    metrics = client.get("/metrics").get_data(as_text=True)
    assert not [n for n in NEEDLES if n in metrics]


@pytest.mark.after_all
def test_no_log_line_of_the_session_holds_personal_data(session_logs: Path, request: pytest.FixtureRequest) -> None:
    # Only other after_all checks may follow this one: otherwise their log lines escape the grep.
    items = request.session.items
    assert all(i.get_closest_marker("after_all") for i in items[items.index(request.node):])
    files = sorted(session_logs.glob("*.log"))
    assert files, "no log files were captured"
    lines = [line for f in files for line in f.read_text(encoding="utf-8", errors="replace").splitlines()]
    assert lines, "the session wrote no log lines: the capture is broken"
    leaks = [(line[:120], n) for line in lines for n in NEEDLES if n in line]
    assert leaks == []
    # The planted failed login did reach the log, masked.
    assert any("failed login" in line and "[EMAIL]" in line for line in lines)
