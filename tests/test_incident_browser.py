"""The incident set-up in a real browser (Debian's Chromium via Playwright): FAQ upload with errors,
a valid upload, the profile preview, activate, and roll back, as ops would do it on day one."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from triage import faq, incident

from .conftest import DATA
from .test_browser import base_url, browser, login, open_page  # noqa: F401 - the browser fixtures of the suite
from .test_incident_admin import faq_text

pytestmark = pytest.mark.slow

COMPANY = "株式会社ミナト商会"
HOTLINE = "0120-987-654"


def _faq_csv(question: str) -> str:
    return ("id,question,answer,keywords\n"
            f"minato_leak,{question},{{company}}の件は専用窓口 {{hotline}}（{{hours}}）へお問い合わせください①。,漏えい 窓口\n"
            "minato_refund,返金はありますか,返金については{url}でお知らせします。,返金\n")


def _classified_answer(page: Page, text: str) -> str:
    page.goto("/")
    page.locator("#text").fill(text)
    page.get_by_role("button", name="分類する").click()
    expect(page.get_by_test_id("route")).to_be_visible()
    suggestion = page.get_by_test_id("faq-suggestion").first
    return suggestion.locator("p.a").inner_text() if suggestion.count() else ""


def _wait_for_answer(page: Page, text: str, wanted: str, deadline: float = 10.0) -> str:
    """Classify until the first answer contains `wanted` (the workers follow within seconds)."""
    stop = time.monotonic() + deadline
    answer = _classified_answer(page, text)
    while wanted not in answer and time.monotonic() < stop:
        time.sleep(0.3)
        answer = _classified_answer(page, text)
    return answer


def test_admin_sets_up_an_incident_in_the_browser(open_page, app, tmp_path: Path) -> None:  # noqa: F811
    store = app.extensions["triage.store"]
    app.config["GATE_CSV"] = str(DATA / "test.csv")
    query = faq_text(app)
    bad = tmp_path / "bad.csv"
    bad.write_bytes((_faq_csv(query) + "minato_leak,重複,{claim_form_url} をご覧ください,\n").encode("cp932"))
    good = tmp_path / "minato.csv"
    good.write_bytes(_faq_csv(query).encode("cp932"))

    page, dialogs = open_page()
    dialogs.accept = True
    login(page, "admin1")
    page.get_by_role("link", name="FAQ管理").click()
    expect(page.get_by_test_id("active-faq")).to_have_text("バージョン 1")

    # 1. A file with errors: every bad line in Japanese, nothing stored.
    form = page.locator("#faq-upload-form")
    form.locator("input[name=csv]").set_input_files(str(bad))
    form.get_by_role("button", name="検証して登録").click()
    errors = page.locator("ul.errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("4行目: id「minato_leak」は 2 行目でも使われています")
    expect(errors.nth(1)).to_contain_text("4行目: 回答の {claim_form_url} はインシデント設定にない差し込み項目です")
    assert len(faq.versions(store)) == 1

    # 2. The fixed file: stored inactive, compared with the active FAQ, three filled answers shown.
    page.get_by_role("link", name="FAQ管理へ戻る").click()
    form.locator("input[name=csv]").set_input_files(str(good))
    form.get_by_role("button", name="検証して登録").click()
    page.wait_for_url(re.compile(r"/admin/faq/2$"))
    expect(page.locator(".flash.ok")).to_contain_text("FAQ バージョン 2 を登録しました（2 件）")
    expect(page.get_by_test_id("hits")).to_contain_text("有効なFAQ（バージョン 1）")
    expect(page.get_by_test_id("hits")).to_contain_text("このバージョン")
    expect(page.get_by_test_id("preview-answer")).to_have_count(2)
    expect(page.get_by_test_id("preview-answer").first).to_contain_text(app.config["HOTLINE"])
    assert faq.active_id(store) == 1

    # 3. The profile: preview first (nothing saved), then save.
    page.get_by_role("link", name="インシデント設定").first.click()
    profile_form = page.locator("#profile-form")
    profile_form.locator("input[name=company]").fill(COMPANY)
    profile_form.locator("input[name=hotline]").fill(HOTLINE)
    profile_form.get_by_role("button", name="プレビュー").click()
    expect(page.get_by_test_id("previewing")).to_be_visible()
    expect(page.get_by_test_id("preview-answer")).to_have_count(3)
    expect(page.get_by_test_id("preview")).to_contain_text(HOTLINE)
    assert incident.current(store).facts["company"] != COMPANY
    page.locator("#profile-form").get_by_role("button", name="保存").click()
    expect(page.locator(".flash.ok")).to_contain_text("インシデント設定を保存しました")
    assert incident.current(store).facts["company"] == COMPANY

    # 4. Activate version 2 (confirmed): agents get its answer filled with the new profile.
    page.goto("/admin/faq/2")
    page.get_by_role("button", name="このバージョンを有効にする").click()
    expect(page.locator(".flash.ok")).to_contain_text("FAQ バージョン 2 を有効にしました")
    expect(page.get_by_test_id("active-faq")).to_have_text("バージョン 2")
    agent_page, _ = open_page()
    login(agent_page, "agent1")
    answer = _wait_for_answer(agent_page, query, COMPANY)
    assert COMPANY in answer and HOTLINE in answer and "①" in answer
    expect(agent_page.get_by_test_id("faq-filled").first).to_contain_text(f"会社名＝{COMPANY}")
    expect(agent_page.get_by_test_id("faq-threshold")).to_contain_text("FAQ バージョン 2")

    # 5. Roll back (confirmed): the bundled FAQ again, still with the new company.
    page.get_by_role("button", name="ひとつ前の FAQ に戻す（ロールバック）").click()
    expect(page.locator(".flash.ok")).to_contain_text("FAQ バージョン 1 に戻しました")
    expect(page.get_by_test_id("active-faq")).to_have_text("バージョン 1")
    assert [m for t, m in dialogs.seen if t == "confirm"] == ["FAQ バージョン 2 を有効にします。よろしいですか？",
                                                             "ひとつ前の FAQ に戻します。よろしいですか？"]
    stop = time.monotonic() + 10.0
    while "FAQ バージョン 1" not in agent_page.get_by_test_id("faq-threshold").inner_text() and time.monotonic() < stop:
        time.sleep(0.3)
        _classified_answer(agent_page, query)
    expect(agent_page.get_by_test_id("faq-threshold")).to_contain_text("FAQ バージョン 1")
    assert "minato" not in agent_page.content()

    # The audit log of the model page has every step, with who did it.
    page.goto("/admin/")
    audit = page.locator("table.audit:not([data-testid=users])")
    for action in ("FAQ アップロード", "インシデント設定の変更", "FAQ 有効化", "FAQ ロールバック"):
        expect(audit).to_contain_text(action)
    expect(audit).to_contain_text("admin1")
