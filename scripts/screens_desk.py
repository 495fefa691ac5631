"""Take the agent desk's screenshots for the README (1366×768): python scripts/screens_desk.py [--models DIR].

Runs a real `triage serve` (tests/servers.py) on a temporary database, with the
default model trained into a temporary folder (about a minute) or the registry
given with --models, sends a few inquiries through the API for the queue, and
writes docs/screens/classify-escalation.png, classify-faq.png and queue.png.
It fails if the FAQ answer is not above the fold. Needs Debian's chromium and
fonts-noto-cjk (apt-get install -y chromium fonts-noto-cjk) for the Japanese.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import add_user, create_token_direct, post_json, running_server  # noqa: E402
from triage.lifecycle import train_version  # noqa: E402
from triage.registry import Registry  # noqa: E402

OUT = ROOT / "docs" / "screens"
PASSWORD = "screenshot-password-1"
VIEWPORT = {"width": 1366, "height": 768}
AT_RISK = "もう疲れました。死にたいです。夫から毎日暴力を受けていて、家に帰るのが怖いです。"
FAQ = "パスワードの変更方法を教えてください。"
# The queue: one of each kind an agent meets on the worst day.
QUEUE = [
    "不正アクセスのニュースを見ました。自分の情報も漏れたのでしょうか。",
    "ログインできなくなりました。どうすればいいですか。",
    "カードが不正利用されて10万円引き落とされました。補償してもらえますか。",
    "いまカードが勝手に使われています。今日だけで3回通知が来ました。止めてください。",
    "弁護士に相談しました。集団訴訟の準備をしています。",
    "新聞社の記者です。今回の漏えいについて取材をお願いします。",
    "本社に火をつけてやる。覚えておけ。",
]  # the person at risk and the faq question reach the queue through the classify page


def models_dir(given: str | None, tmp: Path) -> Path:
    """Return a registry with an active version: the one given, or the default model trained into tmp."""
    if given:
        if Registry(given).active() is None:
            sys.exit(f"{given}: no active model version; run `triage train data/inquiries.csv` first.")
        return Path(given).resolve()
    models = tmp / "models"
    print("training the default model (about a minute)...", flush=True)
    train_version([ROOT / "data" / "inquiries.csv"], Registry(models), activate="gate",
                  lexicon_csv=ROOT / "data" / "lexicon.csv")
    return models


def classify(page, text: str) -> None:
    """Submit a text on the agent page and wait for the result."""
    page.goto("/")
    page.locator("#text").fill(text)
    page.get_by_role("button", name="分類する").click()
    expect(page.get_by_test_id("route")).to_be_visible()


def main() -> None:
    """Serve, fill the queue, and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="an existing models directory with an active version")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-screens-") as tmp:
        models = models_dir(args.models, Path(tmp))
        with running_server({"TRIAGE_MODELS_DIR": str(models)}, workers=1) as server:
            add_user(server.env, "sato", "agent", PASSWORD)
            token = create_token_direct(server.env, "screens")
            for text in QUEUE:
                status, body = post_json(server.url("/api/v1/classify"), {"text": text},
                                         {"Authorization": f"Bearer {token}"})
                assert status in (200, 201), body
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport=VIEWPORT, base_url=server.base_url)
                page.goto("/login")
                page.fill("input[name=name]", "sato")
                page.fill("input[name=password]", PASSWORD)
                page.get_by_role("button", name="ログイン").click()
                page.wait_for_url(f"{server.base_url}/")

                classify(page, AT_RISK)
                expect(page.get_by_test_id("instruction")).to_be_visible()
                page.screenshot(path=str(OUT / "classify-escalation.png"))

                classify(page, FAQ)
                answer = page.get_by_test_id("faq-suggestion").first.locator(".a")
                box = answer.bounding_box()
                if box is None or box["y"] < 0 or box["y"] + box["height"] > VIEWPORT["height"]:
                    sys.exit(f"the FAQ answer is not above the fold at 1366×768: {box}")
                page.screenshot(path=str(OUT / "classify-faq.png"))

                page.goto("/queue")
                expect(page.locator("#queue-rows tr").first).to_be_visible()
                page.screenshot(path=str(OUT / "queue.png"))
                browser.close()
    print(f"wrote classify-escalation.png, classify-faq.png and queue.png to {OUT}")


if __name__ == "__main__":
    main()
