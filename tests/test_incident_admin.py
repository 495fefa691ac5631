"""The incident set-up pages with Flask's test client: profile editor, FAQ upload, activate, roll back, download."""

from __future__ import annotations

import io

from triage import faq, incident

from .conftest import DATA, csrf_token

GOOD_FAQ = ("id,question,answer,keywords\n"
            "pw_change,パスワードの変更方法を教えてください,{company}のパスワードは{url}から変更できます。,パスワード 変更\n"
            "hotline,問い合わせ窓口はどこですか,専用窓口 {hotline}（{hours}）までお電話ください。,窓口 電話\n")


def _upload(client, content: bytes, name: str = "faq.csv"):
    return client.post("/admin/faq/upload", data={"csrf_token": csrf_token(client), "csv": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _form(profile: incident.Profile, **changes: str) -> dict[str, str]:
    data = dict(profile.items())
    data["extra"] = "\n".join(f"{k}={v}" for k, v in profile.extra.items())
    for k in profile.extra:
        data.pop(k)
    data.update(changes)
    return data


def test_profile_page_shows_the_fields_in_japanese_and_three_filled_answers(admin, app) -> None:
    html = admin.get("/admin/incident").get_data(as_text=True)
    assert "インシデント設定" in html and "会社名" in html and "専用窓口の電話番号" in html
    assert "身の危険" in html and "通話を切らずに責任者へ転送" in html and "内線 2001" in html
    assert html.count('data-testid="preview-answer"') == 3
    assert app.config["COMPANY"] in html


def test_preview_stores_nothing_and_save_reaches_the_live_profile(admin, app) -> None:
    store = app.extensions["triage.store"]
    before = incident.current(store)
    form = _form(before, company="株式会社ミナト", extra="refund_deadline=2027年1月31日", action="preview")
    resp = admin.post("/admin/incident", data={"csrf_token": csrf_token(admin), **form})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "まだ保存していません" in html and "株式会社ミナト" in html
    assert incident.current(store) == before

    form["action"] = "save"
    resp = admin.post("/admin/incident", data={"csrf_token": csrf_token(admin), **form})
    assert resp.status_code == 303
    saved = incident.current(store)
    assert saved.revision != before.revision and saved.facts["company"] == "株式会社ミナト"
    assert saved.extra == {"refund_deadline": "2027年1月31日"}
    app.extensions["triage.live"].refresh()
    assert app.extensions["triage.profile"].current.facts["company"] == "株式会社ミナト"
    assert "保存しました" in admin.get("/admin/incident").get_data(as_text=True)
    audit = admin.get("/admin/").get_data(as_text=True)
    assert "インシデント設定の変更" in audit and "会社名" in audit


def test_an_invalid_profile_is_refused_in_japanese(admin, app) -> None:
    store = app.extensions["triage.store"]
    before = incident.current(store)
    form = _form(before, url="www.example.jp", extra="返金期限=明日", action="save")
    resp = admin.post("/admin/incident", data={"csrf_token": csrf_token(admin), **form})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "URLは https:// か http:// で始めてください" in html and "差し込み項目名「返金期限」" in html
    assert incident.current(store) == before


def test_a_bad_faq_upload_lists_japanese_errors_by_line_and_stores_nothing(admin, app) -> None:
    store = app.extensions["triage.store"]
    before = faq.versions(store)
    bad = (GOOD_FAQ + "pw_change,重複,{claim_form_url} へ,\nempty,空の回答,,\n").encode("cp932")
    resp = _upload(admin, bad, "bad.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "4行目: id「pw_change」は 2 行目でも使われています" in html
    assert "4行目: 回答の {claim_form_url} はインシデント設定にない差し込み項目です" in html
    assert "5行目: answer（回答）が空です" in html
    assert [v.id for v in faq.versions(store)] == [v.id for v in before]


def test_upload_compare_activate_download_and_roll_back(admin, app) -> None:
    store = app.extensions["triage.store"]
    app.config["GATE_CSV"] = str(DATA / "test.csv")
    first = faq.active_id(store)
    resp = _upload(admin, GOOD_FAQ.encode("cp932"), "new.csv")
    assert resp.status_code == 303
    new = faq.versions(store)[0].id
    assert resp.headers["Location"].endswith(f"/admin/faq/{new}")
    assert faq.active_id(store) == first  # uploaded, not yet live

    page = admin.get(f"/admin/faq/{new}").get_data(as_text=True)
    assert "正答率の比較" in page and "1位に出た" in page and f"有効なFAQ（バージョン {first}）" in page
    assert page.count('data-testid="preview-answer"') == 2
    assert app.config["HOTLINE"] in page

    assert admin.post(f"/admin/faq/{new}/activate", data={"csrf_token": csrf_token(admin)}).status_code == 303
    assert faq.active_id(store) == new
    app.extensions["triage.live"].refresh()
    assert app.extensions["triage.faq"].current.version == new

    download = admin.get(f"/admin/faq/{new}.csv")
    assert download.mimetype == "text/csv"
    assert faq.parse(download.data, "again.csv").entries == faq.parse(GOOD_FAQ.encode(), "x.csv").entries

    assert admin.post("/admin/faq/rollback", data={"csrf_token": csrf_token(admin)}).status_code == 303
    assert faq.active_id(store) == first
    listing = admin.get("/admin/faq").get_data(as_text=True)
    assert "に戻しました" in listing and "new.csv" in listing and "admin1" in listing
    assert "FAQ ロールバック" in listing and "FAQ 有効化" in listing and "FAQ アップロード" in listing


def test_rollback_with_nothing_before_says_so(admin) -> None:
    admin.post("/admin/faq/rollback", data={"csrf_token": csrf_token(admin)})
    assert "ロールバックできませんでした" in admin.get("/admin/faq").get_data(as_text=True)


def test_agents_cannot_change_the_incident(agent) -> None:
    for path in ("/admin/faq", "/admin/incident"):
        assert agent.get(path).status_code == 403
    assert _upload(agent, GOOD_FAQ.encode()).status_code == 403


FAQ_CANDIDATES = [
    "どの情報が漏えいしたのですか。住所も漏れましたか",
    "問い合わせ窓口の電話番号と受付時間を教えてください",
    "パスワードの変更方法を教えてください。ログインできません",
    "今回の事案の概要を教えてください。何があったのですか",
]


def faq_text(app) -> str:
    """Return a text the session's tiny model routes to faq (it is small: its routes shift with the model)."""
    router = app.extensions["triage.holder"].current.router
    found = [t for t in FAQ_CANDIDATES if router.predict(t).label == "faq"]
    assert found, "the tiny model routes none of the FAQ candidates to faq"
    return found[0]


def test_the_agent_page_shows_the_fill_the_scores_and_the_threshold(agent, app) -> None:
    html = agent.post("/", data={"text": faq_text(app), "csrf_token": csrf_token(agent)}).get_data(as_text=True)
    assert "FAQ回答の候補" in html and "一致度 0.12 以上" in html
    assert 'data-testid="faq-suggestion"' in html
    assert "インシデント設定から差し込み" in html
