"""Real-browser tests: Debian's Chromium driven by Playwright against the app served on 127.0.0.1.

They cover what only a browser shows: app.js (Ctrl+Enter, queue refresh, job polling,
confirmations), escaping as the DOM sees it, and the pages' forms end to end.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright
from werkzeug.serving import make_server

from triage.dataset import LABELS_JA
from triage.registry import Registry
from triage.webhook import sign

from .conftest import PASSWORD, WEBHOOK_SECRET, write_csv

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Routed to faq with FAQ suggestions by the tiny session model (checked when the test was written).
FAQ_TEXT = "パスワードの変更方法を教えてください。ログインできません"
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "</textarea><script>alert(2)</script>",
    '<a href="javascript:alert(3)">x</a>',
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (Debian's build: Playwright's download is unavailable)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} does not exist: install Debian's chromium (scripts/test.sh does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """Serve the test app on 127.0.0.1 and a free port (port 0: the kernel picks, no race)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Dialogs:
    """Records every dialog a page opens and answers it (a dialog without an answer blocks the page)."""

    def __init__(self, page: Page) -> None:
        self.seen: list[tuple[str, str]] = []
        self.accept = False
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.seen.append((dialog.type, dialog.message))
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()


@pytest.fixture
def open_page(browser: Browser, base_url: str) -> Iterator[Any]:
    """Return a factory of fresh pages (own cookies) with a dialog recorder; closed before the server stops."""
    contexts = []

    def factory(bypass_csp: bool = False) -> tuple[Page, Dialogs]:
        context = browser.new_context(base_url=base_url, bypass_csp=bypass_csp)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        return page, Dialogs(page)

    yield factory
    for context in contexts:
        context.close()


def login(page: Page, name: str) -> None:
    """Log in through the login form."""
    page.goto("/login")
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".who")).to_contain_text(name)


def classify(page: Page, text: str) -> int:
    """Submit a text on the agent page with the button; return the stored inquiry's id."""
    page.goto("/")
    page.locator("#text").fill(text)
    page.get_by_role("button", name="分類する").click()
    expect(page.get_by_test_id("route")).to_be_visible()
    return inquiry_id_on_result(page)


def inquiry_id_on_result(page: Page) -> int:
    """Return the inquiry id the result page links to (受付番号)."""
    href = page.locator("#result a[href^='/inquiries/']").get_attribute("href")
    assert href is not None
    return int(href.rsplit("/", 1)[1])


def mark_page(page: Page) -> None:
    """Leave a marker in the window: it survives only if the page is not reloaded."""
    page.evaluate("() => { window.__triageMarker = 'same-page'; }")


def page_was_not_reloaded(page: Page) -> bool:
    """Return True while the marker left by mark_page is still there."""
    return page.evaluate("() => window.__triageMarker") == "same-page"


# --- 1. agent page ---------------------------------------------------------------------------------

def test_ctrl_enter_classifies_and_shows_route_highlights_and_faq(open_page, app) -> None:
    from .test_incident_admin import faq_text

    text = faq_text(app)  # the session model's own faq route: FAQ_TEXT drifted to escalation
    page, dialogs = open_page()
    login(page, "agent1")
    page.goto("/")
    textarea = page.locator("#text")
    textarea.fill(text)
    textarea.focus()
    # Keyboard only: the submit comes from app.js's Ctrl+Enter handler, not from a click.
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")

    route = page.get_by_test_id("route")
    expect(route).to_be_visible()
    assert route.locator(".route-name").inner_text().strip() == LABELS_JA["faq"]
    expect(route).to_contain_text("確信度")
    explained = page.get_by_test_id("explained")
    assert explained.inner_text() == text
    marks = explained.locator("mark")
    assert marks.count() >= 1
    assert all(m.strip() for m in marks.all_inner_texts())
    suggestions = page.get_by_test_id("faq-suggestion")
    assert suggestions.count() >= 1
    assert suggestions.first.locator("p.a").inner_text().strip()
    assert page.locator("#text").input_value() == text
    assert dialogs.seen == []


HALF_WIDTH_TEXT = "ｸﾚｼﾞｯﾄｶｰﾄﾞの情報が漏れた。ﾍﾞﾝｺﾞｼに相談して、ﾊﾟｽﾜｰﾄﾞを変更したいです"


