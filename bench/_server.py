"""A throwaway `triage serve` for the load generator: own temp folder, secrets, database, account and token.

Standard library only, and independent of tests/ (bench/ must not import tests/) and of bench/server.py
(which measures the server and imports numpy). Everything it starts is stopped when the block ends.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .procs import ROOT, child_pids, free_port, http_status, launch_serve, server_env, stop_group

READY_TIMEOUT = 60.0
TRAIN_READY_TIMEOUT = 600.0  # without a model, the master trains the default one before it listens
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 120.0
USER = "load-agent"
TOKEN_NAME = "load"


@dataclass
class StartedServer:
    """A running `triage serve` and what a client needs to use it."""

    base_url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    workers: int
    workdir: Path
    env: dict[str, str] = field(repr=False)
    database_path: Path
    log_path: Path
    user: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    webhook_secret: str = field(repr=False)

    @property
    def pid(self) -> int:
        """Return the gunicorn master's pid."""
        return self.process.pid

    def worker_pids(self) -> set[int]:
        """Return the pids of the master's children (the workers)."""
        return child_pids(self.pid)

    def log(self, tail: int = 4000) -> str:
        """Return the end of what the server wrote."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except OSError:
            return ""


def _has_active(models_dir: Path) -> bool:
    return (models_dir / "ACTIVE").is_file() and bool((models_dir / "ACTIVE").read_text().strip())


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "triage", *args], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"triage {args[0]} {args[1]} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return out.stdout




@contextmanager
def started_server(workers: int = 2, models_dir: Path | None = None,
                   log: Callable[[str], None] = lambda m: None) -> Iterator[StartedServer]:
    """Run `triage serve` on a free 127.0.0.1 port until the block ends.

    The models are copied from ``models_dir`` (default: the repository's models/ when it has an active
    version); without any, the server trains the bundled default model first (minutes).
    """
    source = models_dir if models_dir is not None else ROOT / "models"
    with tempfile.TemporaryDirectory(prefix="triage-load-") as tmp:
        workdir = Path(tmp)
        models = workdir / "models"
        if _has_active(source):
            shutil.copytree(source, models)
        elif models_dir is not None:
            raise RuntimeError(f"{models_dir} has no active model version")
        else:
            models.mkdir()
            log("no active model in models/: the server trains the default model first")
        database = workdir / "triage.sqlite"
        env = server_env(workdir, models, database)
        webhook_secret = env["TRIAGE_WEBHOOK_SECRET"]
        password = secrets.token_urlsafe(18)
        # The account first (it creates the schema); the token while the server starts.
        _cli(env, "users", "add", USER, "--role", "agent", "--password", password)
        token_proc = subprocess.Popen([sys.executable, "-m", "triage", "tokens", "create", TOKEN_NAME], env=env,
                                      cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, start_new_session=True)
        port = free_port()
        log_path = workdir / "server.log"
        process = launch_serve(env, workdir, port, workers, log_path)
        try:
            try:
                out, err = token_proc.communicate(timeout=CLI_TIMEOUT)
            finally:
                if token_proc.poll() is None:
                    os.killpg(token_proc.pid, signal.SIGKILL)
                    token_proc.wait(timeout=STOP_TIMEOUT)
            lines = out.strip().splitlines()
            if token_proc.returncode != 0 or len(lines) != 1:
                raise RuntimeError(f"triage tokens create failed ({token_proc.returncode}):\n{err[-2000:]}")
            server = StartedServer(f"http://127.0.0.1:{port}", process, workers, workdir, env, database, log_path,
                                   USER, password, lines[0], webhook_secret)
            deadline = time.monotonic() + (READY_TIMEOUT if _has_active(models) else TRAIN_READY_TIMEOUT)
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"triage serve exited with {process.returncode}:\n{server.log()}")
                if http_status(port, "/readyz") == 200 and len(server.worker_pids()) >= workers:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"triage serve was not ready in time:\n{server.log()}")
                time.sleep(0.1)
            yield server
        finally:
            stop_group(process)
