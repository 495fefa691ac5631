"""Process helpers shared by the benchmarks, the load generator and the server tests (standard library only)."""

from __future__ import annotations

import base64
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> set[int]:
    """Return the child pids of a process (gunicorn's workers of its master)."""
    pids: set[int] = set()
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids.update(int(p) for p in path.read_text().split())
        except (OSError, ValueError):
            continue  # a thread that ended while we read
    return pids


def stop_group(process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
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


def server_env(workdir: Path, models_dir: Path, database: Path, *, secret_key: str | None = None,
               webhook_secret: str | None = None, log_level: str = "WARNING") -> dict[str, str]:
    """Return the environment of a throwaway `triage serve`: this process's, without any TRIAGE_* of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "PROMETHEUS_"))}
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        TRIAGE_SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        TRIAGE_WEBHOOK_SECRET=webhook_secret or "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        TRIAGE_DATABASE_URL=f"sqlite:///{database}",
        TRIAGE_MODELS_DIR=str(models_dir),
        TRIAGE_DATA_DIR=str(ROOT / "data"),
        TRIAGE_GATE_CSV="",
        TRIAGE_LOG_LEVEL=log_level,
        # Its own metrics folder, removed with the caller's files.
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def launch_serve(env: dict[str, str], workdir: Path, port: int, workers: int, log_path: Path,
                 command: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start `triage serve` on 127.0.0.1 in its own process group, its output going to ``log_path``.

    ``command`` replaces `python -m triage` (to try a variant of the service).
    """
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [*(command or [sys.executable, "-m", "triage"]), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """Return the status of GET path on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