def test_half_width_kana_are_highlighted_and_shown_as_written(open_page) -> None:
    import unicodedata

    page, _ = open_page()
    login(page, "agent1")
    classify(page, HALF_WIDTH_TEXT)
    explained = page.get_by_test_id("explained")
    assert explained.inner_text() == HALF_WIDTH_TEXT
    marks = explained.locator("mark").all_inner_texts()
    assert marks, "nothing highlighted"
    full = unicodedata.normalize("NFKC", HALF_WIDTH_TEXT)
    for mark in marks:
        # A whole word of the raw text: ﾄﾞ keeps its mark, and the word reads like its full-width form.
        assert mark and mark[0] not in "ﾞﾟ" and unicodedata.normalize("NFKC", mark) in full, mark
    html = explained.inner_html()
    assert "</mark>ﾞ" not in html and "</mark>ﾟ" not in html
    chips = page.locator(".terms .term").all_inner_texts()
    for chip in chips:
        assert chip.startswith("〔") or all(w in HALF_WIDTH_TEXT for w in chip.split(" ")), chip
        assert chip not in ("し", "い", "です", "ます", "たい"), chip


def test_claim_table_copies_as_tab_separated_lines(open_page, monkeypatch) -> None:
    from triage import intake

    original = intake.analyse
    # The tiny session model's route is not the point here: the claims table is shown for compensation.
    monkeypatch.setattr(intake, "analyse", lambda *a, **k: {**original(*a, **k), "label": "compensation"})
    page, dialogs = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "agent1")
    classify(page, "注文番号：A-20261103-0042 の代金12,800円を返金してください")
    # By its target, not its label: the label changes while it confirms the copy.
    button = page.locator("button.copy[data-copy^=claim-table]")
    expect(button).to_have_text("表をコピー")
    button.click()
    expect(button).to_have_text("コピーしました")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.splitlines() == ["金額\t12,800円", "注文番号\tA-20261103-0042", "請求内容\t返金"]
    expect(button).to_have_text("表をコピー")  # the label comes back
    assert dialogs.seen == []


# --- 2. XSS ----------------------------------------------------------------------------------------

INJECTION_PROBE = """() => ({
    scripts: Array.from(document.scripts).filter(s => /alert/.test(s.textContent + s.src)).length,
    handlers: document.querySelectorAll('[onmouseover]').length,
    jsLinks: Array.from(document.querySelectorAll('a[href]'))
        .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
})"""


def assert_not_injected(page: Page, dialogs: Dialogs, where: str) -> None:
    """No element the payload could have created exists, and no dialog opened (after hovering)."""
    for selector in ("[data-testid=explained]", "[data-testid=explained] mark", ".snippet", "#text"):
        for element in page.locator(selector).all():
            element.hover()
    found = {"elements": page.evaluate(INJECTION_PROBE), "dialogs": dialogs.seen}
    assert found == {"elements": {"scripts": 0, "handlers": 0, "jsLinks": 0}, "dialogs": []}, where


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_markup_in_an_inquiry_is_shown_as_text_everywhere(open_page, payload: str) -> None:
    # The CSP would stop inline scripts anyway; bypass it so that this test checks the escaping itself.
    page, dialogs = open_page(bypass_csp=True)
    login(page, "agent1")
    japanese = "パスワードの変更方法を教えてください。"
    # Payload last as well: injected into an attribute, `" onmouseover="alert(1)` followed by Japanese
    # would be a handler with a syntax error that never fires; at the end the page's own quote closes it.
    texts = [f"{payload} {japanese}", f"{japanese} {payload}"]

    ids = []
    for text in texts:
        ids.append(classify(page, text))
        assert page.get_by_test_id("explained").inner_text() == text
        assert page.locator("#text").input_value() == text
        assert_not_injected(page, dialogs, f"result page of {text!r}")

    page.goto("/queue")
    for inquiry_id, text in zip(ids, texts, strict=True):
        row = page.locator(f"#queue-rows tr[data-id='{inquiry_id}']")
        expect(row).to_have_count(1)
        assert row.locator(".snippet").inner_text() == text
    assert_not_injected(page, dialogs, "queue page")

    for inquiry_id, text in zip(ids, texts, strict=True):
        page.goto(f"/inquiries/{inquiry_id}")
        expect(page.get_by_test_id("route")).to_be_visible()
        assert page.get_by_test_id("explained").inner_text() == text
        assert_not_injected(page, dialogs, f"detail page of {text!r}")


