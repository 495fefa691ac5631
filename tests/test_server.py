"""The real service: `triage serve` (gunicorn, two workers) over HTTP, with live model swaps."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from triage.dataset import LABELS
from triage.registry import Registry, RegistryError
from triage.webhook import sign

from .conftest import ROOT, WEBHOOK_SECRET, write_csv
from .servers import (
    RunningServer,
    add_user,
    create_token,
    create_token_direct,
    get_json,
    http,
    metrics,
    post_json,
    running_server,
    served_versions,
)

pytestmark = pytest.mark.slow

SWAP_DEADLINE = 2.0  # seconds for every worker to follow `triage activate` / `triage rollback`
REFUSAL_DEADLINE = 3.0  # seconds for every worker to refuse a tampered version
AGENT_PASSWORD = "agent9 long password"
TEXTS = [
    "パスワードの変更方法を教えてください",
    "漏えいの補償としてお金はいくら支払われますか",
    "弁護士と相談のうえ訴訟を起こします",
    "カードが今まさに不正利用されています",
]


@dataclass
class TwoVersions:
    root: Path
    v1: str
    v2: str


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory, trained_models: Path,
                 tiny_rows: list[dict[str, str]]) -> TwoVersions:
    """A models dir with V1 active and a different V2 trained beside it, not activated.

    V2 is trained in-process (the tokenizer is warm) on the first 20 tiny rows of
    each label, the minimum: about 1 s instead of 7 s, and a model that differs from V1.
    """
    from triage.lifecycle import train_version

    base = tmp_path_factory.mktemp("two-versions")
    rows = [r for label in LABELS for r in [x for x in tiny_rows if x["label"] == label][:20]]
    root = base / "models"
    shutil.copytree(trained_models, root)
    registry = Registry(root)
    v1 = registry.active()
    outcome = train_version([write_csv(base / "v2.csv", rows)], registry, gate_csv=None, activate="no")
    assert outcome.activated is False and registry.active() == v1
    assert outcome.version != v1 and {m["version"] for m in registry.versions()} == {v1, outcome.version}
    return TwoVersions(root, v1, outcome.version)


def _copy(two: TwoVersions, tmp_path: Path) -> Path:
    dest = tmp_path / "models"
    shutil.copytree(two.root, dest)
    return dest


def _worker_models(server: RunningServer) -> dict[int, set[str]]:
    """Return the versions each current worker reports serving (from /metrics)."""
    served = served_versions(metrics(server))
    return {pid: served.get(pid, set()) for pid in server.worker_pids()}


@dataclass
class Switch:
    written: float  # monotonic time at which the CLI replaced ACTIVE (from its mtime)
    seen: float  # monotonic time at which /metrics first showed every worker on the version
    view: dict[int, set[str]]  # every pid's served versions at that moment (workers and others)
    stdout: str

    @property
    def latency(self) -> float:
        return self.seen - self.written


def _switch(server: RunningServer, models: Path, version: str, *cli_args: str) -> Switch:
    """Run a CLI command that activates `version` and watch /metrics while it runs.

    The clock starts when ACTIVE is replaced (its mtime), not when the command
    returns: the command needs ~2 s to start and verify, and the workers may
    follow before it exits.
    """
    pointer = models / "ACTIVE"
    proc = subprocess.Popen([sys.executable, "-m", "triage", *cli_args], env=server.env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        written = seen = None
        view: dict[int, set[str]] = {}
        hard_stop = time.monotonic() + 60.0
        while time.monotonic() < hard_stop:
            if written is None and pointer.read_text(encoding="utf-8").strip() == version:
                written = pointer.stat().st_mtime - (time.time() - time.monotonic())
            view = served_versions(metrics(server))
            now = time.monotonic()
            workers = server.worker_pids()
            if written is not None and len(workers) == server.workers and all(
                    view.get(pid) == {version} for pid in workers):
                seen = now
                break
            if written is not None and now > written + SWAP_DEADLINE:
                break
            if proc.poll() not in (None, 0):
                break
            time.sleep(0.05)
        stdout, stderr = proc.communicate(timeout=60.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"triage {' '.join(cli_args)}: {stdout}{stderr}"
    assert written is not None, "the command did not change ACTIVE"
    assert seen is not None and seen - written <= SWAP_DEADLINE, (
        f"not every worker served {version} within {SWAP_DEADLINE} s of `triage {' '.join(cli_args)}`: {view}"
    )
    return Switch(written, seen, view, stdout)


def _webhook_headers(body: bytes, msg_id: str) -> dict[str, str]:
    ts = int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(WEBHOOK_SECRET, msg_id, ts, body), "Content-Type": "application/json"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Let the test see the login's 302 itself."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_real_server_end_to_end(models_dir: Path) -> None:
    active = Registry(models_dir).active()
    with running_server({"TRIAGE_MODELS_DIR": str(models_dir)}) as server:
        status, ready = get_json(server.url("/readyz"))
        assert (status, ready["model"], ready["status"]) == (200, active, "ready")

        # A contact system delivers by signed webhook.
        hook_text = "ポイントが勝手に使われていました。至急止めてください"
        body = json.dumps({"text": hook_text}, ensure_ascii=False).encode()
        msg_id = f"msg_{uuid.uuid4().hex}"
        status, raw, _ = http("POST", server.url("/api/v1/webhooks/inquiries"), body, _webhook_headers(body, msg_id))
        hook = json.loads(raw)
        assert status == 200, (hook, server.log())
        assert hook["label"] in LABELS and hook["duplicate"] is False and hook["webhook_id"] == msg_id
        assert hook["model_version"] == active

        # Another posts to the API with a token made by the CLI. The agent account is made at the same
        # time: each CLI call spends ~2 s importing scikit-learn.
        with ThreadPoolExecutor(2) as pool:
            made_token = pool.submit(create_token, server.env, "ticketing")
            made_user = pool.submit(add_user, server.env, "agent9", "agent", AGENT_PASSWORD)
            token = made_token.result()
            made_user.result()
        api_text = "流出した件について補償金の金額を知りたいです"
        status, api = post_json(server.url("/api/v1/classify"), {"text": api_text},
                                {"Authorization": f"Bearer {token}"})
        assert status == 201, (api, server.log())
        assert api["label"] in LABELS and api["model_version"] == active
        assert api["inquiry_id"] != hook["inquiry_id"]
        status, _ = post_json(server.url("/api/v1/classify"), {"text": api_text},
                              {"Authorization": "Bearer not-a-token"})
        assert status == 401

        # The agent logs in with the CSRF token of the form and sees both in the queue.
        jar = CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
        status, page, _ = http("GET", server.url("/queue"), opener=browser)
        assert status == 302  # not logged in yet: the queue is not shown
        status, page, _ = http("GET", server.url("/login"), opener=browser)
        assert status == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.decode()).group(1)
        form = urllib.parse.urlencode({"name": "agent9", "password": AGENT_PASSWORD, "csrf_token": csrf}).encode()
        status, _, headers = http("POST", server.url("/login"), form,
                                  {"Content-Type": "application/x-www-form-urlencoded"}, opener=browser)
        assert status == 302, server.log()
        assert urllib.parse.urlsplit(headers["Location"]).path == "/"
        status, page, _ = http("GET", server.url("/queue"), opener=browser)
        assert status == 200
        queue = page.decode()
        for row_id, text, source in ((hook["inquiry_id"], hook_text, "Webhook"), (api["inquiry_id"], api_text, "API")):
            row = re.search(rf'<tr [^>]*data-id="{row_id}"[^>]*>(.*?)</tr>', queue, re.S)
            assert row is not None, f"inquiry {row_id} is not in the queue"
            assert text in row.group(1) and f">{source}</td>" in row.group(1), row.group(1)


@dataclass
class Outcome:
    started: float
    ended: float
    status: int | None
    version: str | None
    error: str | None = None


def _hammer(server: RunningServer, token: str, stop: threading.Event, out: list[Outcome], hard_stop: float) -> None:
    """POST /api/v1/classify back to back until told to stop (or the hard deadline)."""
    i = 0
    while not stop.is_set() and time.monotonic() < hard_stop:
        started = time.monotonic()
        try:
            status, body = post_json(server.url("/api/v1/classify"), {"text": TEXTS[i % len(TEXTS)]},
                                     {"Authorization": f"Bearer {token}"}, timeout=10.0)
            out.append(Outcome(started, time.monotonic(), status, body.get("model_version")))
        except Exception as exc:
            out.append(Outcome(started, time.monotonic(), None, None, repr(exc)))
        i += 1


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_live_swap_with_two_workers_has_no_failed_requests(two_versions: TwoVersions, tmp_path: Path) -> None:
    models = _copy(two_versions, tmp_path)
    v1, v2 = two_versions.v1, two_versions.v2
    with running_server({"TRIAGE_MODELS_DIR": str(models)}, workers=2) as server:
        token = create_token_direct(server.env, "loadtest")
        workers = server.worker_pids()
        assert _worker_models(server) == {pid: {v1} for pid in workers}

        outcomes: list[Outcome] = []
        stop = threading.Event()
        # The load ends at stop (below); hard_stop only bounds it if the test body dies. On a loaded machine
        # the two CLI switches alone took over 20 s, which stopped the load before the checks could see it.
        hard_stop = time.monotonic() + 180.0
        threads = [threading.Thread(target=_hammer, args=(server, token, stop, outcomes, hard_stop), daemon=True)
                   for _ in range(4)]
        for t in threads:
            t.start()
        try:
            assert _wait_for(lambda: len(outcomes) >= 8, 5.0), "the load did not get going"
            to_v2 = _switch(server, models, v2, "activate", v2)
            # Let requests run entirely on V2 before rolling back.
            assert _wait_for(lambda: sum(o.started > to_v2.seen for o in outcomes) >= 8, 30.0)
            back = _switch(server, models, v1, "rollback")
            assert v1 in back.stdout
            assert _wait_for(lambda: sum(o.started > back.seen for o in outcomes) >= 8, 30.0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15.0)
        assert not any(t.is_alive() for t in threads)
        # No worker died or was replaced while models were swapped under load.
        assert server.worker_pids() == workers, server.log()

    done = list(outcomes)
    failed = [o for o in done if o.status != 201]
    assert not failed, f"{len(failed)} of {len(done)} requests failed, e.g. {failed[:5]}"
    assert {o.version for o in done} <= {v1, v2}
    # Once /metrics showed every worker on V2, every request was answered by V2; likewise V1 after the rollback.
    during_v2 = [o.version for o in done if to_v2.seen < o.started and o.ended < back.written]
    after_v1 = [o.version for o in done if o.started > back.seen]
    assert during_v2 and set(during_v2) == {v2}
    assert after_v1 and set(after_v1) == {v1}
    print(f"\n{len(done)} requests, all 201; every worker on V2 {to_v2.latency:.2f} s after ACTIVE changed, "
          f"back on V1 {back.latency:.2f} s after the rollback")
    # /metrics must name only serving workers: a pid that is not a worker (gunicorn's master, which loaded
    # V1 before forking) reporting V1 while every worker serves V2 is a false "still on the old model".
    assert set(to_v2.view) == workers, (
        f"pids other than the workers {sorted(workers)} (master {server.pid}) report a served model: {to_v2.view}"
    )


def _refusals(server: RunningServer) -> float:
    return sum(v for name, _, v in metrics(server) if name == "triage_model_refusals_total")


def test_tampered_model_is_refused_while_the_old_one_serves(two_versions: TwoVersions, tmp_path: Path) -> None:
    models = _copy(two_versions, tmp_path)
    v1, v2 = two_versions.v1, two_versions.v2
    model_file = models / v2 / "model.joblib"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    model_file.write_bytes(bytes(data))

    registry = Registry(models)
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        registry.activate(v2)
    assert registry.active() == v1

    with running_server({"TRIAGE_MODELS_DIR": str(models)}, workers=2) as server:
        token = create_token(server.env, "ticketing")
        workers = server.worker_pids()
        assert _refusals(server) == 0
        # What a careless hand (or an attacker with write access) would do: point ACTIVE at it directly.
        pointer = models / "ACTIVE"
        tmp = models / ".ACTIVE.test"
        tmp.write_text(v2 + "\n", encoding="utf-8")
        os.replace(tmp, pointer)
        pointed = time.monotonic()

        # Every worker refuses it (once each) and keeps V1.
        assert _wait_for(lambda: _refusals(server) >= server.workers, REFUSAL_DEADLINE), server.log()
        assert time.monotonic() - pointed <= REFUSAL_DEADLINE
        assert _worker_models(server) == {pid: {v1} for pid in workers}
        for _ in range(4):
            status, ready = get_json(server.url("/readyz"))
            assert status == 200 and ready["status"] == "ready" and ready["model"] == v1, ready
            assert v2 in ready.get("model_error", "") and "SHA-256" in ready["model_error"], ready

        # The old model keeps answering across further watcher ticks, and the refusal is not repeated.
        answered = []
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            status, body = post_json(server.url("/api/v1/classify"), {"text": TEXTS[len(answered) % len(TEXTS)]},
                                     {"Authorization": f"Bearer {token}"})
            answered.append((status, body.get("model_version")))
        assert answered and set(answered) == {(201, v1)}
        assert _refusals(server) == server.workers
        assert "refused model version" in server.log()
        assert server.worker_pids() == workers
