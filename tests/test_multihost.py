"""Several hosts (issue 17): two `triage serve` processes on their own ports and their own models folders,
with TRIAGE_REGISTRY=database, sharing one PostgreSQL (a private schema). Redis is not needed:
login limits are kept in the database since the hardening (they hold across workers and hosts).

- a webhook delivered to both hosts is stored once;
- an activation made on one host is served by the other within seconds;
- a login limit holds across hosts (counted in the shared database);
- a training job started on one host's admin page is visible on the other;
- a host killed with SIGKILL mid-traffic loses no acknowledged inquiry (the sender, like a load
  balancer, retries what was not answered on the other host).

Loopback only; every loop is bounded. The kill test runs last: it takes host A down.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from triage.registry import DatabaseRegistry, Registry
from triage.store import Inquiry, Store

from .conftest import PASSWORD, _pg_schema_url
from .servers import RunningServer, http, metrics, running_server, served_versions
from .test_reliability import WEBHOOK_PATH, Sources, _login, _send, _webhook_headers

pytestmark = pytest.mark.slow

LIMIT = 3
ACTIVATION_TIMEOUT = 30.0
JOB_TIMEOUT = 240.0


class Cluster:
    """Two hosts and what they share."""

    def __init__(self, url: str, a: RunningServer, b: RunningServer, versions: list[str]) -> None:
        self.url, self.a, self.b, self.versions = url, a, b, versions

    def store(self) -> Store:
        """Return a new Store on the shared database (dispose its engine when done)."""
        return Store(self.url)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, trained_models: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        url = stack.enter_context(_contextify(_pg_schema_url()))
        # Two versions in the database registry before any host starts (so that no host trains).
        store = Store(url)
        store.create_schema()
        folder = Registry(trained_models)
        loaded = folder.load(folder.active() or "")
        meta = {k: v for k, v in loaded.metadata.items() if k not in ("version", "created", "model_sha256")}
        registry = DatabaseRegistry(store, tmp_path_factory.mktemp("seed-lock"))
        versions = [registry.save(loaded.router, meta) for _ in range(2)]
        registry.activate(versions[0], actor="test")
        from triage.auth import add_user

        add_user(store, "admin-mh", "admin", PASSWORD)
        add_user(store, "agent-mh", "agent", PASSWORD)
        store.engine.dispose()
        hosts = []
        for name in ("a", "b"):
            models = tmp_path_factory.mktemp(f"models-{name}")  # empty: versions come from the database
            hosts.append(stack.enter_context(running_server({
                "TRIAGE_MODELS_DIR": str(models), "TRIAGE_REGISTRY": "database", "TRIAGE_DATABASE_URL": url,
                "TRIAGE_LOGIN_LIMIT": f"{LIMIT} per minute", "TRIAGE_RELOAD_SECONDS": "0.5",
            }, workers=1)))
        yield Cluster(url, hosts[0], hosts[1], versions)


def _contextify(gen: Iterator[Any]):
    from contextlib import contextmanager

    @contextmanager
    def cm() -> Iterator[Any]:
        value = next(gen)
        try:
            yield value
        finally:
            next(gen, None)

    return cm()


def _count(url: str, external_id: str | None = None) -> int:
    store = Store(url)
    try:
        with store.session() as s:
            q = select(func.count()).select_from(Inquiry).where(Inquiry.source == "webhook")
            if external_id is not None:
                q = q.where(Inquiry.external_id == external_id)
            return s.scalar(q) or 0
    finally:
        store.engine.dispose()


def test_both_hosts_serve_from_the_database_registry_with_empty_models_folders(cluster: Cluster) -> None:
    for host in (cluster.a, cluster.b):
        assert set().union(*served_versions(metrics(host)).values()) == {cluster.versions[0]}
        assert not list(Path(host.env["TRIAGE_MODELS_DIR"]).glob("*/model.joblib"))


def test_a_webhook_delivered_to_both_hosts_is_stored_once(cluster: Cluster) -> None:
    msg_id = f"msg_{uuid.uuid4().hex}"
    body = json.dumps({"text": "漏えいの補償としてお金はいくら支払われますか"}, ensure_ascii=False).encode()
    answers: dict[str, tuple[int, bytes]] = {}

    def deliver(host: RunningServer, key: str) -> None:
        status, data, _ = _send(host, "POST", WEBHOOK_PATH, body, _webhook_headers(body, msg_id))
        answers[key] = (status, data)

    threads = [threading.Thread(target=deliver, args=(h, k)) for h, k in ((cluster.a, "a"), (cluster.b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30.0)
    assert set(answers) == {"a", "b"}, answers
    assert [answers[k][0] for k in ("a", "b")] == [200, 200], answers
    docs = [json.loads(answers[k][1]) for k in ("a", "b")]
    assert docs[0]["inquiry_id"] == docs[1]["inquiry_id"]
    assert sorted(d["duplicate"] for d in docs) == [False, True]
    assert _count(cluster.url, msg_id) == 1


def test_an_activation_on_one_host_reaches_the_other(cluster: Cluster) -> None:
    target = cluster.versions[1]
    cluster.a.cli("activate", target)
    deadline = time.monotonic() + ACTIVATION_TIMEOUT
    seen: dict[int, set[str]] = {}
    while time.monotonic() < deadline:
        seen = served_versions(metrics(cluster.b))
        if seen and all(v == {target} for v in seen.values()):
            break
        time.sleep(0.2)
    assert seen and all(v == {target} for v in seen.values()), (seen, cluster.b.log()[-3000:])
    # And host B answers with it.
    status, body, _ = http("POST", cluster.b.url("/api/v1/classify"),
                           json.dumps({"text": "パスワードの変更方法"}).encode(),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {_token(cluster)}"})
    assert status == 201 and json.loads(body)["model_version"] == target, body
    cluster.a.cli("rollback")  # back to the first, for the tests after this one


_TOKEN: dict[str, str] = {}


def _token(cluster: Cluster) -> str:
    if "t" not in _TOKEN:
        from triage.auth import create_token

        store = cluster.store()
        try:
            _TOKEN["t"] = create_token(store, f"mh-{uuid.uuid4().hex[:8]}")
        finally:
            store.engine.dispose()
    return _TOKEN["t"]


def test_a_login_limit_holds_across_hosts(cluster: Cluster) -> None:
    sources = Sources()
    # Per account, every attempt from a new address, alternating hosts (a load balancer's round robin).
    statuses = [_login((cluster.a, cluster.b)[i % 2], "agent-mh", "wrong password!!", sources.next())
                for i in range(LIMIT + 2)]
    assert statuses[:LIMIT] == [401] * LIMIT, statuses
    # Per-host counters would let the host that saw fewer failures answer 401 again.
    assert statuses[LIMIT:] == [429, 429], statuses
    # Even the right password, on either host, while the account is limited.
    assert _login(cluster.a, "agent-mh", PASSWORD, sources.next()) == 429
    assert _login(cluster.b, "agent-mh", PASSWORD, sources.next()) == 429


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the test reads the 303's Location itself


def _admin_opener(host: RunningServer) -> urllib.request.OpenerDirector:
    """Log the admin in on `host`; return an opener carrying the session cookie (redirects not followed)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    status, page, _ = http("GET", host.url("/login"), opener=opener)
    assert status == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)
    form = urllib.parse.urlencode({"name": "admin-mh", "password": PASSWORD, "csrf_token": csrf}).encode()
    status, _, _ = http("POST", host.url("/login"), form, {"Content-Type": "application/x-www-form-urlencoded"},
                        opener=opener)
    assert status == 302, status
    return opener