# --- 3. correction ---------------------------------------------------------------------------------

def test_correction_button_stores_the_correct_label(open_page, app) -> None:
    store = app.extensions["triage.store"]
    page, _ = open_page()
    login(page, "agent1")
    inquiry_id = classify(page, FAQ_TEXT)
    assert store.get_inquiry(inquiry_id).corrected_label is None

    page.get_by_test_id("correct-escalation").click()
    # Issue 13 item 4: the agent goes on with the next call in an empty classify box.
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".flash.ok")).to_contain_text(f"「{LABELS_JA['escalation']}」として記録しました")
    expect(page.locator("#text")).to_have_value("")
    expect(page.locator("#result")).to_have_count(0)
    assert store.get_inquiry(inquiry_id).corrected_label == "escalation"
    page.goto(f"/inquiries/{inquiry_id}")
    expect(page.locator("body")).to_contain_text("訂正の履歴")


# --- 4. queue refresh ------------------------------------------------------------------------------

def test_queue_shows_a_webhook_arrival_without_a_reload(open_page, app) -> None:
    page, _ = open_page()
    login(page, "agent1")
    page.goto("/queue")
    expect(page.locator("#queue-rows")).to_be_visible()
    mark_page(page)

    text = "Webhook経由: 補償としてポイントはいつもらえますか"
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    msg_id, stamp = "msg_browser_queue_1", int(time.time())
    resp = app.test_client().post("/api/v1/webhooks/inquiries", data=body, headers={
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(WEBHOOK_SECRET, msg_id, stamp, body),
    })
    assert resp.status_code == 200, resp.get_data(as_text=True)
    inquiry_id = resp.get_json()["inquiry_id"]

    row = page.locator(f"#queue-rows tr[data-id='{inquiry_id}']")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row.locator(".snippet")).to_have_text(text)
    expect(row).to_contain_text("Webhook")
    assert page_was_not_reloaded(page)


# --- 5. admin upload -------------------------------------------------------------------------------

def test_admin_upload_trains_and_shows_the_verdict(open_page, tiny_csv: Path) -> None:
    page, _ = open_page()
    login(page, "admin1")
    page.goto("/admin/")
    form = page.locator("#upload-form")
    form.locator("input[name=csv]").set_input_files(str(tiny_csv))
    # The bundled 2,500 rows take ~10 s to train: the tiny set alone shows the same flow.
    form.locator("input[name=with_bundled]").uncheck()
    form.get_by_role("button", name="検証して学習を開始").click()
    page.wait_for_url(re.compile(r"/admin/jobs/\d+$"))

    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_be_visible(timeout=90_000)
    expect(verdict).to_contain_text("品質ゲート")
    expect(verdict).to_have_text(re.compile(r"品質ゲート: (合格|不合格)"))
    report = page.get_by_test_id("report")
    expect(report).to_have_text(re.compile(r"交差検証レポート（\d+ 件"))
    expect(page.locator("table.confusion")).to_be_visible()


def test_admin_upload_of_a_bad_csv_lists_the_bad_line(open_page, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", [
        {"text": "パスワードの変更方法を教えてください", "label": "faq"},
        {"text": "今すぐ弁護士に相談します", "label": "urgent"},
        {"text": "補償の金額を教えてください", "label": "compensation"},
    ])
    page, _ = open_page()
    login(page, "admin1")
    page.goto("/admin/")
    form = page.locator("#upload-form")
    form.locator("input[name=csv]").set_input_files(str(bad))
    form.locator("input[name=with_bundled]").uncheck()
    form.get_by_role("button", name="検証して学習を開始").click()

    expect(page.get_by_test_id("csv-error")).to_contain_text("bad.csv")
    errors = page.locator("ul.errors li")
    expect(errors).to_have_count(1)
    # Line 1 is the header, so the unknown label is on line 3.
    expect(errors.first).to_contain_text("3行目")
    expect(errors.first).to_contain_text("urgent")
    expect(page.locator("h1")).to_contain_text("bad.csv")


# --- 6. confirmation -------------------------------------------------------------------------------

