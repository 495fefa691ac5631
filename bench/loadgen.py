"""Open-loop mixed traffic against a running (or self-started) `triage serve`, then an exactly-once check.

    python -m bench.loadgen --start-server --rate 50 --duration 60 --spike-rate 500 --spike-duration 10
    python -m bench.loadgen --url http://127.0.0.1:8000 --token T --webhook-secret whsec_... \\
        --user U --password P --database-url sqlite:///instance/triage.sqlite --rate 50 --duration 60

Traffic: the agent's web form (after login, with the CSRF token), API classify, API batch of 20, signed
webhooks. Requests leave at their scheduled time whatever the server does (open loop) and latency runs
from that time, so a server that falls behind shows it; a spike runs between two halves at --rate.
Then every acknowledged webhook must be stored exactly once, under the inquiry id it was answered
with, in the server's database; and the same check must catch a corrupted copy of the acknowledgements. Loopback only, bounded in time. Exit status 1 on any unexpected answer or any lost,
doubled or mismatched webhook; 2 when it cannot start.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import hmac
import http.client
import ipaddress
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy

from bench import ROOT

KINDS = ("web", "classify", "batch", "webhook")
EXPECTED = {"web": 200, "classify": 201, "batch": 200, "webhook": 200, "healthz": 200}
LABEL = {"web": "POST / (agent form)", "classify": "POST /api/v1/classify", "batch": "POST /api/v1/classify/batch",
         "webhook": "POST /api/v1/webhooks/inquiries"}
BATCH_ITEMS = 20
Check = Callable[[dict[str, int]], dict[str, Any]]


@dataclass(frozen=True)
class Slot:
    """One scheduled request."""

    seq: int
    due: float  # seconds after the start
    phase: str
    kind: str


@dataclass
class Outcome:
    """What happened to one slot (times in seconds after the start; sent_at None: not sent in time)."""

    sent_at: float | None = None
    ended_at: float | None = None
    status: int | None = None
    error: str | None = None
    webhook_id: str | None = None
    inquiry_id: int | None = None
    duplicate: bool | None = None


def phases(rate: float, duration: float, spike_rate: float, spike_duration: float) -> list[tuple[str, float, float]]:
    """Return (name, rate, seconds) of each phase."""
    if spike_rate > 0 and spike_duration > 0:
        return [("base", rate, duration / 2), ("spike", spike_rate, spike_duration), ("after", rate, duration / 2)]
    return [("base", rate, duration)]


def schedule(plan: list[tuple[str, float, float]], mix: dict[str, float], seed: int) -> list[Slot]:
    """Evenly spaced slots at each phase's rate; kinds drawn from the mix (seeded)."""
    rng = random.Random(seed)
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]
    slots: list[Slot] = []
    start = 0.0
    for name, rate, seconds in plan:
        for j in range(round(rate * seconds)):
            slots.append(Slot(len(slots), start + j / rate, name, rng.choices(kinds, [mix[k] for k in kinds])[0]))
        start += seconds
    return slots


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


