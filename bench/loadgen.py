"""Open-loop mixed traffic against a running (or self-started) `triage serve`, then an exactly-once check.

    python -m bench.loadgen --start-server --rate 50 --duration 60 --spike-rate 500 --spike-duration 10
    python -m bench.loadgen --url http://127.0.0.1:8000 --token T --webhook-secret whsec_... \\
        --user U --password P --database-url sqlite:///instance/triage.sqlite --rate 50 --duration 60

Traffic: the agent's web form (after login, with the CSRF token), API classify, API batch of 20, signed
webhooks, sent by locust (`bench/locustfile.py`, OpenLoop): requests leave at their scheduled time
whatever the server does (open loop) and latency runs from that time, so a server that falls behind
shows it; a spike runs between two halves at --rate. Then every acknowledged webhook must be stored
exactly once, under the inquiry id it was answered with, in the server's database; and the same check
must catch a corrupted copy of the acknowledgements. Loopback only, bounded in time. Exit status 1 on
any unexpected answer or any lost, doubled or mismatched webhook; 2 when it cannot start.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import hmac
import ipaddress
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import ROOT, own_env

KINDS = ("web", "classify", "batch", "webhook")
EXPECTED = {"web": 200, "classify": 201, "batch": 200, "webhook": 200, "healthz": 200}
LABEL = {"web": "POST / (agent form)", "classify": "POST /api/v1/classify", "batch": "POST /api/v1/classify/batch",
         "webhook": "POST /api/v1/webhooks/inquiries", "healthz": "GET /healthz"}
BATCH_ITEMS = 20
MIX = {"web": 2, "classify": 3, "batch": 1, "webhook": 4}  # weights of the kinds
MAX_LATENESS = 2.0  # seconds after its time a request is still sent (later: counted as not sent in time)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with a `whsec_<base64>` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return "v1," + base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
                                    .digest()).decode()


def load_texts(n: int, seed: int, path: Path = ROOT / "data" / "test.csv") -> list[str]:
    """Real inquiries of at most 400 characters from a labelled CSV (seeded sample)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f) if row.get("text") and len(row["text"]) <= 400]
    return random.Random(seed).sample(texts, min(n, len(texts)))