def test_rollback_asks_for_confirmation_and_does_nothing_when_dismissed(open_page, app) -> None:
    registry: Registry = app.extensions["triage.registry"]
    # A second active version, so that a rollback would really change something.
    first = registry.active()
    second = f"{first}-copy"
    shutil.copytree(registry.path(first), registry.path(second))
    meta_path = registry.path(second) / "metadata.json"
    meta_path.write_text(json.dumps(dict(registry.metadata(first), version=second)), encoding="utf-8")
    registry.activate(second, actor="test", reason="second version for the rollback test")
    audit_before = registry.audit_log()

    page, dialogs = open_page()
    login(page, "admin1")
    page.goto("/admin/")
    mark_page(page)
    rollback = page.get_by_role("button", name="ひとつ前のモデルに戻す（ロールバック）")
    rollback.click()

    assert dialogs.seen == [("confirm", "直前のモデルに戻します。よろしいですか？")]
    assert page_was_not_reloaded(page)
    assert registry.active() == second
    assert registry.audit_log() == audit_before

    # The same button does roll back once confirmed: the dismissal above is what stopped it.
    dialogs.accept = True
    rollback.click()
    expect(page.locator(".flash.ok")).to_contain_text(f"{first} に戻しました")
    assert registry.active() == first
    assert len(dialogs.seen) == 2


# --- 7. 状況 (insight) page ------------------------------------------------------------------------

def test_insight_page_draws_its_chart_offline_and_starts_a_faq_entry(open_page, app, base_url: str,
                                                                    tmp_path: Path) -> None:
    from triage import insights
    from triage.faq import read_entries

    from .test_insights import plant

    insights.clear_cache()
    planted = plant(app.test_client(), {"Authorization": f"Bearer {app.config['TEST_TOKEN']}"})
    page, dialogs = open_page()
    outside: list[str] = []
    problems: list[str] = []

    def local_only(route: Any) -> None:
        # Nothing but the service itself: a CDN or font request would fail here (and is recorded).
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    login(page, "admin1")
    page.route("**/*", local_only)
    # Script errors, CSP refusals and failed loads; the service has no favicon, which is no concern here.
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda resp: problems.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith("/favicon.ico") else None)
    page.goto("/admin/insights/")
    expect(page.locator("h1")).to_have_text("状況")

    chart = page.get_by_test_id("volume-chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    bars = chart.locator("rect")
    assert bars.count() >= 1
    heights = [b.bounding_box()["height"] for b in bars.all()]
    assert max(heights) > 10
    assert sum(int(b.get_attribute("data-count")) for b in bars.all()) == 80
    assert outside == [] and problems == [], (outside, problems)

    cluster = page.get_by_test_id("gap-cluster").first
    expect(cluster).to_contain_text("件")
    cluster.get_by_role("button", name="この話題でFAQ項目を作る").click()
    page.wait_for_url(re.compile(r"/admin/insights/faq-draft\?"))
    keywords = page.locator("input[name=keywords]").input_value()
    assert "アプリ" in keywords.split()
    assert page.locator("input[name=question]").input_value().strip()
    examples = page.get_by_test_id("draft-examples").locator("li")
    assert examples.count() >= 2
    shown = {int(href.rsplit("/", 1)[1]) for href in
             (a.get_attribute("href") for a in page.get_by_test_id("draft-examples").locator("a").all()) if href}
    assert shown & planted
    page.locator("input[name=id]").fill("app_transfer")
    page.locator("textarea[name=answer]").fill("新しい端末への引き継ぎ手順は{url}をご覧ください。")
    with page.expect_download() as download:
        page.get_by_role("button", name="CSVをダウンロード").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "faq-app_transfer.csv"
    (entry,) = read_entries(saved)
    assert (entry.id, entry.keywords) == ("app_transfer", keywords)
    assert entry.answer == "新しい端末への引き継ぎ手順は{url}をご覧ください。"
    assert outside == [] and problems == [] and dialogs.seen == [], (outside, problems, dialogs.seen)
# --- issue 13: the agent's desk ------------------------------------------------------------------

AT_RISK_TEXT = "死にたいです。もう生きていけません。"


def _add_row(app, text: str, label: str, reason: str | None = None) -> int:
    row, _ = app.extensions["triage.store"].add_inquiry(
        source="api", text=text, label=label, reason=reason, confidence=0.9, probabilities={},
        needs_review=False, model_version="v")
    return row.id


def test_a_person_at_risk_shows_reason_instruction_and_takes_focus(open_page) -> None:
    page, _ = open_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, "agent1")
    classify(page, AT_RISK_TEXT)
    expect(page.get_by_test_id("reason")).to_have_text("理由: 身の危険")
    expect(page.get_by_test_id("instruction")).to_contain_text("通話を切らずに責任者へ転送")
    expect(page.get_by_test_id("transfer")).to_have_text("内線 2001")
    assert page.evaluate("() => document.activeElement.id") == "result"
    expect(page.get_by_test_id("announce")).to_contain_text("身の危険")
    assert page.get_by_test_id("announce").get_attribute("aria-live") == "polite"
    assert page.get_by_test_id("decisive").count() >= 1


