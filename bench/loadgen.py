"""Open-loop mixed traffic against a running (or self-started) `triage serve`, then a no-lost-event check.

    python -m bench.loadgen --url http://127.0.0.1:8000 --token T --webhook-secret whsec_... \\
        --user U --password P --rate 50 --duration 60 --spike-rate 500 --spike-duration 10
    python -m bench.loadgen --start-server --rate 50 --duration 60 --spike-rate 500 --spike-duration 10

Traffic: an agent's web form (POST / after login, with the CSRF token), API classify, API batch of 20,
signed webhooks (Standard Webhooks). Requests are scheduled at the target rate whatever the server does
(open loop), and latency runs from the scheduled time, so a server that falls behind shows it in the
latency instead of silently slowing the sender. With a spike the run is: half the duration at --rate,
the spike, the other half at --rate (the recovery is measured too).

A request that no client thread could even start within --max-lateness of its scheduled time (all
--concurrency threads were waiting for answers, or the client was starved of CPU) is counted "not sent
in time", never as a server error; the achieved rate per phase is printed
next to the target. Afterwards every acknowledged webhook is looked up (in the database when it is
known, else with GET /api/v1/inquiries/<id>): each must be stored exactly once.

Standard library only; loopback only; every loop is bounded in time. Exit status 1 on any unexpected
answer (not 2xx/3xx, or no answer) or any lost, doubled or mismatched webhook; 2 when it cannot start.
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
import sqlite3
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("web", "classify", "batch", "webhook")
EXPECTED = {"web": 200, "classify": 201, "batch": 200, "webhook": 200}
LABEL = {"web": "POST / (agent form)", "classify": "POST /api/v1/classify", "batch": "POST /api/v1/classify/batch",
         "webhook": "POST /api/v1/webhooks/inquiries"}
BATCH_ITEMS = 20
FALLBACK_TEXTS = [
    "パスワードの変更方法を教えてください",
    "漏えいの補償としてお金はいくら支払われますか",
    "弁護士と相談のうえ訴訟を起こします",
    "カードが今まさに不正利用されています",
    "お詫びのクーポンはいつ届きますか",
]


# -- traffic ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One scheduled request."""

    seq: int
    due: float  # seconds after the start
    phase: str
    kind: str


@dataclass
class Outcome:
    """What happened to one slot."""

    sent_at: float | None = None  # seconds after the start; None: not sent in time
    ended_at: float | None = None
    status: int | None = None
    error: str | None = None
    webhook_id: str | None = None
    inquiry_id: int | None = None
    duplicate: bool | None = None

    @property
    def unexpected(self) -> bool:
        return self.sent_at is not None and (self.status is None or not 200 <= self.status < 400)


def phases(rate: float, duration: float, spike_rate: float, spike_duration: float) -> list[tuple[str, float, float]]:
    """Return (name, rate, seconds) of each phase."""
    if spike_rate > 0 and spike_duration > 0:
        first = duration / 2
        return [("base", rate, first), ("spike", spike_rate, spike_duration), ("after", rate, duration - first)]
    return [("base", rate, duration)]


def schedule(plan: list[tuple[str, float, float]], mix: dict[str, float], seed: int) -> list[Slot]:
    """Evenly spaced slots at each phase's rate; kinds drawn from the mix (seeded)."""
    rng = random.Random(seed)
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]
    weights = [mix[k] for k in kinds]
    slots: list[Slot] = []
    start = 0.0
    for name, rate, seconds in plan:
        n = int(round(rate * seconds))
        for j in range(n):
            slots.append(Slot(len(slots), start + j / rate, name, rng.choices(kinds, weights)[0]))
        start += seconds
    return slots


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with a `whsec_<base64>` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def load_texts(n: int, seed: int) -> list[str]:
    """Real inquiries from data/test.csv (short ones), else a few built-in ones."""
    path = ROOT / "data" / "test.csv"
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            texts = [row["text"] for row in csv.DictReader(f) if row.get("text") and len(row["text"]) <= 400]
    except (OSError, KeyError, UnicodeDecodeError):
        texts = []
    if not texts:
        return FALLBACK_TEXTS
    return random.Random(seed).sample(texts, min(n, len(texts)))


