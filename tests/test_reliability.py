"""Reliability of the real service: killed workers, a database that refuses writes, shared login limits.

- Webhook deliveries survive SIGKILLed gunicorn workers when the sender retries
  what was not answered: every delivery is stored exactly once.
- A database that refuses writes is answered with 503 + Retry-After in the one
  JSON error shape, and nothing is half-stored.
- The login limits (per account and per address) hold across workers with the
  default settings: failed attempts are counted in the database.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from triage.store import Inquiry, Store
from triage.webhook import sign

from .conftest import WEBHOOK_SECRET, app_config
from .servers import RunningServer, running_server, send_once

pytestmark = pytest.mark.slow

WEBHOOK_PATH = "/api/v1/webhooks/inquiries"
TEXTS = [
    "パスワードの変更方法を教えてください",
    "漏えいの補償としてお金はいくら支払われますか",
    "弁護士と相談のうえ訴訟を起こします",
    "カードが今まさに不正利用されています",
    "お詫びのクーポンはいつ届きますか",
]


def _webhook_headers(body: bytes, msg_id: str) -> dict[str, str]:
    # Signed afresh on every attempt, as a real sender does (the timestamp moves, the id does not).
    ts = int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(WEBHOOK_SECRET, msg_id, ts, body), "Content-Type": "application/json"}


def _send(server: RunningServer, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout: float = 10.0,
          source: str | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
    """One request on a NEW connection (optionally from another loopback source address)."""
    parts = urllib.parse.urlsplit(server.base_url)
    return send_once(parts.hostname, parts.port, method, path, body, headers, timeout, source)


# -- a. durability across SIGKILLed workers ----------------------------------------------------------------

N_DELIVERIES = 300
SENDERS = 4
# Answered deliveries before each SIGKILL: the first two always, the others only until a kill has cut a
# delivery in flight (a kill between two requests loses nothing and proves little).
KILL_AFTER = (N_DELIVERIES // 4, N_DELIVERIES // 2, 2 * N_DELIVERIES // 3, 5 * N_DELIVERIES // 6)
MIN_KILLS = 2
MAX_ATTEMPTS = 12
SEND_DEADLINE = 60.0  # seconds for the whole sending, retries included


@dataclass
class Delivery:
    msg_id: str
    body: bytes
    attempts: int = 0
    failures: list[str] = field(default_factory=list)  # why each unanswered attempt was unanswered
    answer: dict[str, Any] | None = None
    refused: str | None = None  # a 4xx: the sender would not retry it, the test fails


def _deliver(server: RunningServer, d: Delivery, hard_stop: float) -> None:
    """Send until answered with 2xx: connection errors, timeouts and 5xx are retried with backoff."""
    while d.attempts < MAX_ATTEMPTS and time.monotonic() < hard_stop:
        d.attempts += 1
        try:
            status, raw, _ = _send(server, "POST", WEBHOOK_PATH, d.body, _webhook_headers(d.body, d.msg_id))
        except (OSError, http.client.HTTPException) as exc:
            d.failures.append(type(exc).__name__)
        else:
            if 200 <= status < 300:
                d.answer = json.loads(raw)
                return
            if status < 500:
                d.refused = f"{status} {raw[:200]!r}"
                return
            d.failures.append(f"HTTP {status}")
        time.sleep(min(1.0, 0.05 * 2 ** (d.attempts - 1)))


def _alive_workers(server: RunningServer, exclude: set[int]) -> set[int]:
    """Worker pids that are running (not zombies waiting to be reaped, not ones we killed)."""
    return {pid for pid in server.worker_pids() - exclude if _state(pid) not in ("Z", "X", "?")}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _busy_worker(server: RunningServer, exclude: set[int], timeout: float = 3.0) -> int:
    """A worker caught running (state R: handling a request, not waiting in accept), else any live worker.

    Killing a busy worker loses the request it was handling: the case the sender must survive.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [pid for pid in _alive_workers(server, exclude) if _state(pid) == "R"]
        if busy:
            return random.choice(busy)
        time.sleep(0.001)
    alive = _alive_workers(server, exclude)
    assert alive, server.log()
    return random.choice(sorted(alive))


