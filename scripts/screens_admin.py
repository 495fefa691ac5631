"""Take the admin page's screenshots for the README (1366×768, Debian chromium): python scripts/screens_admin.py.

Trains two small versions in a temporary directory (the second compared with the
first on data/test.csv by the quality gate), records two conflicting corrections,
and writes docs/screens/admin-*.png. Nothing outside the temporary directory changes
except those files. Needs fonts-noto-cjk for the Japanese.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage import create_app, dataset  # noqa: E402
from triage.auth import add_user  # noqa: E402
from triage.lifecycle import train_version  # noqa: E402
from triage.registry import Registry  # noqa: E402

OUT = ROOT / "docs" / "screens"
PASSWORD = "screenshot-password-1"


def sample(n: int, seed: int, path: Path) -> Path:
    """Write n rows per label of the bundled training data to path."""
    import csv

    table = dataset.read(ROOT / "data" / "inquiries.csv")
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for label in dataset.LABELS:
            for r in rng.sample([r for r in table.rows if r.label == label], n):
                w.writerow([r.text, r.label])
    return path


def main() -> None:
    """Build the temporary service, then take the screenshots."""
    tmp = Path(tempfile.mkdtemp(prefix="triage-screens-"))
    models = tmp / "models"
    registry = Registry(models)
    lexicon = ROOT / "data" / "lexicon.csv"
    train_version([sample(120, 1, tmp / "a.csv")], registry, activate="gate", actor="admin", lexicon_csv=lexicon)
    train_version([sample(25, 2, tmp / "b.csv")], registry, gate_csv=ROOT / "data" / "test.csv", activate="gate",
                  actor="admin", lexicon_csv=lexicon)
    app = create_app({"SECRET_KEY": "screens", "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                      "MODELS_DIR": str(models), "GATE_CSV": str(ROOT / "data" / "test.csv"),
                      "DATABASE_URL": f"sqlite:///{tmp / 'triage.sqlite'}"})
    store = app.extensions["triage.store"]
    add_user(store, "admin", "admin", PASSWORD)
    row, _ = store.add_inquiry(source="web", text="返金はいつになりますか。弁護士にも相談しています。", label="faq",
                               confidence=0.55, probabilities={"faq": 0.55}, needs_review=True, model_version="v")
    store.add_correction(row.id, "compensation", "sato")
    store.add_correction(row.id, "escalation", "tanaka")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 768}, base_url=base)
        page.goto("/login")
        page.fill("input[name=name]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto("/admin/")
        page.screenshot(path=str(OUT / "admin.png"))
        page.locator("[data-testid=gate]").first.scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "admin-gate.png"))
        page.locator("table.audit").last.scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "admin-audit.png"))
        page.goto("/admin/corrections")
        page.screenshot(path=str(OUT / "admin-corrections.png"))
        browser.close()
    server.shutdown()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('admin*.png')))} to {OUT}")


if __name__ == "__main__":
    main()