class Requests:
    """Builds each kind of request (read-only: every locust user shares one)."""

    def __init__(self, token: str | None, webhook_secret: str | None, texts: list[str], run_id: str,
                 cookie: str = "", csrf: str = "") -> None:
        self.token, self.webhook_secret, self.texts, self.run_id = token, webhook_secret, texts, run_id
        self.cookie, self.csrf = cookie, csrf
        self.batches = [json.dumps({"items": [{"text": texts[(k * BATCH_ITEMS + j) % len(texts)], "id": f"b{j}"}
                                              for j in range(BATCH_ITEMS)]}, ensure_ascii=False).encode()
                        for k in range(16)]

    def request(self, kind: str, seq: int) -> tuple[str, str, bytes | None, dict[str, str], str | None]:
        """Return (method, path, body, headers, webhook id) of the seq-th request of a kind."""
        text = self.texts[seq % len(self.texts)]
        if kind == "healthz":
            return "GET", "/healthz", None, {}, None
        if kind == "web":
            body = urllib.parse.urlencode({"text": text, "csrf_token": self.csrf}).encode()
            return "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded",
                                       "Cookie": self.cookie}, None
        auth = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if kind == "classify":
            return "POST", "/api/v1/classify", json.dumps({"text": text}, ensure_ascii=False).encode(), auth, None
        if kind == "batch":
            return "POST", "/api/v1/classify/batch", self.batches[seq % len(self.batches)], auth, None
        msg_id = f"load-{self.run_id}-{seq}"
        body = json.dumps({"text": text}, ensure_ascii=False).encode()
        ts = int(time.time())  # signed at send time: a late request must not look stale
        return "POST", "/api/v1/webhooks/inquiries", body, {
            "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.webhook_secret or "", msg_id, ts, body)}, msg_id


def login(host: str, port: int, user: str, password: str) -> tuple[str, str]:
    """Log in once (the login limit is a few per minute); return the session cookie and the form's CSRF token."""
    from tests.servers import send_once

    cookie = ""

    def page(method: str, path: str, body: bytes | None = None, expect: int = 200) -> str:
        nonlocal cookie
        status, raw, answer = send_once(host, port, method, path, body, {
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        if status != expect:
            raise RuntimeError(f"{method} {path} answered {status} (wrong user or password, or rate limited?)")
        jar = dict(c.split("=", 1) for c in cookie.split("; ") if "=" in c)
        jar.update(c.split(";", 1)[0].strip().split("=", 1) for c in answer.get_all("Set-Cookie") or [])
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        m = re.search(r'name="csrf_token" value="([^"]+)"', raw.decode("utf-8", errors="replace"))
        return m.group(1) if m else ""

    form = {"name": user, "password": password, "csrf_token": page("GET", "/login")}
    page("POST", "/login", urllib.parse.urlencode(form).encode(), expect=302)
    # The login cleared the session, and its CSRF token with it: take the form page's new one (and its cookie).
    csrf = page("GET", "/")
    return cookie, csrf


def warm_up(host: str, port: int, requests: Requests, kinds: tuple[str, ...], rounds: int) -> None:
    """Send a few of each kind outside the clock (lazy imports, the FAQ index, first queries, every worker)."""
    from tests.servers import send_once

    for k in range(rounds):
        for kind in kinds:
            method, path, body, headers, _ = requests.request(kind, k)
            status, raw, _ = send_once(host, port, method, path, body, headers, 30.0)
            if status != EXPECTED[kind]:
                raise RuntimeError(f"warm-up {LABEL[kind]} answered {status}: {raw[:300]!r}")


def locust(user: str, base_url: str, env: dict[str, str], prefix: Path, users: int, timeout: float,
           reset_stats: bool = False) -> dict[str, Any]:
    """Run one locust user class headless; return what it saved (stats rows, failures), its printout and CPU."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-H", base_url,
         "-u", str(users), "-r", str(users * 10), *(["--reset-stats"] if reset_stats else []), "--only-summary",
         "--logfile", f"{prefix}.log", "--stop-timeout", "10", user],
        cwd=ROOT, env={**env, "BENCH_STATS": f"{prefix}.json"}, capture_output=True, text=True, timeout=timeout,
        check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    saved = Path(f"{prefix}.json")
    if not saved.is_file():
        log = Path(f"{prefix}.log")
        raise RuntimeError(f"locust saved no statistics:\n{proc.stderr[-2000:]}{log.read_text()[-2000:]}")
    return {**json.loads(saved.read_text(encoding="utf-8")), "printed": (proc.stdout + proc.stderr).strip(),
            "client_cpu_s": after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime}


def check_webhooks_in_db(database_url: str, run_id: str, acked: dict[str, int]) -> dict[str, Any]:
    """Every acknowledged id stored once, under the inquiry id it was answered with."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(
                "SELECT external_id, id FROM inquiries WHERE source = 'webhook' AND external_id LIKE :prefix"),
                {"prefix": f"load-{run_id}-%"}).all()
    finally:
        engine.dispose()
    counts = Counter(ext for ext, _ in rows)
    row_id = dict(rows)
    return {"method": "database", "acknowledged": len(acked), "stored": len(rows),
            "lost": sorted(m for m in acked if m not in counts),
            "doubled": sorted(m for m, n in counts.items() if n > 1),
            "mismatched": sorted(m for m, rid in acked.items() if m in row_id and row_id[m] != rid),
            "stored_without_ack": len([m for m in counts if m not in acked])}


def self_test(check: Callable[[dict[str, int]], dict[str, Any]], acked: dict[str, int]) -> bool | None:
    """Corrupt a copy (an id never sent, two inquiry ids swapped): the check must report both (None: too few)."""
    if len(acked) < 2:
        return None
    a, b = list(acked)[:2]
    canary = f"{a}-never-sent"
    got = check({**acked, a: acked[b], b: acked[a], canary: 2**31 - 1})
    return got["lost"] == [canary] and got["mismatched"] == sorted([a, b])


def run(args: argparse.Namespace, base_url: str, database_url: str,
        server_info: Callable[[], dict[str, Any]] | None = None) -> int:
    """Warm up, send the traffic with locust, check the webhooks, print (and save) the figures; return the exit status."""
    parts = urllib.parse.urlsplit(base_url)
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise SystemExit(f"--url must be http:// on a loopback address, not {base_url!r}")
    host, port, run_id, texts = parts.hostname or "", parts.port or 80, uuid.uuid4().hex[:10], load_texts(400, 0)
    try:
        cookie, csrf = login(host, port, args.user, args.password)
        requests = Requests(args.token, args.webhook_secret, texts, run_id, cookie, csrf)
        warm_up(host, port, requests, ("web", "classify", "batch"), 4)  # not webhooks: every id must be new
    except (RuntimeError, OSError) as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    phases = [("base", args.rate, args.duration)]
    if args.spike_rate > 0 and args.spike_duration > 0:
        phases = [("base", args.rate, args.duration / 2), ("spike", args.spike_rate, args.spike_duration),
                  ("after", args.rate, args.duration / 2)]
    plan = {"phases": phases, "mix": MIX, "seed": 0, "max_lateness": MAX_LATENESS, "run_id": run_id,
            "cookie": cookie, "csrf": csrf}
    with tempfile.TemporaryDirectory(prefix="triage-load-") as tmp:
        (Path(tmp) / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        env = own_env(BENCH_TOKEN=args.token or "", BENCH_WEBHOOK_SECRET=args.webhook_secret or "",
                      BENCH_TEXTS=f"{tmp}/texts.json", BENCH_PLAN=json.dumps(plan))
        started = time.perf_counter()
        load = locust("OpenLoop", base_url, env, Path(tmp) / "load", args.concurrency,
                      sum(s for _, _, s in phases) + 180)
        wall = time.perf_counter() - started
    acked, total = load["acks"], load["rows"][-1]  # the last row: every request
    summary = {"scheduled": load["scheduled"], "not_sent_in_time": load["not_sent_in_time"],
               "sent": total["requests"], "unexpected": total["failures"],
               **{k: total[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
               "requests": {f"{r['type']} {r['name']}": r["requests"] for r in load["rows"][:-1]},
               "failures": load["failures"], "client_cpu_s": load["client_cpu_s"], "wall_s": wall}

    def check(a: dict[str, int]) -> dict[str, Any]:
        return check_webhooks_in_db(database_url, run_id, a)

    webhooks = {**check(acked), "self_test": self_test(check, acked)}
    server = server_info() if server_info else {}
    print(load["printed"])
    print(f"\n(ms from the scheduled time) requests scheduled: {summary['scheduled']}, sent: {summary['sent']}, "
          f"not sent in time: {summary['not_sent_in_time']}; load generator CPU {summary['client_cpu_s']:.1f} s "
          f"in {wall:.1f} s")
    print(f"unexpected errors: {summary['unexpected']}")
    print(f"webhooks acknowledged: {webhooks['acknowledged']}, checked by {webhooks['method']}: stored "
          f"{webhooks['stored']}, doubled: {len(webhooks['doubled'])}, mismatched: {len(webhooks['mismatched'])}")
    print(f"lost events: {len(webhooks['lost'])}")
    verdict = {True: "OK", False: "FAILED", None: "not run (fewer than 2 acknowledged webhooks)"}
    print(f"webhook check self-test: {verdict[webhooks['self_test']]}")
    if server:
        print(f"server: {server}")
    failed = bool(summary["unexpected"] or webhooks["lost"] or webhooks["doubled"] or webhooks["mismatched"]
                  or webhooks["self_test"] is False or (server and not server["alive"]))
    print(f"result: {'FAIL' if failed else 'OK'}")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "run_id": run_id, "plan": [{"phase": n, "rate": r, "seconds": s} for n, r, s in phases],
            "summary": summary, "webhooks": {k: (len(v) if isinstance(v, list) else v) for k, v in webhooks.items()},
            "lost_ids": webhooks["lost"][:100], "server": server, "result": "FAIL" if failed else "OK",
        }, indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if failed else 0


@contextmanager
def serving(models: Path, workers: int, settings: dict[str, str] | None = None) -> Iterator[tuple[Any, dict[str, str]]]:
    """A throwaway `triage serve` (the test suite's launcher) on these models, with an agent account and a token."""
    import secrets

    from tests.servers import add_user, create_token_direct, running_server

    with running_server({"TRIAGE_MODELS_DIR": str(models), **(settings or {})}, workers=workers) as server:
        creds = {"user": "load-agent", "password": secrets.token_hex(16), "token": create_token_direct(server.env, "load"),
                 "webhook_secret": server.env["TRIAGE_WEBHOOK_SECRET"], "database_url": server.env["TRIAGE_DATABASE_URL"]}
        add_user(server.env, creds["user"], "agent", creds["password"])
        yield server, creds


def start_and_run(args: argparse.Namespace) -> int:
    """Run against a throwaway `triage serve` with a copy of the models (or the bundled default, trained first)."""
    import shutil

    from triage.lifecycle import ensure_model
    from triage.registry import Registry

    with tempfile.TemporaryDirectory(prefix="triage-load-") as tmp:
        models = Path(tmp) / "models"
        source = args.models_dir or ROOT / "models"
        if Registry(source).active():
            shutil.copytree(source, models)  # the server must not touch the caller's models
        elif args.models_dir is not None:
            print(f"{args.models_dir} has no active model version", file=sys.stderr)
            return 2
        else:
            print("no active model in models/: training the default model first", file=sys.stderr)
            ensure_model(Registry(models), ROOT / "data", None)
        with serving(models, args.workers) as (server, creds):
            vars(args).update(creds)
            before = server.worker_pids()
            return run(args, server.base_url, creds["database_url"],
                       lambda: {"alive": server.process.poll() is None, "workers_before": sorted(before),
                                "workers_after": sorted(server.worker_pids())})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="base URL of a running server (loopback only)")
    ap.add_argument("--start-server", action="store_true", help="start a throwaway `triage serve` instead")
    ap.add_argument("--workers", type=int, default=2, help="workers of the started server (default 2)")
    ap.add_argument("--models-dir", type=Path, help="models to copy for the started server (default: models/)")
    ap.add_argument("--token", help="API token")
    ap.add_argument("--webhook-secret", help="the server's TRIAGE_WEBHOOK_SECRET (whsec_...)")
    ap.add_argument("--user", help="agent account for the web form")
    ap.add_argument("--password", help="its password")
    ap.add_argument("--database-url", help="the server's TRIAGE_DATABASE_URL, where the webhooks are checked")
    ap.add_argument("--rate", type=float, default=50.0, help="requests per second (default 50)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds at --rate (default 60)")
    ap.add_argument("--spike-rate", type=float, default=0.0, help="requests per second of the spike (0: none)")
    ap.add_argument("--spike-duration", type=float, default=0.0, help="seconds of the spike")
    ap.add_argument("--concurrency", type=int, default=64, help="locust users = most requests in flight")
    ap.add_argument("--json-out", type=Path, help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    if bool(args.url) == bool(args.start_server):
        ap.error("give exactly one of --url and --start-server")
    if not (0 < args.rate <= 5000 and 0 < args.duration <= 3600 and 0 <= args.spike_rate <= 5000
            and 0 <= args.spike_duration <= 600 and 1 <= args.concurrency <= 512):
        ap.error("rate, duration, spike and concurrency must be positive and bounded")
    if args.start_server:
        return start_and_run(args)
    missing = [f"--{n.replace('_', '-')}" for n in ("token", "webhook_secret", "user", "password", "database_url")
               if getattr(args, n) is None]
    if missing:
        ap.error(f"with --url, give {', '.join(missing)} (the webhook check reads the server's database)")
    return run(args, args.url, args.database_url)


if __name__ == "__main__":
    raise SystemExit(main())