def _wait_for(predicate, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_webhook_deliveries_survive_killed_workers(models_dir: Path) -> None:
    run = uuid.uuid4().hex[:8]
    # Long-ish texts (~1,500 characters): a worker spends most of its time inside a request, where a kill
    # loses the delivery in flight, rather than waiting for the next one.
    deliveries = [Delivery(f"msg_{run}_{i:04d}", json.dumps(
        {"text": f"{i}件目：" + "。".join(TEXTS[(i + k) % len(TEXTS)] for k in range(60))}, ensure_ascii=False).encode())
        for i in range(N_DELIVERIES)]
    with running_server({"TRIAGE_MODELS_DIR": str(models_dir)}, workers=2) as server:
        original = server.worker_pids()
        hard_stop = time.monotonic() + SEND_DEADLINE
        lock = threading.Lock()
        cursor = iter(deliveries)

        def sender() -> None:
            while True:
                with lock:
                    d = next(cursor, None)
                if d is None:
                    return
                _deliver(server, d, hard_stop)

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        for t in threads:
            t.start()
        killed: list[int] = []
        pending_at_kill: list[int] = []
        try:
            for threshold in KILL_AFTER:
                if len(killed) >= MIN_KILLS and any(d.failures for d in deliveries):
                    break
                assert _wait_for(lambda th=threshold: sum(d.answer is not None for d in deliveries) >= th, 30.0), \
                    server.log()
                victim = _busy_worker(server, set(killed))
                assert victim != server.pid and victim in server.worker_pids()
                pending_at_kill.append(sum(d.answer is None for d in deliveries))
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                # gunicorn forks a replacement; the next kill waits for it so that two workers serve again.
                assert _wait_for(lambda: len(_alive_workers(server, set(killed))) == server.workers, 15.0), \
                    f"no replacement worker after killing {victim}:\n{server.log()}"
        finally:
            for t in threads:
                t.join(timeout=SEND_DEADLINE + 15.0)
        assert not any(t.is_alive() for t in threads)

        # Read what was stored while the server still runs (its temp folder goes with it).
        engine = create_engine(server.env["TRIAGE_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                stored = conn.execute(
                    select(Inquiry.id, Inquiry.external_id).where(Inquiry.source == "webhook")).all()
        finally:
            engine.dispose()
        final_workers = _alive_workers(server, set())
        log = server.log()

    assert len(killed) >= MIN_KILLS and not set(killed) & final_workers, (killed, final_workers)
    assert len(final_workers) == 2 and final_workers != original
    # Every kill came while deliveries were still outstanding.
    assert all(n > 0 for n in pending_at_kill), pending_at_kill
    refused = [d for d in deliveries if d.refused]
    assert not refused, f"{len(refused)} deliveries refused with 4xx, e.g. {refused[0].msg_id}: {refused[0].refused}"
    unanswered = [d for d in deliveries if d.answer is None]
    assert not unanswered, (f"{len(unanswered)} deliveries never answered 2xx, e.g. "
                            f"{unanswered[0].msg_id}: {unanswered[0].failures}\n{log[-3000:]}")

    sent = {d.msg_id for d in deliveries}
    stored_ids = [ext for _, ext in stored]
    assert len(stored_ids) == len(set(stored_ids)) == N_DELIVERIES, Counter(stored_ids).most_common(3)
    assert set(stored_ids) == sent, (sorted(sent - set(stored_ids))[:5], sorted(set(stored_ids) - sent)[:5])
    # Every answer names the row that holds its delivery.
    row_of = {ext: row_id for row_id, ext in stored}
    wrong = [d.msg_id for d in deliveries if d.answer["webhook_id"] != d.msg_id
             or d.answer["inquiry_id"] != row_of[d.msg_id]]
    assert not wrong, wrong[:5]

    retried = [d for d in deliveries if d.attempts > 1]
    assert retried, f"none of the {len(killed)} kills cut a delivery in flight: the retry path was not exercised"
    replayed = [d for d in retried if d.answer["duplicate"]]
    reasons = Counter(r for d in retried for r in d.failures)
    print(f"\n{N_DELIVERIES} deliveries stored exactly once; workers {killed} SIGKILLed while sending "
          f"({pending_at_kill} deliveries outstanding at each kill); "
          f"{len(retried)} needed a retry ({sum(d.attempts for d in deliveries) - N_DELIVERIES} extra attempts: "
          f"{dict(reasons)}); {len(replayed)} retries found the delivery already stored (duplicate=true)")


# -- b. a database that refuses writes -----------------------------------------------------------------------


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count(Inquiry.id))).scalar_one())
    finally:
        engine.dispose()


