"""The admin page with Flask's test client: versions, activate, rollback, upload, jobs, export."""

from __future__ import annotations

import io
import re
import time

import pytest

from triage.registry import Registry

from .conftest import csrf_token


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def test_admin_page_lists_versions_with_confusion_matrix(admin) -> None:
    html = admin.get("/admin/").get_data(as_text=True)
    assert "混同行列" in html and "監査ログ" in html
    assert 'class="diag level' in html


def test_activate_unknown_or_unsafe_version_is_refused(admin, app) -> None:
    before = app.extensions["triage.registry"].active()
    for version in ("nope", "../x"):
        resp = _post(admin, "/admin/activate", version=version)
        assert resp.status_code == 303
    assert app.extensions["triage.registry"].active() == before
    assert "有効化できませんでした" in admin.get("/admin/").get_data(as_text=True)


def test_rollback_without_history_says_so(admin) -> None:
    _post(admin, "/admin/rollback")
    assert "ロールバックできませんでした" in admin.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("filename", "content", "status", "message"),
    [
        ("model.joblib", b"\x80\x04junk", 303, None),
        ("bad.csv", b"text,label\nok,faq\nx,urgent\n", 422, "3行目"),
        ("utf16.csv", "text,label\n".encode("utf-16"), 422, "UTF-16"),
    ],
)
def test_uploads_are_validated_before_any_training(admin, app, filename: str, content: bytes, status: int,
                                                    message: str | None) -> None:
    resp = admin.post("/admin/train", data={"csrf_token": csrf_token(admin), "csv": (io.BytesIO(content), filename)},
                      content_type="multipart/form-data")
    assert resp.status_code == status
    if message:
        assert message in resp.get_data(as_text=True)
    with app.extensions["triage.store"].session() as s:
        from triage.store import TrainingJob

        assert s.query(TrainingJob).count() == 0


def test_oversize_upload_is_refused(admin, app) -> None:
    app.config["MAX_UPLOAD_BYTES"] = 100
    data = ("text,label\n" + "補償してください,compensation\n" * 20).encode()
    resp = admin.post("/admin/train", data={"csrf_token": csrf_token(admin), "csv": (io.BytesIO(data), "big.csv")},
                      content_type="multipart/form-data")
    assert resp.status_code == 303
    assert "大きすぎます" in admin.get("/admin/").get_data(as_text=True)


def test_upload_trains_in_the_background_and_reports_the_verdict(admin, app, tiny_csv) -> None:
    resp = admin.post("/admin/train", data={"csrf_token": csrf_token(admin),
                                            "csv": (io.BytesIO(tiny_csv.read_bytes()), "more.csv")},
                      content_type="multipart/form-data")
    assert resp.status_code == 303
    job_url = resp.headers["Location"]
    deadline = time.monotonic() + 120
    state = {}
    while time.monotonic() < deadline:
        state = admin.get(job_url + "?format=json").get_json()
        if state["status"] != "running":
            break
        time.sleep(0.5)
    assert state["status"] == "done", state
    page = admin.get(job_url).get_data(as_text=True)
    assert "品質ゲート" in page and "交差検証レポート" in page
    # What was on disk only is on the page too: duplicates dropped, the misclassified rows.
    assert "重複して除いた行: 0 件" in page and "交差検証で誤分類された学習行" in page
    assert ('data-testid="misclassified"' in page) == ("ありません。" not in page)
    registry: Registry = app.extensions["triage.registry"]
    assert registry.audit_log()[-1]["actor"] in ("admin1",)
    assert any(v["version"] == state["version"] for v in registry.versions())


def test_admin_exports_corrections_as_excel_csv(admin, agent, app) -> None:
    agent.post("/", data={"text": "=1+1 返金して", "csrf_token": csrf_token(agent)})
    row = app.extensions["triage.store"].queue()[0]
    agent.post(f"/inquiries/{row.id}/correction", data={"label": "compensation", "csrf_token": csrf_token(agent)})
    # Only what an admin accepted goes out for training.
    assert admin.get("/admin/corrections.csv").data.decode("utf-8-sig").count("\n") == 1
    correction = app.extensions["triage.store"].corrections()[0][0]
    _post(admin, f"/admin/corrections/{correction.id}/review", decision="accepted")
    resp = admin.get("/admin/corrections.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert re.search(r"filename=corrections-\d{4}-\d{2}-\d{2}\.csv", resp.headers["Content-Disposition"])
    body = resp.data
    assert body.startswith(b"\xef\xbb\xbf")
    assert "'=1+1 返金して" in body.decode("utf-8-sig")


def test_a_disabled_account_loses_its_session_at_once(agent, app) -> None:
    from triage.auth import set_disabled

    assert agent.get("/").status_code == 200
    set_disabled(app.extensions["triage.store"], "agent1")
    assert agent.get("/").status_code == 302


def test_session_cookie_expires(client) -> None:
    from .conftest import PASSWORD

    resp = client.post("/login", data={"name": "agent1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert "Expires=" in resp.headers["Set-Cookie"]


def test_conflicting_corrections_are_shown_and_a_rejected_one_is_not_exported(admin, agent, app) -> None:
    agent.post("/", data={"text": "返金してもらえますか、弁護士にも相談中です", "csrf_token": csrf_token(agent)})
    store = app.extensions["triage.store"]
    row = store.queue()[0]
    for label in ("compensation", "escalation"):
        agent.post(f"/inquiries/{row.id}/correction", data={"label": label, "csrf_token": csrf_token(agent)})
    page = admin.get("/admin/corrections").get_data(as_text=True)
    assert 'data-testid="conflict"' in page and "未確認" in page
    first, second = [c.id for c in store.corrections_for_review()[0].corrections]
    _post(admin, f"/admin/corrections/{first}/review", decision="accepted")
    _post(admin, f"/admin/corrections/{second}/review", decision="rejected")
    page = admin.get("/admin/corrections").get_data(as_text=True)
    assert 'data-testid="conflict"' not in page  # the rejected one no longer counts
    body = admin.get("/admin/corrections.csv").data.decode("utf-8-sig")
    import csv

    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["inquiry_id"], r["label"], r["original_label"]) for r in rows] == [(str(row.id), "compensation", row.label)]
