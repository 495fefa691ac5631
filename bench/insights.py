"""`python -m bench.insights`: the 状況 page and `triage insights` on 20,000 stored inquiries (target < 2 s).

Fills a fresh SQLite database (or --database-url) with inquiries from the
bundled CSVs spread over the last 24 hours, in the shape intake stores them
(topic words; the best FAQ score on web and API faq routes; a correction on
about 5%), then times:

- `triage insights --json` as a new process, as ops run it: interpreter start,
  imports, reading, clustering, printing;
- GET /admin/insights/ in process (Flask test client, logged in as an admin),
  without the minute's cache and with it;
- the same command after a quiet day on which nobody looked: every webhook faq
  route still to be scored (insight scores at most 1,000 per computation).

Standalone on purpose (the standard library and triage only): the rest of
bench/ is a separate suite with its own command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import ROOT, own_env

DATA = ROOT / "data"
TARGET_SECONDS = 2.0
SEED = 16
CHANNELS = (("web", 0.3), ("api", 0.3), ("webhook", 0.4))
OPENINGS = ("", "", "お世話になっております。", "すみません、", "至急確認してください。", "初めて問い合わせます。")
CLOSINGS = ("", "", "よろしくお願いします。", "困っています。", "返信をお待ちしています。")


def fill(url: str, rows: int, log: Any) -> dict[str, Any]:
    """Store `rows` inquiries received over the last 24 hours; return what was stored."""
    from sqlalchemy import insert

    from triage import dataset, insights
    from triage.faq import build, read_entries
    from triage.store import Correction, Inquiry, Store

    started = time.perf_counter()
    source_rows = dataset.read(DATA / "inquiries.csv").rows + dataset.read(DATA / "test.csv").rows
    kb = build(read_entries(DATA / "faq.csv"))
    rng = random.Random(SEED)
    # Words and FAQ scores once per distinct text: the same values intake would store.
    terms = {r.text: insights.terms_of(r.text) for r in source_rows}
    terms.update({t: insights.terms_of(t) if t else "" for t in (*OPENINGS, *CLOSINGS)})
    scores = {r.text: insights.best_faq_score(r.text, kb) for r in source_rows if r.label == "faq"}
    log(f"analysed {len(terms):,} distinct texts in {time.perf_counter() - started:.1f} s")
    store = Store(url)
    store.create_schema()
    now = datetime.now(UTC)
    # All within the window of `triage insights` (24 whole hours, the current one included).
    span = (now - insights.window_start(now, 24)).total_seconds() / 60
    channels, weights = zip(*CHANNELS, strict=True)
    values, corrections = [], []
    for i in range(rows):
        r = source_rows[rng.randrange(len(source_rows))]
        # A surge: more in the last hours than in the first ones.
        minutes = span * (1 - rng.random() ** 0.7)
        at = now - timedelta(minutes=minutes)
        source = rng.choices(channels, weights)[0]
        opening, closing = rng.choice(OPENINGS), rng.choice(CLOSINGS)
        text = f"{opening}{r.text}{closing}"
        values.append({
            "source": source, "external_id": f"bench-{i}", "text": text, "received_at": at, "classified_at": at,
            "label": r.label, "confidence": 0.9, "probabilities": {r.label: 0.9}, "needs_review": False,
            "model_version": "bench-v2" if minutes < 6 * 60 else "bench-v1", "handled": False,
            "topic_terms": " ".join(w for w in (terms[opening], terms[r.text], terms[closing]) if w),
            # Intake keeps the score of the best suggestion (web, API); the webhook path leaves it to insight.
            "faq_score": scores.get(r.text) if r.label == "faq" and source != "webhook" else None,
        })
    with store.engine.begin() as conn:
        conn.execute(insert(Inquiry), values)
        ids = [i for (i,) in conn.exec_driver_sql("select id from inquiries order by id")]
    for inquiry_id, v in zip(ids, values, strict=True):
        if rng.random() < 0.05:
            wrong = rng.choice([x for x in ("faq", "compensation", "escalation") if x != v["label"]])
            corrections.append({"inquiry_id": inquiry_id, "label": wrong, "agent": "bench", "created_at": now})
    with store.engine.begin() as conn:
        conn.execute(insert(Correction), corrections)
    store.engine.dispose()
    return {"rows": rows, "corrections": len(corrections), "seconds": round(time.perf_counter() - started, 1)}


def score_now(url: str) -> None:
    """Score every faq route as insight eventually does (the steady state while the gauges are scraped)."""
    from sqlalchemy import select, update

    from triage import insights
    from triage.faq import build, read_entries
    from triage.store import Inquiry, Store

    store = Store(url)
    kb = build(read_entries(DATA / "faq.csv"))
    with store.engine.begin() as conn:
        todo = conn.execute(select(Inquiry.id, Inquiry.text)
                            .where(Inquiry.label == "faq", Inquiry.faq_score.is_(None)))
        for inquiry_id, text in todo.all():
            conn.execute(update(Inquiry).where(Inquiry.id == inquiry_id)
                         .values(faq_score=insights.best_faq_score(text, kb)))
    store.engine.dispose()


def unscore_webhooks(url: str) -> int:
    """Forget the FAQ scores of webhook faq routes (a day on which nobody looked); return how many."""
    from sqlalchemy import update

    from triage.store import Inquiry, Store

    store = Store(url)
    with store.engine.begin() as conn:
        n = conn.execute(update(Inquiry).where(Inquiry.source == "webhook", Inquiry.label == "faq")
                         .values(faq_score=None)).rowcount
    store.engine.dispose()
    return n


def time_cli(env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """Run `triage insights --json` in a new process; return its wall and CPU seconds and its answer."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "triage", "insights", "--json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.stdout)