def test_read_only_database_answers_503_and_stores_nothing(models_dir: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from triage import create_app
    from triage.auth import create_token

    db = tmp_path / "ro.sqlite"
    normal_url = f"sqlite:///{db}"
    store = Store(normal_url)
    try:
        store.create_schema()
        token = create_token(store, "ticketing")
        # One stored inquiry, so that reads are shown to keep working.
        kept, _ = store.add_inquiry(source="api", external_id="before", text=TEXTS[0], label="faq", confidence=0.9,
                                    probabilities={"faq": 0.9}, needs_review=False, model_version="v0")
    finally:
        store.engine.dispose()

    ro_url = f"sqlite:///file:{db}?mode=ro&uri=true"
    # The schema exists: create_app's create_schema must only look, not write.
    app = create_app(app_config(models_dir, tmp_path, DATABASE_URL=ro_url))
    ro_store = app.extensions["triage.store"]
    try:
        with ro_store.engine.connect() as conn:  # really read-only, not silently writable
            with pytest.raises(Exception, match="readonly"):
                conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        client = app.test_client()
        auth = {"Authorization": f"Bearer {token}"}
        before = _count(normal_url)

        body = json.dumps({"text": TEXTS[3]}, ensure_ascii=False).encode()
        caplog.clear()
        hook = client.post(WEBHOOK_PATH, data=body, headers=_webhook_headers(body, f"msg_{uuid.uuid4().hex}"))
        api = client.post("/api/v1/classify", json={"text": TEXTS[1], "id": "ro-1"}, headers=auth)
        for name, resp in (("webhook", hook), ("classify", api)):
            assert resp.status_code == 503, (name, resp.status_code, resp.get_data(as_text=True))
            assert resp.headers.get("Retry-After", "").isdigit(), (name, dict(resp.headers))
            assert resp.mimetype == "application/json"
            error = resp.get_json()
            assert set(error) == {"error"} and error["error"]["code"] == "unavailable", error
            assert isinstance(error["error"]["message"], str) and error["error"]["message"]
            # No SQL or driver text reaches the client.
            assert "INSERT" not in resp.get_data(as_text=True) and "sqlite" not in resp.get_data(as_text=True)
        # Both failed at the write, not before it (signature and token were accepted).
        db_errors = [r for r in caplog.records if r.name == "triage.errors" and "OperationalError" in r.getMessage()]
        assert len(db_errors) == 2, [r.getMessage() for r in caplog.records]
        assert _count(normal_url) == before

        # Reads keep working while writes are refused.
        got = client.get(f"/api/v1/inquiries/{kept.id}", headers=auth)
        assert got.status_code == 200 and got.get_json()["external_id"] == "before"
    finally:
        ro_store.engine.dispose()


# -- c. login limits shared across workers by default (through the database) -------------------------------

LIMIT = 5  # TRIAGE_LOGIN_LIMIT "5 per minute"
LIMIT_ROUNDS = 8  # at most this many rounds of parallel attempts past the limit
PARALLEL = 3  # attempts per round, sent at once so that both workers take some
ACCOUNT = "agent-limited"
ACCOUNT_PASSWORD = "agent limited long password"
_LOG_LINE = re.compile(r"\[(\d+)\] (failed login for|login limit reached for)")


def _new_log(server: RunningServer, offset: int) -> tuple[list[tuple[int, str]], int]:
    """Return the (pid, kind) of login log lines written after offset, and the new offset."""
    data = server.log_path.read_bytes()
    lines = data[offset:].decode("utf-8", errors="replace").splitlines()
    found = []
    for line in lines:
        m = _LOG_LINE.search(line)
        if m:
            found.append((int(m.group(1)), "401" if m.group(2).startswith("failed") else "429"))
    return found, len(data)


def _login(server: RunningServer, name: str, password: str, source: str) -> int:
    """GET /login for a session and CSRF token, then POST the form; each on a new connection."""
    status, page, headers = _send(server, "GET", "/login", source=source)
    assert status == 200, status
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
    assert cookie.startswith("session="), headers
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": csrf}).encode()
    status, _, _ = _send(server, "POST", "/login", form,
                         {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, source=source)
    return status


class Sources:
    """Distinct loopback source addresses (127.0.0.0/8 all reach the server on 127.0.0.1)."""

    def __init__(self) -> None:
        self._n = random.randrange(2, 200) * 256

    def next(self) -> str:
        self._n += 1
        while self._n % 256 in (0, 255):  # not a network or broadcast-looking address
            self._n += 1
        return f"127.0.{self._n // 256 % 256}.{self._n % 256}"


def _trip(server: RunningServer, attempt) -> tuple[list[int], dict[str, set[int]]]:
    """Send LIMIT attempts one by one, then rounds of PARALLEL attempts at once until both workers refused.

    `attempt(i)` sends the i-th attempt and returns its status. Returns the statuses in order (the
    parallel ones round by round) and, per status kind, the pids that logged one.
    """
    offset = server.log_path.stat().st_size
    statuses = [attempt(i) for i in range(LIMIT)]
    served: dict[str, set[int]] = {"401": set(), "429": set()}
    found, offset = _new_log(server, offset)
    for pid, kind in found:
        served[kind].add(pid)
    i = LIMIT
    for _ in range(LIMIT_ROUNDS):
        results: list[int] = []
        threads = [threading.Thread(target=lambda k=i + j, out=results: out.append(attempt(k))) for j in range(PARALLEL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30.0)
        i += PARALLEL
        statuses += sorted(results)
        found, offset = _new_log(server, offset)
        for pid, kind in found:
            served[kind].add(pid)
        if len(served["429"]) >= 2:
            break
    return statuses, served


def _add_user(env: dict[str, str], name: str, password: str) -> None:
    from triage.auth import add_user

    store = Store(env["TRIAGE_DATABASE_URL"])
    try:
        store.create_schema()
        add_user(store, name, "agent", password)
    finally:
        store.engine.dispose()


def test_login_limits_are_shared_across_workers_by_default(models_dir: Path) -> None:
    # No limiter storage to configure: the counts live in the database every worker already uses.
    overrides = {"TRIAGE_MODELS_DIR": str(models_dir), "TRIAGE_LOGIN_LIMIT": f"{LIMIT} per minute"}
    sources = Sources()
    with running_server(overrides, workers=2) as server:
        _add_user(server.env, ACCOUNT, ACCOUNT_PASSWORD)
        workers = server.worker_pids()

        # Per account: every attempt from a new address, so that only the account's count can trip.
        account, account_pids = _trip(server, lambda i: _login(server, ACCOUNT, "wrong password!!", sources.next()))
        # Even the right password is refused while the account is limited.
        locked_out = _login(server, ACCOUNT, ACCOUNT_PASSWORD, sources.next())
        # The limit is the account's, not everyone's.
        other_account = _login(server, "someone-else", "wrong password!!", sources.next())

        # Per address: one address, a new account name on every attempt.
        address = sources.next()
        by_address, address_pids = _trip(server, lambda i: _login(server, f"probe-{i}", "wrong password!!", address))
        other_address = _login(server, "probe-fresh", "wrong password!!", sources.next())

        engine = create_engine(server.env["TRIAGE_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                keys = [k for (k,) in conn.execute(text("select key from login_failures"))]
        except OperationalError:  # no such table: the counts are not in the database; the statuses say more
            keys = []
        finally:
            engine.dispose()
        log = server.log()

    print(f"\nper account: {account} (401 from {sorted(account_pids['401'])}, 429 from {sorted(account_pids['429'])});"
          f"\nper address: {by_address} (401 from {sorted(address_pids['401'])}, "
          f"429 from {sorted(address_pids['429'])}); workers {sorted(workers)}")
    for statuses, pids, what in ((account, account_pids, "account"), (by_address, address_pids, "address")):
        assert statuses[:LIMIT] == [401] * LIMIT, (what, statuses, log[-3000:])
        # Per-worker counters would let the worker that saw fewer of the first five answer 401.
        assert statuses[LIMIT:] and set(statuses[LIMIT:]) == {429}, (what, statuses)
        assert pids["429"] == workers, f"per {what}: 429 not answered by both workers {workers}: {pids}"
    assert locked_out == 429
    assert other_account == 401 and other_address == 401
    # The counts are rows of the database (one per failed attempt, per account and per address).
    assert sum(ACCOUNT in k for k in keys) == LIMIT, keys
    assert sum(address in k for k in keys) == LIMIT, keys
