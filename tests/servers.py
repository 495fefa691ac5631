"""Start the real `triage serve` (gunicorn, several workers) for integration tests and bench/.

Not a test module: helpers only (bench/ uses this launcher; tests never import
bench/). Standard library only on the client side, so that what the tests see
is what any HTTP client would see.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPMessage
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, WEBHOOK_SECRET

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0


@dataclass
class RunningServer:
    """A `triage serve` started by `running_server`."""

    base_url: str
    pid: int
    log_path: Path
    env: dict[str, str]
    workers: int
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on this server."""
        return self.base_url + path

    def log(self) -> str:
        """Return what the server wrote to stderr so far (for assertion messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def worker_pids(self) -> set[int]:
        """Return the pids of the gunicorn workers (children of the master)."""
        return worker_pids(self.pid)

    def cli(self, *args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `python -m triage ARGS` with this server's environment."""
        return run_cli(self.env, *args, check=check, input_text=input_text)


def server_env(models_dir: Path, workdir: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Return a clean environment for a server and its CLI calls.

    TRIAGE_* and PROMETHEUS_* variables of the calling shell are dropped so
    that a developer's settings never leak into a test.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "PROMETHEUS_"))}
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        TRIAGE_SECRET_KEY="integration-test-secret-key-0123456789",
        TRIAGE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TRIAGE_DATABASE_URL=f"sqlite:///{workdir / 'triage.sqlite'}",
        TRIAGE_MODELS_DIR=str(models_dir),
        TRIAGE_DATA_DIR=str(ROOT / "data"),
        TRIAGE_GATE_CSV="",
        TRIAGE_LOG_LEVEL="INFO",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),  # its own, removed with the temp folder
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides or {})
    return env


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(pid: int) -> set[int]:
    """Return the child pids of a process (gunicorn's workers of its master)."""
    pids: set[int] = set()
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids.update(int(p) for p in path.read_text().split())
        except (OSError, ValueError):
            continue  # a thread that ended while we read
    return pids


def launch_serve(env: dict[str, str], workdir: Path, port: int, workers: int,
                 log_path: Path) -> subprocess.Popen[bytes]:
    """Start `triage serve` on 127.0.0.1 in its own process group, its output going to ``log_path``."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "triage", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left (workers may outlive a dead master)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=timeout)


def run_cli(env: dict[str, str], *args: str, check: bool = True,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m triage ARGS` in a subprocess (bounded in time)."""
    result = subprocess.run(
        [sys.executable, "-m", "triage", *args], env=env, cwd=ROOT, input=input_text,
        capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"triage {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def create_token(env: dict[str, str], name: str) -> str:
    """Create an API token with `triage tokens create NAME` and return it."""
    out = run_cli(env, "tokens", "create", name).stdout.strip().splitlines()
    assert len(out) == 1 and out[0], f"expected the token alone on stdout, got {out!r}"
    return out[0]


def create_token_direct(env: dict[str, str], name: str) -> str:
    """Create an API token in this process, in the database of `env` (no 2 s CLI start-up)."""
    from triage.auth import create_token as make_token
    from triage.store import Store

    store = Store(env["TRIAGE_DATABASE_URL"])
    try:
        store.create_schema()
        return make_token(store, name)
    finally:
        store.engine.dispose()


def add_user(env: dict[str, str], name: str, role: str, password: str) -> None:
    """Create an account with `triage users add`."""
    run_cli(env, "users", "add", name, "--role", role, "--password", password)


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, bytes, Any]:
    """Send one request; return (status, body, headers) for every status, errors included."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    open_ = opener.open if opener is not None else urllib.request.urlopen
    try:
        with open_(req, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(), exc.headers


def send_once(host: str, port: int, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = 10.0,
              source: str | None = None) -> tuple[int, bytes, HTTPMessage]:
    """Send one request on a NEW connection (optionally from another loopback source address), then close it."""
    # Not http.client by name: this module's http() would shadow it.
    conn = HTTPConnection(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.headers
    finally:
        conn.close()


def get_json(url: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """GET a JSON document."""
    status, body, _ = http("GET", url, timeout=timeout)
    return status, json.loads(body)


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None,
              timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """POST a JSON object; return the status and the decoded answer."""
    status, body, _ = http("POST", url, json.dumps(payload, ensure_ascii=False).encode(),
                           {"Content-Type": "application/json", **(headers or {})}, timeout=timeout)
    return status, json.loads(body)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Parse Prometheus text exposition into (name, labels, value) samples."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        labels = dict(_LABEL.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def metrics(server: RunningServer) -> list[tuple[str, dict[str, str], float]]:
    """Fetch and parse the server's /metrics."""
    status, body, _ = http("GET", server.url("/metrics"))
    assert status == 200, body
    return parse_metrics(body.decode())


def served_versions(samples: list[tuple[str, dict[str, str], float]]) -> dict[int, set[str]]:
    """Return, per pid, the model versions whose triage_model_info gauge is 1."""
    out: dict[int, set[str]] = {}
    for name, labels, value in samples:
        if name == "triage_model_info" and value == 1.0:
            out.setdefault(int(labels["pid"]), set()).add(labels["version"])
    return out


@contextmanager
def running_server(env_overrides: dict[str, str], workers: int = 2) -> Iterator[RunningServer]:
    """Run `triage serve` on a free 127.0.0.1 port until the block ends.

    ``env_overrides`` must contain TRIAGE_MODELS_DIR; everything else gets a
    test default (own database, metrics folder and log in a temp folder).
    Yields once /readyz answers 200 and all workers have been forked.
    """
    if "TRIAGE_MODELS_DIR" not in env_overrides:
        raise ValueError("running_server needs TRIAGE_MODELS_DIR in env_overrides")
    with tempfile.TemporaryDirectory(prefix="triage-server-") as tmp:
        workdir = Path(tmp)
        env = server_env(Path(env_overrides["TRIAGE_MODELS_DIR"]), workdir, env_overrides)
        port = free_port()
        # Kept for the whole session when set, so that test_log_privacy can grep every line.
        log_dir = Path(os.environ.get("TRIAGE_TEST_LOG_DIR") or workdir)
        log_path = log_dir / f"server-{port}-{os.getpid()}.log"
        process = launch_serve(env, workdir, port, workers, log_path)
        server = RunningServer(f"http://127.0.0.1:{port}", process.pid, log_path, env, workers, process)
        try:
            _wait_ready(server)
            yield server
        finally:
            stop_group(process)


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"triage serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            status, _, _ = http("GET", server.url("/readyz"), timeout=2.0)
        except (OSError, urllib.error.URLError):
            status = None  # not listening yet
        if status == 200 and len(server.worker_pids()) == server.workers:
            return
        time.sleep(0.1)
    raise AssertionError(f"triage serve was not ready within {READY_TIMEOUT:.0f} s:\n{server.log()}")
