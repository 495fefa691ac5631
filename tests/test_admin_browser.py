"""The admin page in Chromium as ops use it: switch versions and see it, give a reason, read Japanese (issue 13: 9, 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import write_csv
from .test_admin_ops import FAILED_GATE, clone_version
from .test_browser import base_url, browser, login, open_page  # noqa: F401  (fixtures shared with the agents' tests)

pytestmark = pytest.mark.slow


def test_activating_a_gate_failed_version_asks_for_a_reason_and_the_page_shows_it_serving(
        open_page, app, models_dir: Path) -> None:  # noqa: F811
    app.extensions["triage.live"].stop()  # only the page's own actions bring this worker up to date
    first = app.extensions["triage.registry"].active()
    bad = clone_version(models_dir, "v2-failed", "2999-01-01T00:00:00+00:00", gate=FAILED_GATE)
    page, dialogs = open_page()
    dialogs.accept = True
    login(page, "admin1")
    page.goto("/admin/")
    expect(page.get_by_test_id("serving")).to_have_text(first)
    version = page.locator(f"#v-{bad}")
    # Both models' figures and the rows that decided, in Japanese.
    expect(version.get_by_test_id("gate-figures")).to_contain_text("0.810")
    expect(version.get_by_test_id("decisive")).to_contain_text("弁護士に相談して訴えます")
    expect(version).to_contain_text("次にすること")

    version.get_by_test_id(f"activate-{bad}").click()
    # The browser refuses an empty reason before anything is sent.
    assert dialogs.seen == [] or page.url.endswith("/admin/")
    expect(page.get_by_test_id("serving")).to_have_text(first)
    version.get_by_test_id(f"force-reason-{bad}").fill("エスカレーションは責任者が全件確認する")
    version.get_by_test_id(f"activate-{bad}").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"{bad} を有効にしました")
    expect(page.get_by_test_id("serving")).to_have_text(bad)
    first_row = page.get_by_test_id("audit-row").first
    expect(first_row).to_contain_text("モデル有効化（品質ゲート不合格・理由あり）")
    expect(first_row).to_contain_text("エスカレーションは責任者が全件確認する")
    expect(first_row).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST"))


def test_rollback_twice_goes_two_versions_back_on_the_page(open_page, app, models_dir: Path) -> None:  # noqa: F811
    app.extensions["triage.live"].stop()
    first = app.extensions["triage.registry"].active()
    v2 = clone_version(models_dir, "v2", "2999-01-01T00:00:00+00:00")
    v3 = clone_version(models_dir, "v3", "2999-01-02T00:00:00+00:00")
    page, dialogs = open_page()
    dialogs.accept = True
    login(page, "admin1")
    for v in (v2, v3):
        page.goto("/admin/")
        page.get_by_test_id(f"activate-{v}").click()
        expect(page.get_by_test_id("serving")).to_have_text(v)
    rollback = page.get_by_role("button", name="ひとつ前のモデルに戻す（ロールバック）")
    rollback.click()
    expect(page.get_by_test_id("serving")).to_have_text(v2)
    rollback.click()
    expect(page.get_by_test_id("serving")).to_have_text(first)


def test_ops_read_csv_errors_in_japanese_in_line_order(open_page, tmp_path: Path) -> None:  # noqa: F811
    bad = write_csv(tmp_path / "bad.csv", [
        {"text": "パスワードの変更方法を教えてください", "label": "faq"},
        {"text": "パスワードの変更方法を教えてください", "label": "compensation"},  # line 3: found last
        {"text": "", "label": "faq"},
        {"text": "今すぐ弁護士に相談します", "label": "urgent"},
    ])
    page, _ = open_page()
    login(page, "admin1")
    page.goto("/admin/")
    form = page.locator("#upload-form")
    form.locator("input[name=csv]").set_input_files(str(bad))
    form.get_by_role("button", name="検証して学習を開始").click()
    expect(page.get_by_test_id("csv-error")).to_contain_text("誤りのある行が 3 行あります")
    errors = page.locator("ul.errors li")
    expect(errors).to_have_count(3)
    assert [t.split("行目")[0] for t in errors.all_inner_texts()] == ["3", "4", "5"]
    expect(errors.nth(1)).to_contain_text("本文（text）が空です")


def test_ops_train_with_japanese_labels_and_see_duplicates_and_misclassified_rows(
        open_page, tmp_path: Path, tiny_rows: list[dict[str, str]]) -> None:  # noqa: F811
    names = {"faq": "FAQ回答可", "compensation": "補償", "escalation": "エスカレーション"}
    rows = [{"text": r["text"], "label": names[r["label"]]} for r in tiny_rows]
    rows.append(dict(rows[0]))  # an exact duplicate
    upload = write_csv(tmp_path / "ja.csv", rows)
    page, _ = open_page()
    login(page, "admin1")
    page.goto("/admin/")
    form = page.locator("#upload-form")
    form.locator("input[name=csv]").set_input_files(str(upload))
    form.locator("input[name=with_bundled]").uncheck()
    form.get_by_role("button", name="検証して学習を開始").click()
    page.wait_for_url(re.compile(r"/admin/jobs/\d+$"))
    # The short label is accepted with a hint; the progress is Japanese while it runs.
    expect(page.locator(".flash.warning").first).to_contain_text("補償請求 として読みました")
    expect(page.get_by_test_id("verdict")).to_be_visible(timeout=90_000)
    expect(page.get_by_test_id("duplicates")).to_contain_text("重複して除いた行: 1 件")
    expect(page.get_by_test_id("gate")).to_contain_text("品質ゲート")
    body = page.locator("#job").inner_text()
    assert "cross-validation" not in body and "queued" not in body