class Client:
    """Builds each kind of request; one instance shared by every thread (read-only after login)."""

    def __init__(self, host: str, port: int, token: str | None, webhook_secret: str | None, texts: list[str],
                 run_id: str, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.token, self.webhook_secret, self.texts, self.run_id = token, webhook_secret, texts, run_id
        self.cookie = self.csrf = ""
        self.batches = [json.dumps({"items": [{"text": texts[(k * BATCH_ITEMS + j) % len(texts)], "id": f"b{j}"}
                                              for j in range(BATCH_ITEMS)]}, ensure_ascii=False).encode()
                        for k in range(16)]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def once(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
        """Send one request on a connection of its own."""
        from tests.servers import send_once

        return send_once(self.host, self.port, method, path, body, headers, self.timeout)

    def _page(self, method: str, path: str, body: bytes | None = None, expect: int = 200) -> bytes:
        """Send with the session cookie, keep the cookies it sets, return the body."""
        headers = {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}
        status, page, answer = self.once(method, path, body, headers)
        if status != expect:
            raise RuntimeError(f"{method} {path} answered {status} (wrong user or password, or rate limited?)")
        jar = dict(c.split("=", 1) for c in self.cookie.split("; ") if "=" in c)
        for raw in answer.get_all("Set-Cookie") or []:
            name, _, value = raw.split(";", 1)[0].partition("=")
            jar[name.strip()] = value
        self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        return page

    def login(self, user: str, password: str) -> None:
        """Log in once (the login limit is a few per minute); keep the session and the form's CSRF token."""
        def csrf(page: bytes) -> str:
            m = re.search(r'name="csrf_token" value="([^"]+)"', page.decode("utf-8", errors="replace"))
            if m is None:
                raise RuntimeError("no csrf_token in the page")
            return m.group(1)

        form = {"name": user, "password": password, "csrf_token": csrf(self._page("GET", "/login"))}
        self._page("POST", "/login", urllib.parse.urlencode(form).encode(), expect=302)
        # The login cleared the session, and its CSRF token with it: take the form page's new one.
        self.csrf = csrf(self._page("GET", "/"))

    def warm_up(self, kinds: tuple[str, ...], rounds: int) -> None:
        """Send a few of each kind outside the clock (lazy imports, the FAQ index, first queries, every worker)."""
        for k in range(rounds):
            for kind in kinds:
                method, path, body, headers, _ = self.request(kind, k)
                status, raw, _ = self.once(method, path, body, headers)
                if status != EXPECTED[kind]:
                    raise RuntimeError(f"warm-up {LABEL[kind]} answered {status}: {raw[:300]!r}")

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


def run_traffic(client: Client, slots: list[Slot], concurrency: int, max_lateness: float) -> list[Outcome]:
    """Send every slot at its time from `concurrency` threads, each keeping its connection."""
    outcomes = [Outcome() for _ in slots]
    lock = threading.Lock()
    cursor = iter(range(len(slots)))
    clock = time.perf_counter
    t0 = clock() + 0.2  # every thread is waiting before the first slot is due
    hard_stop = t0 + (slots[-1].due if slots else 0.0) + client.timeout + 10.0

    def worker() -> None:
        conn = client.connection()
        try:
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                due = t0 + slots[i].due
                if due > clock():
                    time.sleep(due - clock())
                now = clock()
                if now - due > max_lateness or now > hard_stop:
                    continue  # not sent: every thread was busy
                out = outcomes[i]
                method, path, body, headers, out.webhook_id = client.request(slots[i].kind, slots[i].seq)
                out.sent_at = now - t0
                try:
                    conn.request(method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data, out.status = resp.read(), resp.status
                except (OSError, http.client.HTTPException) as exc:
                    out.error, data = type(exc).__name__, b""
                    conn.close()  # a fresh connection for the next request
                out.ended_at = clock() - t0
                if out.webhook_id and out.status is not None and 200 <= out.status < 300:
                    try:
                        answer = json.loads(data)
                        out.inquiry_id, out.duplicate = int(answer["inquiry_id"]), bool(answer["duplicate"])
                    except (ValueError, KeyError, TypeError):
                        out.error = "bad webhook answer"
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True, name=f"load-{k}") for k in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(0.1, hard_stop + 5 - clock()))
    for o in outcomes:
        if o.sent_at is not None and o.ended_at is None and o.error is None:
            o.error = "no answer by the hard stop"
    return outcomes


def check_webhooks_in_db(database_url: str, run_id: str, acked: dict[str, int]) -> dict[str, Any]:
    """Every acknowledged id stored once, under the inquiry id it was answered with."""
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


def self_test(check: Check, acked: dict[str, int]) -> bool | None:
    """Corrupt a copy (an id never sent, two inquiry ids swapped): the check must report both (None: too few)."""
    if len(acked) < 2:
        return None
    a, b = list(acked)[:2]
    canary = f"{a}-never-sent"
    got = check({**acked, a: acked[b], b: acked[a], canary: 2**31 - 1})
    return got["lost"] == [canary] and got["mismatched"] == sorted([a, b])


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarise(slots: list[Slot], outcomes: list[Outcome], plan: list[tuple[str, float, float]]) -> dict[str, Any]:
    """Counts, statuses, errors and latency percentiles per phase and per kind."""
    def stats(pairs: list[tuple[Slot, Outcome]], seconds: float | None = None) -> dict[str, Any]:
        sent = [(s, o) for s, o in pairs if o.sent_at is not None]
        answered = [(s, o) for s, o in sent if o.ended_at is not None and o.status is not None]
        latency = [(o.ended_at - s.due) * 1e3 for s, o in answered]  # from the scheduled time
        lag = [(o.sent_at - s.due) * 1e3 for s, o in sent]  # how late the client sent: its own delay
        out = {
            "scheduled": len(pairs), "sent": len(sent), "not_sent_in_time": len(pairs) - len(sent),
            "statuses": dict(sorted(Counter(str(o.status) for _, o in answered).items())),
            "errors": dict(Counter(o.error for _, o in sent if o.error)),
            "unexpected": sum(o.error is not None or o.status is None or not 200 <= o.status < 400 for _, o in sent),
            "p50_ms": _pct(latency, 50), "p95_ms": _pct(latency, 95), "p99_ms": _pct(latency, 99),
            "max_ms": max(latency, default=float("nan")), "send_lag_p95_ms": _pct(lag, 95),
        }
        if seconds:
            out["target_rps"], out["sent_rps"] = len(pairs) / seconds, len(sent) / seconds
        return out

    pairs = list(zip(slots, outcomes, strict=True))
    return {
        "phases": {name: stats([p for p in pairs if p[0].phase == name], sec) for name, _, sec in plan},
        "kinds": {k: stats([p for p in pairs if p[0].kind == k]) for k in KINDS if any(s.kind == k for s in slots)},
        "all": stats(pairs, sum(p[2] for p in plan)),
    }


def print_summary(summary: dict[str, Any], webhooks: dict[str, Any], server: dict[str, Any]) -> None:
    """Human-readable figures on stdout (the lines tests and readers look for start at the margin)."""
    columns = ("scheduled", "sent", "not_sent_in_time", "unexpected", "p50_ms", "p95_ms", "p99_ms", "max_ms", "send_lag_p95_ms")
    kinds = {LABEL[k]: v for k, v in summary["kinds"].items()}
    for title, groups, cols in (("phase", summary["phases"], ("target_rps", "sent_rps", *columns)),
                                ("kind", kinds, columns)):
        heads = [c.removesuffix("_ms").replace("_", " ") for c in cols]
        print(f"\n{title:<32}" + "".join(f"{h:>{max(7, len(h) + 2)}}" for h in heads) + "  statuses")
        for name, g in groups.items():
            statuses = [f"{s}:{n}" for s, n in g["statuses"].items()] + [f"{e}:{n}" for e, n in g["errors"].items()]
            print(f"{name:<32}" + "".join(f"{g[c]:>{max(7, len(h) + 2)}.{1 if c.endswith('rps') else 0}f}"
                                          for c, h in zip(cols, heads, strict=True)) + "  " + " ".join(statuses))
    a = summary["all"]
    print(f"\n(ms from the scheduled time) requests scheduled: {a['scheduled']}, sent: {a['sent']}, not sent in time: "
          f"{a['not_sent_in_time']}; achieved {a['sent_rps']:.1f}/s of {a['target_rps']:.1f}/s; load generator CPU "
          f"{summary['client_cpu_s']:.1f} s in {summary['wall_s']:.1f} s")
    print(f"unexpected errors: {a['unexpected']}")
    print(f"webhooks acknowledged: {webhooks['acknowledged']}, checked by {webhooks['method']}: stored "
          f"{webhooks['stored']}, doubled: {len(webhooks['doubled'])}, mismatched: {len(webhooks['mismatched'])}, "
          f"answered as duplicates: {webhooks['answered_duplicate']}")
    print(f"lost events: {len(webhooks['lost'])}")
    verdict = {True: "OK", False: "FAILED", None: "not run (fewer than 2 acknowledged webhooks)"}
    print(f"webhook check self-test: {verdict[webhooks['self_test']]}")
    if server:
        print(f"server: {server}")


def run(args: argparse.Namespace, base_url: str, database_url: str,
        server_info: Callable[[], dict[str, Any]] | None = None) -> int:
    """Warm up, send the traffic, check the webhooks, print (and save) the figures; return the exit status."""
    parts = urllib.parse.urlsplit(base_url)
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise SystemExit(f"--url must be http:// on a loopback address, not {base_url!r}")
    run_id = uuid.uuid4().hex[:10]
    client = Client(parts.hostname or "", parts.port or 80, args.token, args.webhook_secret,
                    load_texts(400, args.seed), run_id, args.timeout)
    try:
        if args.mix.get("web", 0) > 0:
            client.login(args.user or "", args.password or "")
        client.warm_up(tuple(k for k in ("web", "classify", "batch") if args.mix.get(k, 0) > 0), 4)  # not webhooks
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2

    plan = phases(args.rate, args.duration, args.spike_rate, args.spike_duration)
    slots = schedule(plan, args.mix, args.seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcomes = run_traffic(client, slots, args.concurrency, args.max_lateness)
    summary = summarise(slots, outcomes, plan)
    summary["client_cpu_s"], summary["wall_s"] = time.process_time() - cpu0, time.perf_counter() - wall0

    acked = {o.webhook_id: o.inquiry_id for o in outcomes if o.webhook_id and o.inquiry_id is not None
             and o.error is None}
    def check(a: dict[str, int]) -> dict[str, Any]:
        return check_webhooks_in_db(database_url, run_id, a)

    webhooks = check(acked)
    webhooks["answered_duplicate"] = sum(1 for o in outcomes if o.webhook_id and o.duplicate)  # all ids are new
    webhooks["self_test"] = self_test(check, acked)
    server = server_info() if server_info else {}
    print_summary(summary, webhooks, server)
    failed = bool(summary["all"]["unexpected"] or webhooks["lost"] or webhooks["doubled"] or webhooks["mismatched"]
                  or webhooks["answered_duplicate"] or webhooks["self_test"] is False
                  or (server and not server["alive"]))
    print(f"result: {'FAIL' if failed else 'OK'}")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "run_id": run_id, "plan": [{"phase": n, "rate": r, "seconds": s} for n, r, s in plan],
            "summary": summary, "webhooks": {k: (len(v) if isinstance(v, list) else v) for k, v in webhooks.items()},
            "lost_ids": webhooks["lost"][:100], "server": server, "result": "FAIL" if failed else "OK",
        }, indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if failed else 0


@contextmanager
def serving(models: Path, workers: int) -> Iterator[tuple[Any, dict[str, str]]]:
    """A throwaway `triage serve` (the test suite's launcher) on these models, with an agent account and a token."""
    import secrets

    from tests.servers import add_user, create_token_direct, running_server

    with running_server({"TRIAGE_MODELS_DIR": str(models)}, workers=workers) as server:
        creds = {"user": "load-agent", "password": secrets.token_hex(16), "token": create_token_direct(server.env, "load"),
                 "webhook_secret": server.env["TRIAGE_WEBHOOK_SECRET"], "database_url": server.env["TRIAGE_DATABASE_URL"]}
        add_user(server.env, creds["user"], "agent", creds["password"])
        yield server, creds


def start_and_run(args: argparse.Namespace) -> int:
    """Run against a throwaway `triage serve` with a copy of the models (or the bundled default, trained first)."""
    import shutil
    import tempfile

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


def parse_mix(raw: str) -> dict[str, float]:
    """`web=2,classify=3` -> weights per kind."""
    mix = {name.strip(): float(w) for name, _, w in (p.partition("=") for p in raw.split(","))}
    if set(mix) - set(KINDS) or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError(f"--mix needs positive weights of {', '.join(KINDS)}, not {raw!r}")
    return mix


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
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("web=2,classify=3,batch=1,webhook=4"),
                    help="weights of the kinds (default web=2,classify=3,batch=1,webhook=4)")
    ap.add_argument("--concurrency", type=int, default=64, help="client threads = most requests in flight")
    ap.add_argument("--max-lateness", type=float, default=2.0,
                    help="seconds after its time a request is still sent (later: not sent in time)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", type=Path, help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    if bool(args.url) == bool(args.start_server):
        ap.error("give exactly one of --url and --start-server")
    if not (0 < args.rate <= 5000 and 0 < args.duration <= 3600 and 0 <= args.spike_rate <= 5000
            and 0 <= args.spike_duration <= 600 and 1 <= args.concurrency <= 512):
        ap.error("rate, duration, spike and concurrency must be positive and bounded")
    if args.start_server:
        return start_and_run(args)
    needs = {"token": "classify batch webhook", "webhook_secret": "webhook", "user": "web", "password": "web"}
    missing = [f"--{n.replace('_', '-')}" for n, kinds in needs.items()
               if getattr(args, n) is None and any(args.mix.get(k, 0) > 0 for k in kinds.split())]
    missing += [] if args.database_url else ["--database-url (the webhook check reads the server's database)"]
    if missing:
        ap.error(f"with --url and this --mix, give {', '.join(missing)}")
    return run(args, args.url, args.database_url)


if __name__ == "__main__":
    raise SystemExit(main())
