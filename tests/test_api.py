"""The JSON API: classify, batch, inquiries, corrections, and one error shape for every failure."""

from __future__ import annotations

import json

import pytest

from triage.store import Inquiry


def test_classify_returns_the_fixed_fields_and_stores_the_inquiry(client, auth_headers, app) -> None:
    resp = client.post("/api/v1/classify", json={"text": "パスワードの変更方法を教えてください"}, headers=auth_headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    for key in ("label", "label_ja", "confidence", "probabilities", "needs_review", "explanation",
                "faq_suggestions", "model_version", "inquiry_id"):
        assert key in body
    stored = app.extensions["triage.store"].get_inquiry(body["inquiry_id"])
    assert stored.source == "api" and stored.label == body["label"]
    assert stored.model_version == body["model_version"]
    got = client.get(f"/api/v1/inquiries/{body['inquiry_id']}", headers=auth_headers).get_json()
    assert got["text"] == "パスワードの変更方法を教えてください"


def test_classify_with_an_id_is_idempotent(client, auth_headers, app) -> None:
    first = client.post("/api/v1/classify", json={"text": "補償は？", "id": "T-1"}, headers=auth_headers)
    again = client.post("/api/v1/classify", json={"text": "補償は？", "id": "T-1"}, headers=auth_headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["inquiry_id"] == first.get_json()["inquiry_id"]
    assert app.extensions["triage.store"].count_inquiries() == 1


def test_batch_keeps_order_and_ids(client, auth_headers) -> None:
    items = [{"id": f"m{i}", "text": t} for i, t in enumerate(["補償金はいつ振り込まれますか", "退会方法", "弁護士に相談します"])]
    resp = client.post("/api/v1/classify/batch", json={"items": items}, headers=auth_headers)
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert [r["id"] for r in results] == ["m0", "m1", "m2"]
    single = [client.post("/api/v1/classify", json={"text": i["text"]}, headers=auth_headers).get_json()["label"]
              for i in items]
    assert [r["label"] for r in results] == single


def test_correction_is_stored(client, auth_headers) -> None:
    inquiry_id = client.post("/api/v1/classify", json={"text": "退会したい"}, headers=auth_headers).get_json()["inquiry_id"]
    resp = client.post(f"/api/v1/inquiries/{inquiry_id}/correction", json={"label": "escalation"}, headers=auth_headers)
    assert resp.status_code == 201
    assert resp.get_json()["corrections"][0] == {**resp.get_json()["corrections"][0], "label": "escalation",
                                                 "agent": "ticketing"}


def test_openapi_document_lists_every_api_path(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/v1/classify", "/api/v1/classify/batch", "/api/v1/inquiries/{inquiry_id}",
                                 "/api/v1/inquiries/{inquiry_id}/correction", "/api/v1/webhooks/inquiries"}


def _failures(app) -> list[tuple[str, str, dict, object, int]]:
    token = {"Authorization": f"Bearer {app.config['TEST_TOKEN']}"}
    big = "あ" * (app.config["MAX_CONTENT_LENGTH"] // 3 + 10)
    long_text = "あ" * (app.config["MAX_TEXT_LENGTH"] + 1)
    return [
        # (method, path, headers, body: dict->json | str->raw json, expected status)
        ("POST", "/api/v1/classify", {}, {"text": "x"}, 401),
        ("POST", "/api/v1/classify", {"Authorization": "Bearer wrong"}, {"text": "x"}, 401),
        ("POST", "/api/v1/classify", {"Authorization": "Basic abc"}, {"text": "x"}, 401),
        ("POST", "/api/v1/classify", token, "{not json", 400),
        ("POST", "/api/v1/classify", {**token, "Content-Type": "text/plain"}, "text", 415),
        ("POST", "/api/v1/classify", token, {"text": 12}, 422),
        ("POST", "/api/v1/classify", token, {"text": None}, 422),
        ("POST", "/api/v1/classify", token, {"text": {"nested": "x"}}, 422),
        ("POST", "/api/v1/classify", token, {"text": "   "}, 422),
        ("POST", "/api/v1/classify", token, {"text": long_text}, 422),
        ("POST", "/api/v1/classify", token, ["a list"], 422),
        ("POST", "/api/v1/classify", token, {"text": "x", "id": True}, 422),
        ("POST", "/api/v1/classify", token, {"text": big}, 413),
        ("POST", "/api/v1/classify/batch", token, {"items": "x"}, 422),
        ("POST", "/api/v1/classify/batch", token, {"items": []}, 422),
        ("POST", "/api/v1/classify/batch", token, {"items": [{"text": "a"}] * (app.config["BATCH_LIMIT"] + 1)}, 422),
        ("POST", "/api/v1/classify/batch", token, {"items": [{"text": "ok"}, {"text": 5}]}, 422),
        ("POST", "/api/v1/classify/batch", token, {"items": [[1, 2]]}, 422),
        ("GET", "/api/v1/inquiries/999999", token, None, 404),
        ("GET", "/api/v1/nothing-here", token, None, 404),
        ("GET", "/api/v1/classify", token, None, 405),
        ("POST", "/api/v1/inquiries/999999/correction", token, {"label": "faq"}, 404),
        ("POST", "/api/v1/inquiries/1/correction", token, {"label": "refund"}, 422),
        ("POST", "/api/v1/webhooks/inquiries", {}, {"text": "x"}, 400),
    ]


def test_every_api_failure_has_the_one_error_shape(app, client) -> None:
    seen = set()
    for method, path, headers, body, status in _failures(app):
        kwargs: dict = {"headers": headers}
        if isinstance(body, str):
            kwargs["data"] = body
            kwargs["headers"] = {"Content-Type": "application/json", **headers}
        elif body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json", **headers}
        resp = client.open(path, method=method, **kwargs)
        assert resp.status_code == status, (method, path, body if not isinstance(body, dict) else list(body), resp.data[:200])
        payload = resp.get_json()
        assert set(payload) == {"error"}, payload
        assert set(payload["error"]) == {"code", "message"}
        assert payload["error"]["message"] and "Traceback" not in payload["error"]["message"]
        assert resp.headers["Content-Type"].startswith("application/json")
        seen.add(status)
    assert seen == {400, 401, 404, 405, 413, 415, 422}


def test_a_failing_database_answers_503_and_stores_nothing(app, client, auth_headers, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    store = app.extensions["triage.store"]

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(store, "add_inquiry", refuse)
    resp = client.post("/api/v1/classify", json={"text": "補償して"}, headers=auth_headers)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert resp.get_json()["error"]["code"] == "unavailable"
    monkeypatch.undo()
    with store.session() as s:
        assert s.query(Inquiry).count() == 0


@pytest.mark.parametrize("path", ["/api/v1/classify", "/"])
def test_security_headers_on_every_response(client, path: str) -> None:
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for part in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def test_a_repeated_id_is_answered_from_the_store_before_the_model_runs(client, auth_headers, app,
                                                                        monkeypatch) -> None:
    first = client.post("/api/v1/classify", json={"text": "補償は？", "id": "R-1"}, headers=auth_headers).get_json()
    router = app.extensions["triage.holder"].get().router
    monkeypatch.setattr(router, "predict_explained", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(router, "predict", lambda *a, **k: 1 / 0)
    again = client.post("/api/v1/classify", json={"text": "補償は？", "id": "R-1"}, headers=auth_headers)
    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["duplicate"] is True and body["inquiry_id"] == first["inquiry_id"]
    for key in ("label", "label_ja", "confidence", "probabilities", "needs_review", "model_version", "explanation",
                "faq_suggestions", "instruction"):
        assert body[key] == first[key], key


def test_the_api_leaves_the_cookie_session_unopened(client, auth_headers) -> None:
    # Token-authenticated calls neither read nor write the login cookie: no Vary: Cookie, no Set-Cookie.
    client.set_cookie("session", "not-a-signed-session")
    resp = client.post("/api/v1/classify", json={"text": "パスワードの変更方法を教えてください"}, headers=auth_headers)
    assert resp.status_code == 201, resp.get_json()
    assert "Cookie" not in resp.headers.get("Vary", "") and "Set-Cookie" not in resp.headers
    page = client.get("/login")
    assert "Cookie" in page.headers.get("Vary", "")  # the pages still use it
