"""The work of a request is bounded by the normalised length of its texts, not the raw one."""

from __future__ import annotations

import json

import pytest

from .conftest import csrf_token

EXPANDS = "\ufdfa"  # NFKC makes it 18 characters


@pytest.fixture
def no_model_work(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a refused request reached the model."""
    router = app.extensions["triage.holder"].get().router

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model ran on a request that should have been refused")

    for name in ("predict", "predict_many", "predict_explained"):
        monkeypatch.setattr(router, name, refuse)


def _post(client, path: str, payload: object, headers: dict[str, str]):
    return client.post(path, data=json.dumps(payload, ensure_ascii=False).encode(), headers={**headers, "Content-Type": "application/json"})


def test_the_reported_batch_is_refused_before_any_model_work(client, auth_headers, no_model_work) -> None:
    # 69 items of 20,000 ﷺ took 57.8 s: each is 360,000 characters once normalised.
    resp = _post(client, "/api/v1/classify/batch", {"items": [{"text": EXPANDS * 20000}] * 69}, auth_headers)
    assert resp.status_code == 422
    assert "items[0].text" in resp.get_json()["error"]["message"] and "normalised" in resp.get_json()["error"]["message"]


def test_a_batch_is_bounded_by_its_normalised_characters_in_all(client, auth_headers, app, no_model_work) -> None:
    # Every item is under the per-text limit, together they are 20 million characters of work.
    per_item = app.config["MAX_TEXT_LENGTH"] // 18
    resp = _post(client, "/api/v1/classify/batch", {"items": [{"text": EXPANDS * per_item}] * 1000}, auth_headers)
    assert resp.status_code == 422
    message = resp.get_json()["error"]["message"]
    assert f"at most {app.config['MAX_BATCH_CHARS']}" in message and "split" in message


@pytest.mark.parametrize("path", ["/api/v1/classify"])
def test_a_single_text_counts_after_normalisation(client, auth_headers, app, no_model_work, path: str) -> None:
    resp = _post(client, path, {"text": EXPANDS * 2000}, auth_headers)
    assert resp.status_code == 422 and "once normalised" in resp.get_json()["error"]["message"]
    assert app.extensions["triage.store"].count_inquiries() == 0


def test_the_page_says_how_long_a_text_may_be(agent, app, no_model_work) -> None:
    resp = agent.post("/", data={"text": EXPANDS * 2000, "csrf_token": csrf_token(agent)})
    assert resp.status_code == 422
    assert f"{app.config['MAX_TEXT_LENGTH']}文字まで" in resp.get_data(as_text=True)


def test_batches_within_the_budget_are_answered(client, auth_headers) -> None:
    resp = _post(client, "/api/v1/classify/batch", {"items": [{"text": "補償はいつですか"}] * 50}, auth_headers)
    assert resp.status_code == 200 and len(resp.get_json()["results"]) == 50