class Client:
    """Builds each kind of request; one instance shared by every thread (read-only after login)."""

    def __init__(self, host: str, port: int, token: str | None, webhook_secret: str | None, texts: list[str],
                 run_id: str, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.token, self.webhook_secret, self.texts, self.run_id = token, webhook_secret, texts, run_id
        self.cookie = ""
        self.csrf = ""
        self.batches = [json.dumps({"items": [{"text": texts[(k * BATCH_ITEMS + j) % len(texts)], "id": f"b{j}"}
                                              for j in range(BATCH_ITEMS)]}, ensure_ascii=False).encode()
                        for k in range(16)]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _once(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.headers
        finally:
            conn.close()

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        jar = dict(c.split("=", 1) for c in self.cookie.split("; ") if "=" in c)
        for raw in headers.get_all("Set-Cookie") or []:
            name, _, value = raw.split(";", 1)[0].partition("=")
            jar[name.strip()] = value
        self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())

    def _csrf_from(self, page: bytes) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.decode("utf-8", errors="replace"))
        if m is None:
            raise RuntimeError("no csrf_token in the page")
        return m.group(1)

    def login(self, user: str, password: str) -> None:
        """Log in once (the login limit is a few per minute) and keep the session and the form's CSRF token."""
        status, page, headers = self._once("GET", "/login")
        if status != 200:
            raise RuntimeError(f"GET /login answered {status}")
        self._keep_cookies(headers)
        form = urllib.parse.urlencode({"name": user, "password": password, "csrf_token": self._csrf_from(page)})
        status, _, headers = self._once("POST", "/login", form.encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        if status != 302:
            raise RuntimeError(f"login as {user!r} answered {status} (wrong user or password, or rate limited)")
        self._keep_cookies(headers)
        # The login cleared the session, and its CSRF token with it: take the form page's new one.
        status, page, headers = self._once("GET", "/", headers={"Cookie": self.cookie})
        if status != 200:
            raise RuntimeError(f"GET / after login answered {status}")
        self._keep_cookies(headers)
        self.csrf = self._csrf_from(page)

    def request(self, kind: str, seq: int) -> tuple[str, str, bytes, dict[str, str], str | None]:
        """Return (method, path, body, headers, webhook id) of the seq-th request of a kind."""
        text = self.texts[seq % len(self.texts)]
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


def run_traffic(client: Client, slots: list[Slot], concurrency: int, max_lateness: float,
                say: Callable[[str], None]) -> tuple[list[Outcome], float]:
    """Send every slot at its time from `concurrency` threads; return the outcomes and the start (perf_counter)."""
    outcomes = [Outcome() for _ in slots]
    lock = threading.Lock()
    cursor = [0]
    clock = time.perf_counter
    total = slots[-1].due if slots else 0.0
    t0 = clock() + 0.2  # every thread is waiting before the first slot is due
    hard_stop = t0 + total + client.timeout + 10.0

    def worker() -> None:
        conn = client.connection()
        try:
            while True:
                with lock:
                    i = cursor[0]
                    cursor[0] += 1
                if i >= len(slots):
                    return
                slot = slots[i]
                due = t0 + slot.due
                wait = due - clock()
                if wait > 0:
                    time.sleep(wait)
                now = clock()
                if now - due > max_lateness or now > hard_stop:
                    continue  # not sent: every thread was busy (outcome stays "not sent")
                out = outcomes[i]
                method, path, body, headers, msg_id = client.request(slot.kind, slot.seq)
                out.webhook_id = msg_id
                out.sent_at = now - t0
                try:
                    conn.request(method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    out.status = resp.status
                except (OSError, http.client.HTTPException) as exc:
                    out.error = type(exc).__name__
                    conn.close()  # a fresh connection for the next request
                    data = b""
                out.ended_at = clock() - t0
                if msg_id and out.status is not None and 200 <= out.status < 300:
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
    # Progress every ~10 s on stderr (bounded by the hard stop).
    last = clock()
    while any(th.is_alive() for th in threads) and clock() < hard_stop + 5:
        time.sleep(0.2)
        if clock() - last >= 10:
            last = clock()
            done = sum(o.ended_at is not None for o in outcomes)
            say(f"{last - t0:5.1f} s: {done} answered or failed of {len(slots)} scheduled")
    for th in threads:
        th.join(timeout=1.0)
    stuck = sum(th.is_alive() for th in threads)
    if stuck:
        say(f"{stuck} client threads still waiting at the hard stop; their requests count as errors")
        for o in outcomes:
            if o.sent_at is not None and o.ended_at is None and o.error is None:
                o.error = "no answer by the hard stop"
    return outcomes, t0


# -- checking the webhooks ---------------------------------------------------------------------------------


def check_webhooks_in_db(db_path: Path, run_id: str, acked: dict[str, int]) -> dict[str, Any]:
    """Every acknowledged id stored once, under the inquiry id it was answered with (read-only connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT external_id, id FROM inquiries WHERE source = 'webhook' AND external_id LIKE ?",
                            (f"load-{run_id}-%",)).fetchall()
    finally:
        conn.close()
    counts = Counter(ext for ext, _ in rows)
    row_id = {ext: rid for ext, rid in rows}
    lost = sorted(m for m in acked if m not in counts)
    doubled = sorted(m for m, n in counts.items() if n > 1)
    mismatched = sorted(m for m, rid in acked.items() if m in row_id and row_id[m] != rid)
    return {"method": "database", "acknowledged": len(acked), "stored": len(rows), "lost": lost,
            "doubled": doubled, "mismatched": mismatched,
            "stored_without_ack": len([m for m in counts if m not in acked])}


def check_webhooks_by_api(client: Client, acked: dict[str, int], deadline: float) -> dict[str, Any]:
    """GET /api/v1/inquiries/<id> for each acknowledged webhook (8 threads, bounded in time)."""
    headers = {"Authorization": f"Bearer {client.token}"}

    def one(item: tuple[str, int]) -> str:
        msg_id, inquiry_id = item
        if time.monotonic() > deadline:
            return "unchecked"
        try:
            status, raw, _ = client._once("GET", f"/api/v1/inquiries/{inquiry_id}", headers=headers)
        except (OSError, http.client.HTTPException):
            return "unchecked"
        if status == 404:
            return "lost"
        if status != 200:
            return "unchecked"
        row = json.loads(raw)
        return "ok" if row.get("source") == "webhook" and row.get("external_id") == msg_id else "mismatched"

    with ThreadPoolExecutor(8) as pool:
        verdicts = dict(zip(acked, pool.map(one, acked.items()), strict=True))
    by = defaultdict(list)
    for msg_id, verdict in verdicts.items():
        by[verdict].append(msg_id)
    # Through the API a second row under the same id cannot be seen; the unique (source, external_id)
    # constraint of the schema is what excludes it.
    return {"method": "api", "acknowledged": len(acked), "stored": len(by["ok"]) + len(by["mismatched"]),
            "lost": sorted(by["lost"]), "doubled": [], "mismatched": sorted(by["mismatched"]),
            "unchecked": sorted(by["unchecked"])}


# -- the summary -------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def summarise(slots: list[Slot], outcomes: list[Outcome], plan: list[tuple[str, float, float]]) -> dict[str, Any]:
    """Counts, statuses, errors and latency percentiles per kind and per phase."""
    def stats(pairs: list[tuple[Slot, Outcome]], seconds: float | None = None) -> dict[str, Any]:
        sent = [(s, o) for s, o in pairs if o.sent_at is not None]
        answered = [(s, o) for s, o in sent if o.ended_at is not None and o.status is not None]
        latency = sorted((o.ended_at - s.due) * 1e3 for s, o in answered)  # from the scheduled time
        lag = sorted((o.sent_at - s.due) * 1e3 for s, o in sent)  # how late the client sent: its own delay
        service = sorted((o.ended_at - o.sent_at) * 1e3 for s, o in answered)  # from the actual send
        statuses = Counter(str(o.status) for _, o in answered)
        errors = Counter(o.error for _, o in sent if o.error)
        out = {
            "scheduled": len(pairs), "sent": len(sent), "not_sent_in_time": len(pairs) - len(sent),
            "statuses": dict(sorted(statuses.items())), "errors": dict(errors),
            "unexpected": sum(o.unexpected or (o.error is not None) for _, o in sent),
            "p50_ms": percentile(latency, 50), "p95_ms": percentile(latency, 95), "p99_ms": percentile(latency, 99),
            "max_ms": latency[-1] if latency else float("nan"), "service_p50_ms": percentile(service, 50),
            "service_p95_ms": percentile(service, 95), "send_lag_p50_ms": percentile(lag, 50),
            "send_lag_p95_ms": percentile(lag, 95),
        }
        if seconds:
            out["target_rps"] = len(pairs) / seconds
            out["sent_rps"] = len(sent) / seconds
            ok = sum(1 for _, o in answered if 200 <= o.status < 400)
            out["answered_ok_rps"] = ok / seconds
        return out

    pairs = list(zip(slots, outcomes, strict=True))
    total_seconds = sum(p[2] for p in plan)
    out = {
        "phases": {name: stats([p for p in pairs if p[0].phase == name], seconds) for name, _, seconds in plan},
        "kinds": {k: stats([p for p in pairs if p[0].kind == k]) for k in KINDS if any(s.kind == k for s in slots)},
        "all": stats(pairs, total_seconds),
    }
    # One-second windows by scheduled time: the shape of the run, and how long the spike's backlog lasted.
    timeline = []
    for w in range(int(total_seconds + 0.999)):
        window = [p for p in pairs if w <= p[0].due < w + 1]
        st = stats(window, 1.0)
        timeline.append({"second": w, "phase": window[0][0].phase if window else None, "scheduled": len(window),
                         "sent": st["sent"], "ok": st["answered_ok_rps"], "p95_ms": st["p95_ms"]})
    out["timeline"] = timeline
    if len(plan) == 3:
        base_p95 = out["phases"]["base"]["p95_ms"]
        spike_end = plan[0][2] + plan[1][2]
        after = [t for t in timeline if t["second"] >= spike_end]
        # Recovered: from this window on, every window's p95 is within twice the base phase's p95.
        recovered = None
        for i, t in enumerate(after):
            if all(u["p95_ms"] <= 2 * base_p95 for u in after[i:] if u["sent"]):
                recovered = t["second"] - spike_end
                break
        out["recovery_seconds"] = recovered
    return out


def print_summary(summary: dict[str, Any], webhooks: dict[str, Any], plan: list[tuple[str, float, float]],
                  server: dict[str, Any]) -> None:
    """Human-readable figures on stdout."""
    def ms(v: float) -> str:
        return "     -" if v != v else f"{v:6.0f}" if v >= 100 else f"{v:6.1f}"

    print("\nphase    target/s   sent/s  2xx-3xx/s  scheduled   sent  not sent in time  unexpected"
          "    p50    p95    p99  send lag p95  (ms from scheduled time)")
    for name, rate, seconds in plan:
        p = summary["phases"][name]
        print(f"{name:<8} {rate:8.0f} {p['sent_rps']:8.1f} {p['answered_ok_rps']:10.1f} {p['scheduled']:10d} "
              f"{p['sent']:6d} {p['not_sent_in_time']:17d} {p['unexpected']:11d} "
              f"{ms(p['p50_ms'])} {ms(p['p95_ms'])} {ms(p['p99_ms'])}        {ms(p['send_lag_p95_ms'])}"
              f"   ({seconds:.0f} s)")
    if "recovery_seconds" in summary:
        rec = summary["recovery_seconds"]
        print("after the spike: " + (f"p95 back within twice the base p95 {rec} s after it ended" if rec is not None
                                     else "p95 not back within twice the base p95 by the end of the run"))
    print("\nkind                              sent  statuses                 unexpected    p50    p95    p99"
          "    max  | service p50  p95")
    for kind, k in summary["kinds"].items():
        statuses = " ".join(f"{s}:{n}" for s, n in k["statuses"].items())
        if k["errors"]:
            statuses += " " + " ".join(f"{e}:{n}" for e, n in k["errors"].items())
        print(f"{LABEL[kind]:<32} {k['sent']:5d}  {statuses:<24} {k['unexpected']:10d} {ms(k['p50_ms'])} "
              f"{ms(k['p95_ms'])} {ms(k['p99_ms'])} {ms(k['max_ms'])}  | {ms(k['service_p50_ms'])} "
              f"{ms(k['service_p95_ms'])}")
    a = summary["all"]
    print(f"\nrequests scheduled: {a['scheduled']}, sent: {a['sent']}, not sent in time (every client thread was "
          f"waiting for an answer, or the client was starved): {a['not_sent_in_time']}; achieved "
          f"{a['sent_rps']:.1f}/s of {a['target_rps']:.1f}/s scheduled")
    if "client_cpu_s" in summary:
        print(f"load generator CPU: {summary['client_cpu_s']:.1f} s in {summary['wall_s']:.1f} s "
              f"({summary['client_cpu_s'] / summary['wall_s']:.2f} cores)")
    print(f"unexpected errors: {a['unexpected']}")
    extra = ""
    if webhooks.get("unchecked"):
        extra = f", unchecked: {len(webhooks['unchecked'])}"
    if "stored_without_ack" in webhooks:
        extra += f", stored without an acknowledgement: {webhooks['stored_without_ack']}"
    print(f"webhooks acknowledged: {webhooks['acknowledged']}, checked by {webhooks['method']}: stored "
          f"{webhooks['stored']}, doubled: {len(webhooks['doubled'])}, mismatched: {len(webhooks['mismatched'])}"
          f"{extra}")
    print(f"lost events: {len(webhooks['lost'])}")
    if server:
        print(f"server: {server}")


# -- the command -------------------------------------------------------------------------------------------


def parse_mix(raw: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in raw.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {name!r} in --mix (kinds: {', '.join(KINDS)})")
        mix[name.strip()] = float(weight)
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("--mix needs a positive weight")
    return mix


def loopback(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if parts.scheme != "http" or not ok:
        raise SystemExit(f"--url must be http:// on a loopback address, not {url!r}")
    return host, parts.port or 80


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
    ap.add_argument("--database", type=Path, help="the server's SQLite file, to check webhooks there (else by API)")
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
    if not 0 < args.rate <= 5000 or not 0 < args.duration <= 3600 or not 0 <= args.spike_rate <= 5000 \
            or not 0 <= args.spike_duration <= 600 or not 1 <= args.concurrency <= 512:
        ap.error("rate, duration, spike and concurrency must be positive and bounded")

    t_start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    if args.start_server:
        from bench._server import started_server

        try:
            with started_server(args.workers, args.models_dir, log=say) as server:
                say(f"started triage serve at {server.base_url} with {args.workers} workers (pid {server.pid})")
                workers_before = server.worker_pids()
                code = run(args, server.base_url, server.token, server.webhook_secret, server.user, server.password,
                           server.database_path, say, server_info=lambda: {
                               "alive": server.process.poll() is None, "workers_before": sorted(workers_before),
                               "workers_after": sorted(server.worker_pids())})
                if code == 0 and server.process.poll() is not None:
                    say(f"the server died:\n{server.log()}")
                    code = 1
                return code
        except RuntimeError as exc:
            say(f"could not start the server: {exc}")
            return 2
    for name in ("token", "webhook_secret", "user", "password"):
        needs = {"token": ("classify", "batch", "webhook"), "webhook_secret": ("webhook",),
                 "user": ("web",), "password": ("web",)}[name]
        if getattr(args, name) is None and any(args.mix.get(k, 0) > 0 for k in needs):
            ap.error(f"--{name.replace('_', '-')} is needed for {', '.join(needs)} traffic (or set its --mix to 0)")
    return run(args, args.url, args.token, args.webhook_secret, args.user, args.password, args.database, say)


def run(args: argparse.Namespace, base_url: str, token: str | None, webhook_secret: str | None, user: str | None,
        password: str | None, database: Path | None, say: Callable[[str], None],
        server_info: Callable[[], dict[str, Any]] | None = None) -> int:
    host, port = loopback(base_url)
    run_id = uuid.uuid4().hex[:10]
    client = Client(host, port, token, webhook_secret, load_texts(400, args.seed), run_id, args.timeout)
    try:
        if args.mix.get("web", 0) > 0:
            client.login(user or "", password or "")
            say(f"logged in as {user}")
        # Warm-up outside the clock: lazy imports, the FAQ index, first queries (webhooks excluded: not tracked).
        for kind in ("web", "classify", "batch"):
            if args.mix.get(kind, 0) > 0:
                for k in range(4):
                    method, path, body, headers, _ = client.request(kind, k)
                    status, raw, _ = client._once(method, path, body, headers)
                    if status != EXPECTED[kind]:
                        raise RuntimeError(f"warm-up {LABEL[kind]} answered {status}: {raw[:300]!r}")
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        say(f"cannot run: {exc}")
        return 2

    plan = phases(args.rate, args.duration, args.spike_rate, args.spike_duration)
    slots = schedule(plan, args.mix, args.seed)
    say("running " + ", then ".join(f"{name} {rate:g}/s for {sec:g} s" for name, rate, sec in plan)
        + f" ({len(slots)} requests, {args.concurrency} client threads)")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcomes, _ = run_traffic(client, slots, args.concurrency, args.max_lateness, say)
    summary = summarise(slots, outcomes, plan)
    # Whether the client itself could keep up: its CPU next to the wall time of the run.
    summary["client_cpu_s"], summary["wall_s"] = time.process_time() - cpu0, time.perf_counter() - wall0

    acked = {o.webhook_id: o.inquiry_id for o in outcomes
             if o.webhook_id and o.inquiry_id is not None and o.error is None}
    replayed = sum(1 for o in outcomes if o.webhook_id and o.duplicate)  # every id is new: must stay 0
    say(f"checking {len(acked)} acknowledged webhooks")
    if database is not None:
        webhooks = check_webhooks_in_db(Path(database), run_id, acked)
    else:
        webhooks = check_webhooks_by_api(client, acked, time.monotonic() + 120.0)
    webhooks["answered_duplicate"] = replayed
    server = server_info() if server_info else {}
    print_summary(summary, webhooks, plan, server)

    failed = (summary["all"]["unexpected"] > 0 or webhooks["lost"] or webhooks["doubled"] or webhooks["mismatched"]
              or webhooks.get("unchecked") or replayed or (server and not server["alive"]))
    verdict = "FAIL" if failed else "OK"
    print(f"result: {verdict}")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "run_id": run_id, "plan": [{"phase": n, "rate": r, "seconds": s} for n, r, s in plan],
            "summary": summary, "webhooks": {k: (len(v) if isinstance(v, list) else v) for k, v in webhooks.items()},
            "lost_ids": webhooks["lost"][:100], "server": server, "result": verdict,
        }, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
