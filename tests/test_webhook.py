"""Standard Webhooks intake: verification, idempotency under concurrency, commit before 2xx."""

from __future__ import annotations

import json
import threading
import time

import pytest

from triage.errors import APIError
from triage.webhook import sign, verify

from .conftest import WEBHOOK_SECRET


def test_known_answer_vector_from_the_specification() -> None:
    # From the Standard Webhooks specification's reference test.
    signature = sign(WEBHOOK_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(body: bytes, msg_id: str = "msg_1", ts: int | None = None, secret: str = WEBHOOK_SECRET) -> dict:
    ts = int(time.time()) if ts is None else ts
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body),
            "Content-Type": "application/json"}


BODY = json.dumps({"text": "カードが不正利用されています。至急対応してください"}, ensure_ascii=False).encode()


def test_a_signed_delivery_is_stored_and_routed(client, app) -> None:
    resp = client.post("/api/v1/webhooks/inquiries", data=BODY, headers=_headers(BODY))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["label"] in ("faq", "compensation", "escalation") and body["duplicate"] is False
    stored = app.extensions["triage.store"].get_inquiry(body["inquiry_id"])
    assert (stored.source, stored.external_id) == ("webhook", "msg_1")


def test_rotated_secrets_several_signatures_accepted(client) -> None:
    headers = _headers(BODY)
    other = sign("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "msg_1", int(headers["webhook-timestamp"]), BODY)
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert client.post("/api/v1/webhooks/inquiries", data=BODY, headers=headers).status_code == 200


def _flip(b: bytes) -> bytes:
    data = bytearray(b)
    data[5] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda h, b: (h, _flip(b)), 401),
        (lambda h, b: (_headers(b, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"), b), 401),
        (lambda h, b: (_headers(b, ts=int(time.time()) - 301), b), 401),
        (lambda h, b: (_headers(b, ts=int(time.time()) + 301), b), 401),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), 400),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-timestamp"}, b), 400),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), 400),
        (lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b), 400),
        (lambda h, b: ({**h, "webhook-signature": "v2,abc"}, b), 401),
    ],
    ids=["flipped-byte", "wrong-secret", "stale-301s", "future-301s", "no-id", "no-timestamp", "no-signature",
         "bad-timestamp", "unknown-version"],
)
def test_bad_deliveries_are_refused_and_nothing_stored(client, app, change, status: int) -> None:
    headers, body = change(_headers(BODY), BODY)
    resp = client.post("/api/v1/webhooks/inquiries", data=body, headers=headers)
    assert resp.status_code == status
    assert set(resp.get_json()["error"]) == {"code", "message"}
    assert app.extensions["triage.store"].count_inquiries() == 0


@pytest.mark.parametrize("offset", [-299, 299])
def test_timestamps_within_five_minutes_are_accepted(offset: int) -> None:
    now = 1_800_000_000
    headers = _headers(BODY, ts=now + offset)
    assert verify(WEBHOOK_SECRET, headers, BODY, now=now) == "msg_1"


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamps_beyond_five_minutes_are_refused(offset: int) -> None:
    now = 1_800_000_000
    with pytest.raises(APIError) as err:
        verify(WEBHOOK_SECRET, _headers(BODY, ts=now + offset), BODY, now=now)
    assert err.value.status == 401


def test_twenty_concurrent_duplicates_leave_exactly_one_row(app) -> None:
    headers = _headers(BODY, msg_id="msg_dup")
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        c = app.test_client()
        barrier.wait()
        r = c.post("/api/v1/webhooks/inquiries", data=BODY, headers=headers)
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * 20
    assert len({body["inquiry_id"] for _, body in results}) == 1
    assert sum(not body["duplicate"] for _, body in results) == 1
    assert app.extensions["triage.store"].count_inquiries() == 1


def test_without_a_secret_the_endpoint_fails_closed(models_dir, tmp_path) -> None:
    from triage import create_app

    from .conftest import app_config

    app = create_app(app_config(models_dir, tmp_path, WEBHOOK_SECRET=None))
    resp = app.test_client().post("/api/v1/webhooks/inquiries", data=BODY, headers=_headers(BODY))
    assert resp.status_code == 503
    assert "TRIAGE_WEBHOOK_SECRET" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("secret", ["not-whsec", "whsec_###", "whsec_YWJj"])
def test_a_malformed_secret_stops_the_start(models_dir, tmp_path, secret: str) -> None:
    from triage import StartupError, create_app

    from .conftest import app_config

    with pytest.raises(StartupError, match="TRIAGE_WEBHOOK_SECRET"):
        create_app(app_config(models_dir, tmp_path, WEBHOOK_SECRET=secret))


def test_an_id_resent_with_another_body_is_answered_as_stored_and_reported(client, app, caplog) -> None:
    first = json.dumps({"text": "補償はいつ振り込まれますか"}, ensure_ascii=False).encode()
    other = json.dumps({"text": "弁護士に相談して訴訟を起こします SECRET-TEXT"}, ensure_ascii=False).encode()

    def conflicts() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("triage_webhook_conflicts_total"))

    stored = client.post("/api/v1/webhooks/inquiries", data=first, headers=_headers(first, "msg_conflict"))
    before = conflicts()
    retry = client.post("/api/v1/webhooks/inquiries", data=first, headers=_headers(first, "msg_conflict"))
    assert retry.get_json()["duplicate"] is True and conflicts() == before  # a true retry is no conflict
    with caplog.at_level("WARNING", logger="triage.security"):
        again = client.post("/api/v1/webhooks/inquiries", data=other, headers=_headers(other, "msg_conflict"))
    assert again.status_code == 200
    answer = again.get_json()
    # The contract: the stored result, not a route for the new text.
    assert answer["duplicate"] is True and answer["inquiry_id"] == stored.get_json()["inquiry_id"]
    assert answer["label"] == stored.get_json()["label"]
    assert conflicts() == before + 1
    lines = [r.getMessage() for r in caplog.records if "different body" in r.getMessage()]
    assert len(lines) == 1 and "msg_conflict" in lines[0]
    assert "SECRET-TEXT" not in lines[0] and "弁護士" not in lines[0]
    assert app.extensions["triage.store"].count_inquiries() == 1


@pytest.mark.parametrize("body", [b"not json", json.dumps({"text": ""}).encode()], ids=["not-json", "empty-text"])
def test_a_repeat_whose_body_cannot_be_routed_gets_the_stored_answer(client, app, body: bytes) -> None:
    first = client.post("/api/v1/webhooks/inquiries", data=BODY, headers=_headers(BODY, "msg_again")).get_json()
    again = client.post("/api/v1/webhooks/inquiries", data=body, headers=_headers(body, "msg_again"))
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["duplicate"] is True and again.get_json()["inquiry_id"] == first["inquiry_id"]
    # A new id with the same body is refused as before.
    assert client.post("/api/v1/webhooks/inquiries", data=body, headers=_headers(body, "msg_new")).status_code in (
        400, 422)
    assert app.extensions["triage.store"].count_inquiries() == 1
