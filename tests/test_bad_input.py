"""Bad input never gives a 500: webhook timestamps, deeply nested JSON, texts made only of invisible characters."""

from __future__ import annotations

import json
import time

import pytest

from triage.webhook import sign

from .conftest import WEBHOOK_SECRET, csrf_token

WEBHOOK = "/api/v1/webhooks/inquiries"


def _signed(body: bytes, msg_id: str) -> dict[str, str]:
    ts = int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "Content-Type": "application/json",
            "webhook-signature": sign(WEBHOOK_SECRET, msg_id, ts, body)}


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.data[:200])
    payload = resp.get_json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}, payload
    return payload["error"]


@pytest.mark.parametrize("stamp", ["9" * 400, "1" * 13, "１７００００００００", "١٧٠٠٠٠٠٠٠٠", "-1700000000", "1.7e9",
                                   " 1700000000", "0x6553f100"])
def test_webhook_timestamps_are_bounded_ascii_integers(client, app, stamp: str) -> None:
    # No signature at all: the timestamp is refused before any arithmetic or HMAC.
    resp = client.post(WEBHOOK, data=b'{"text": "x"}', headers={
        "webhook-id": "msg_ts", "webhook-timestamp": stamp, "webhook-signature": "v1,AAAA",
        "Content-Type": "application/json"})
    assert "webhook-timestamp" in _error(resp, 400)["message"]
    assert app.extensions["triage.store"].count_inquiries() == 0


DEEP = ("[" * 100_000 + "]" * 100_000).encode()
DEEP_OBJECT = ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
DEEP_ITEMS = ('{"items": [' + "{\"text\": " * 50_000 + '"x"' + "}" * 50_000 + "]}").encode()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, DEEP_ITEMS], ids=["array", "in-text", "in-items"])
def test_deeply_nested_json_is_a_400_everywhere(client, auth_headers, app, body: bytes) -> None:
    json_headers = {**auth_headers, "Content-Type": "application/json"}
    _error(client.post("/api/v1/classify", data=body, headers=json_headers), 400)
    _error(client.post("/api/v1/classify/batch", data=body, headers=json_headers), 400)
    _error(client.post(WEBHOOK, data=body, headers=_signed(body, f"msg_deep_{len(body)}")), 400)
    assert app.extensions["triage.store"].count_inquiries() == 0


BLANKS = ["\u200b" * 10, "\u3000\u3000\u200b\u3000", "\ufeff\u2060\u200d", " \u00a0\u200c\t\n", "\u3164\u2800",
          "\u0301\ufe0f"]


@pytest.mark.parametrize("text", BLANKS)
def test_invisible_text_is_empty_on_every_channel(client, auth_headers, agent, app, text: str) -> None:
    assert "empty" in _error(client.post("/api/v1/classify", json={"text": text}, headers=auth_headers), 422)["message"]
    batch = client.post("/api/v1/classify/batch", json={"items": [{"text": "退会したい"}, {"text": text}]},
                        headers=auth_headers)
    assert "items[1].text" in _error(batch, 422)["message"]
    body = json.dumps({"text": text}).encode()
    _error(client.post(WEBHOOK, data=body, headers=_signed(body, f"msg_blank_{text.encode().hex()[:40]}")), 422)
    page = agent.post("/", data={"text": text, "csrf_token": csrf_token(agent)})
    assert page.status_code == 422 and "入力してください" in page.get_data(as_text=True)
    assert app.extensions["triage.store"].count_inquiries() == 0


def test_unknown_http_methods_share_one_metrics_series(client) -> None:
    for method in ("ZZZA", "ZZZB", "PROPFIND", "BREW"):
        assert client.open("/healthz", method=method).status_code == 405
    lines = [line for line in client.get("/metrics").get_data(as_text=True).splitlines()
             if line.startswith("triage_http_requests_total{")]
    methods = {line.split('method="', 1)[1].split('"', 1)[0] for line in lines}
    # The registry is the process's: other tests add their methods, never an unknown one.
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    assert any('method="other"' in line and 'status="405"' in line for line in lines), lines