def test_a_training_job_started_on_one_host_is_visible_on_the_other(cluster: Cluster, tiny_csv: Path) -> None:
    opener = _admin_opener(cluster.a)
    status, page, _ = http("GET", cluster.a.url("/admin/"), opener=opener)
    assert status == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"tiny.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + tiny_csv.read_bytes() + f"\r\n--{boundary}--\r\n".encode()

    status, _, headers = http("POST", cluster.a.url("/admin/train"), body,
                              {"Content-Type": f"multipart/form-data; boundary={boundary}"}, opener=opener)
    assert status == 303, status
    job_path = urllib.parse.urlsplit(headers["Location"]).path
    assert re.fullmatch(r"/admin/jobs/\d+", job_path), headers["Location"]
    # The same session cookie works on host B (one TRIAGE_SECRET_KEY for all hosts).
    seen_on_b: list[str] = []
    deadline = time.monotonic() + JOB_TIMEOUT
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, data, _ = http("GET", cluster.b.url(job_path + "?format=json"), opener=opener)
        assert status == 200, data
        job = json.loads(data)
        seen_on_b.append(job["status"])
        if job["status"] != "running":
            break
        time.sleep(0.5)
    assert job.get("status") == "done", (job, cluster.a.log()[-3000:])
    # The new version is in the database registry: host B lists it on its admin page.
    status, page, _ = http("GET", cluster.b.url("/admin/"), opener=opener)
    assert status == 200 and job["version"] in page.decode()


def test_a_host_killed_mid_traffic_loses_no_acknowledged_inquiry(cluster: Cluster) -> None:
    n = 60
    body_of = {i: json.dumps({"text": f"お詫びのクーポンはいつ届きますか（{i}）"}, ensure_ascii=False).encode()
               for i in range(n)}
    ids = {i: f"kill_{uuid.uuid4().hex}" for i in range(n)}
    acked: dict[int, int] = {}
    failures_on_a = 0
    hosts = (cluster.a, cluster.b)
    hard_stop = time.monotonic() + 120.0

    def send_all(offset: int) -> None:
        nonlocal failures_on_a
        for i in range(offset, n, 2):
            host = hosts[i % 2]
            while i not in acked and time.monotonic() < hard_stop:
                try:
                    status, data, _ = _send(host, "POST", WEBHOOK_PATH, body_of[i],
                                            _webhook_headers(body_of[i], ids[i]), timeout=10.0)
                except OSError:
                    status, data = None, b""
                if status == 200:
                    acked[i] = json.loads(data)["inquiry_id"]
                else:
                    # Not acknowledged: a load balancer sends it to the other host.
                    if host is cluster.a:
                        failures_on_a += 1
                    host = cluster.b

    threads = [threading.Thread(target=send_all, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60.0
    while len(acked) < n // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(cluster.a.pid, signal.SIGKILL)  # the master and its workers, at once
    for t in threads:
        t.join(timeout=150.0)
    assert cluster.a.process.wait(timeout=10) == -signal.SIGKILL
    assert len(acked) == n, f"{n - len(acked)} deliveries never acknowledged"
    store = cluster.store()
    try:
        with store.session() as s:
            rows = s.execute(select(Inquiry.id, Inquiry.external_id).where(Inquiry.external_id.in_(ids.values()))).all()
    finally:
        store.engine.dispose()
    by_external = {e: i for i, e in rows}
    assert len(rows) == n, f"{len(rows)} rows for {n} deliveries (duplicates or losses)"
    assert all(by_external[ids[i]] == acked[i] for i in range(n))
    print(f"\n{n} deliveries acknowledged and stored once; host A killed after {n // 4}+, "
          f"{failures_on_a} attempts on A unanswered and retried on B")
