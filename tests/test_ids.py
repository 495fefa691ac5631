"""Ids in paths: oversized ids are a 404 on every route, and Unicode digits or leading zeros alias nothing."""

from __future__ import annotations

import pytest

from triage.store import TrainingJob

from .conftest import csrf_token

BAD_IDS = [str(2**64), str(2**63), str(2**63 - 1), str(2**31), "9" * 400, "٣", "１", "３", "03", "0", "-3", "3.0", "+3"]


@pytest.fixture
def three(app) -> int:
    store = app.extensions["triage.store"]
    for text in ("一件目", "二件目", "三件目"):
        row, _ = store.add_inquiry(source="api", text=text, label="faq", confidence=0.9, probabilities={},
                                   needs_review=False, model_version="v")
    with store.session() as s:
        for _ in range(3):
            s.add(TrainingJob(started_by="admin1", filename="x.csv", status="done"))
    assert row.id == 3
    return row.id


def test_api_routes_answer_404_in_the_error_shape(client, auth_headers, app, three: int) -> None:
    for bad in BAD_IDS:
        for method, path, body in (("GET", f"/api/v1/inquiries/{bad}", None),
                                   ("POST", f"/api/v1/inquiries/{bad}/correction", {"label": "faq"})):
            resp = client.open(path, method=method, json=body, headers=auth_headers)
            assert resp.status_code == 404, (path, resp.status_code)
            assert set(resp.get_json()["error"]) == {"code", "message"}
    assert app.extensions["triage.store"].get_inquiry(three).corrections == []


def test_pages_answer_404(agent, admin, app, three: int) -> None:
    token = csrf_token(agent)
    for bad in BAD_IDS:
        assert agent.get(f"/inquiries/{bad}").status_code == 404, bad
        assert agent.post(f"/inquiries/{bad}/correction", data={"label": "faq", "csrf_token": token}).status_code == 404
        assert agent.post(f"/inquiries/{bad}/handled", data={"handled": "1", "csrf_token": token}).status_code == 404
        assert admin.get(f"/admin/jobs/{bad}").status_code == 404, bad
    row = app.extensions["triage.store"].get_inquiry(three)
    assert row.corrections == [] and row.handled is False


def test_canonical_ids_still_work(agent, client, auth_headers, three: int) -> None:
    assert agent.get(f"/inquiries/{three}").status_code == 200
    assert client.get(f"/api/v1/inquiries/{three}", headers=auth_headers).get_json()["inquiry_id"] == three