def page_client(url: str, instance: Path) -> Any:
    """Return a Flask test client logged in as an admin of an app on the filled database."""
    from triage import create_app
    from triage.auth import add_user

    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "DATA_DIR": str(DATA), "LOAD_MODEL": False,
                      "MODELS_DIR": str(instance / "models")})
    password = "bench-password-1234"
    add_user(app.extensions["triage.store"], "bench-admin", "admin", password)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"name": "bench-admin", "password": password, "csrf_token": token})
    if resp.status_code != 302:
        raise RuntimeError(f"login failed: {resp.status_code}")
    return client


def time_page(client: Any, cached: bool) -> tuple[float, float]:
    """GET the 状況 page once (without `cached`, after forgetting the minute's result); wall and CPU seconds."""
    from triage import insights

    if not cached:
        insights.clear_cache()
    started, cpu = time.perf_counter(), time.process_time()
    resp = client.get("/admin/insights/")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if resp.status_code != 200 or 'data-testid="volume-chart"' not in resp.get_data(as_text=True):
        raise RuntimeError(f"the page answered {resp.status_code}")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    """Fill, measure, print a table; exit 1 if a median misses the target."""
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="inquiries to store (default 20,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement (median shown)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database to fill (default: SQLite in a temp dir)")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="triage-bench-insights-") as tmp:
        instance = Path(tmp)
        url = args.database_url or f"sqlite:///{instance / 'bench.sqlite'}"
        filled = fill(url, args.rows, log)
        log(f"stored {filled['rows']:,} inquiries and {filled['corrections']:,} corrections")
        score_now(url)
        env = own_env(TRIAGE_DATABASE_URL=url, TRIAGE_DATA_DIR=str(DATA), TRIAGE_MODELS_DIR=str(instance / "models"))
        results: dict[str, list[tuple[float, float]]] = {"cli": [], "page (no cache)": [], "page (cached)": []}
        answer: dict[str, Any] = {}
        load_before = os.getloadavg()[0]
        for _ in range(args.repeats):
            wall, cpu, answer = time_cli(env)
            results["cli"].append((wall, cpu))
        log(f"CLI: {answer['rows']:,} rows read, {len(answer['faq_gaps']['clusters'])} gap clusters "
            f"({answer['faq_gaps']['candidates']} candidates), {len(answer['emerging']['clusters'])} emerging, "
            f"computed in {answer['seconds']} s inside the process")
        client = page_client(url, instance)
        time_page(client, cached=False)  # the app's first request: templates compiled, modules imported
        for _ in range(args.repeats):
            results["page (no cache)"].append(time_page(client, cached=False))
            results["page (cached)"].append(time_page(client, cached=True))
        unscored = unscore_webhooks(url)
        wall, cpu, backlog = time_cli(env)
        results[f"cli after a quiet day ({unscored:,} webhook faq routes to score)"] = [(wall, cpu)]
        log(f"after a quiet day: {backlog['faq_gaps']['unscored']:,} still unscored after one run")
        load_after = os.getloadavg()[0]

    print(f"\n`triage insights` and the 状況 page on {args.rows:,} stored inquiries (median of {args.repeats}; "
          f"target < {TARGET_SECONDS:g} s wall; {os.cpu_count()} cores, load average {load_before:.1f} before, "
          f"{load_after:.1f} after)\n")
    print("| measurement | wall s | CPU s | runs (wall) |")
    print("|---|---:|---:|---|")
    missed = False
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        missed |= name in ("cli", "page (no cache)") and wall >= TARGET_SECONDS
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {', '.join(f'{w:.2f}' for w, _ in runs)} |")
    print(f"\nTarget (cli and page without cache < {TARGET_SECONDS:g} s wall): {'MET' if not missed else 'NOT MET'}."
          " CPU seconds are what the same run takes on idle cores; with other work on the machine"
          " (load average above the core count) wall time is longer.")
    if args.json_out:
        args.json_out.write_text(json.dumps({"rows": args.rows, "filled": filled, "target_seconds": TARGET_SECONDS,
                                             "load_average": [load_before, load_after], "met": not missed,
                                             "results": {k: [{"wall": w, "cpu": c} for w, c in v]
                                                         for k, v in results.items()}}, indent=2),
                                 encoding="utf-8")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