def test_the_faq_answer_is_above_the_fold(open_page, app) -> None:
    from .test_incident_admin import faq_text

    page, _ = open_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, "agent1")
    classify(page, faq_text(app))
    answer = page.get_by_test_id("faq-suggestion").first.locator(".a")
    expect(answer).to_be_visible()
    # Focus on the result may scroll: what counts is that the answer is in view without scrolling further.
    box = answer.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + min(box["height"], 60) <= 768


def test_keyboard_focus_survives_the_queue_refresh(open_page, app) -> None:
    first = _add_row(app, "最初の問い合わせ", "faq")
    page, _ = open_page()
    login(page, "agent1")
    page.goto("/queue")
    link = page.locator(f"#queue-rows a[href='/inquiries/{first}']")
    link.focus()
    later = _add_row(app, "あとから届いた問い合わせ", "faq")
    page.wait_for_timeout(4000)  # at least one refresh cycle (3 s) while the agent is in the list
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == f"/inquiries/{first}"
    page.get_by_test_id("search").focus()
    # Out of the list, the refresh brings the new row in, in place (the search box keeps focus).
    expect(page.locator(f"#queue-rows tr[data-id='{later}']")).to_be_visible()
    assert page.evaluate("() => document.activeElement.name") == "q"


def test_a_corrected_row_moves_to_the_escalation_filter(open_page, app) -> None:
    row = _add_row(app, "ログインできません", "faq")
    page, _ = open_page()
    login(page, "agent1")
    page.goto(f"/inquiries/{row}")
    page.get_by_test_id("correct-escalation").click()
    expect(page.get_by_test_id("effective-route")).to_contain_text("エスカレーション")
    page.goto("/queue?label=escalation")
    expect(page.locator(f"#queue-rows tr[data-id='{row}']")).to_be_visible()
    page.goto("/queue?label=faq")
    expect(page.locator(f"#queue-rows tr[data-id='{row}']")).to_have_count(0)


# How many lines the text of an element takes (a Range gives one rectangle per line box).
_LINES = """(el) => { const r = document.createRange(); r.selectNodeContents(el);
  return new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top))).size; }"""


def test_queue_headings_times_and_buttons_keep_one_line_at_1366(open_page, app) -> None:
    _add_row(app, "弁護士に相談しました。集団訴訟の準備をしています。" * 3, "escalation", reason="legal")
    _add_row(app, "ログインできません", "faq")
    page, _ = open_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, "agent1")
    page.goto("/queue")
    expect(page.get_by_test_id("row-reason")).to_be_visible()
    short = ", ".join(f"#queue-rows td[data-th={h}]" for h in ("番号", "経路", "受付時刻", "待ち時間", "状態"))
    cells = page.locator(f"table.queue th, {short}, #queue-rows td[data-th=担当] button")
    assert cells.count() == 8 + 2 * 6
    wrapped = [c.inner_text() for c in cells.all() if c.inner_text().strip() and c.evaluate(_LINES) > 1]
    assert wrapped == [], wrapped


def test_the_queue_is_readable_at_390_px(open_page, app) -> None:
    _add_row(app, "とても長い問い合わせ本文" * 20, "escalation", reason="legal")
    page, _ = open_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "agent1")
    page.goto("/queue")
    expect(page.get_by_test_id("row-reason")).to_have_text("法的・公的な動き")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_an_expired_session_keeps_the_pasted_text(open_page) -> None:
    page, _ = open_page()
    login(page, "agent1")
    page.goto("/")
    text = "補償について相談したいです。先月カードが不正利用されました"
    page.locator("#text").fill(text)
    page.context.clear_cookies()  # the session ends while the agent is typing
    page.get_by_role("button", name="分類する").click()
    expect(page.locator(".flash.error")).to_contain_text("もう一度ログインしてください")
    assert "エラー（400）" not in page.content()
    page.locator("input[name=name]").fill("agent1")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#text")).to_have_value(text)
