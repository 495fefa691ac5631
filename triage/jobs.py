"""Training jobs from the admin page: one `triage train --job ID` process each, watched through the database.

The worker that takes the upload starts the process and records its pid and
host; the process writes its progress, a heartbeat and the result into the
job's row, and deletes the uploaded file when it ends. A job whose process is
gone (killed, out of memory, the machine restarted) is marked failed by the
next page that looks at it, so no job page spins for ever.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from .store import Store, TrainingJob, as_utc, utcnow

log = logging.getLogger("triage.jobs")

HEARTBEAT_SECONDS = 5.0
# A running job whose process has not written a heartbeat for this long is gone (also when it ran elsewhere).
STALE_AFTER = timedelta(seconds=60)
ORPHANED = "学習プロセスが途中で終了しました（強制終了やサーバーの再起動など）。CSVをもう一度アップロードしてください。"
# Settings the training process needs, passed from the running app (which may not have them in its environment).
_CHILD_SETTINGS = ("DATABASE_URL", "MODELS_DIR", "DATA_DIR", "GATE_CSV", "LOG_LEVEL")


def uploads_dir(instance_path: str | Path) -> Path:
    """Return the private folder for uploaded training files (created 0700)."""
    path = Path(instance_path) / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 in one call: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def start(store: Store, config: dict[str, Any], instance_path: str | Path, data: bytes, filename: str, actor: str,
          with_bundled: bool) -> int:
    """Store the upload privately and start `triage train --job` on it; return the job id."""
    with store.session() as s:
        job = TrainingJob(started_by=actor, filename=filename, progress="queued", status="running")
        s.add(job)
        s.flush()
        job_id = job.id
    # Unique even when another database (a test, a re-created one) reuses the job id in this folder.
    path = uploads_dir(instance_path) / f"job-{job_id}-{secrets.token_hex(8)}.csv"
    _write_private(path, data)
    paths = [str(path)]
    if with_bundled:
        paths.insert(0, str(Path(config["DATA_DIR"]) / "inquiries.csv"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "PROMETHEUS_"))}
    for name in _CHILD_SETTINGS:
        value = config.get(name)
        if value is not None:
            env[f"TRIAGE_{name}"] = str(Path(value).resolve()) if name in ("MODELS_DIR", "DATA_DIR") else str(value)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "triage", "train", "--job", str(job_id), "--", *paths],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError as exc:
        path.unlink(missing_ok=True)
        _finish(store, job_id, "failed", error=f"学習プロセスを開始できませんでした（{exc.strerror}）。")
        return job_id
    with store.session() as s:
        row = s.get(TrainingJob, job_id)
        row.pid, row.host, row.heartbeat_at, row.upload_path = proc.pid, socket.gethostname(), utcnow(), str(path)
    # Reap the child when it ends (no zombie that still looks alive); a dead worker leaves that to init.
    threading.Thread(target=proc.wait, name=f"train-job-{job_id}-reaper", daemon=True).start()
    log.info("training job %d started by %s on %s (pid %d)", job_id, actor, filename, proc.pid)
    return job_id


def _finish(store: Store, job_id: int, status: str, only_running: bool = True, **fields: Any) -> bool:
    """Set the final state; with ``only_running``, only if the job still runs (reapers race); True if set."""
    q = update(TrainingJob).where(TrainingJob.id == job_id)
    if only_running:
        q = q.where(TrainingJob.status == "running")
    with store.session() as s:
        done = s.execute(q.values(status=status, finished_at=utcnow(), **fields))
    return bool(done.rowcount)


def _process_owns(pid: int, job_id: int) -> bool:
    """Return True if ``pid`` is alive here and is the `triage train --job ID` process (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():  # no procfs: the signal check is all there is
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        args = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return any(a == b"--job" and b == str(job_id).encode() for a, b in pairwise(args))


def reap_orphans(store: Store) -> list[int]:
    """Mark running jobs whose process is gone as failed (and delete their uploads); return their ids."""
    host = socket.gethostname()
    now = utcnow()
    with store.session() as s:
        running = list(s.scalars(select(TrainingJob).where(TrainingJob.status == "running")))
    orphaned = []
    for job in running:
        seen = as_utc(job.heartbeat_at or job.created_at)
        gone = now - seen > STALE_AFTER
        if not gone and job.pid is not None and job.host == host:
            gone = not _process_owns(job.pid, job.id)
        if gone and _finish(store, job.id, "failed", error=ORPHANED):
            log.error("training job %d lost its process (pid %s on %s); marked failed", job.id, job.pid, job.host)
            _delete_upload(job.upload_path)
            orphaned.append(job.id)
    return orphaned


def _delete_upload(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def purge_uploads(store: Store, instance_path: str | Path) -> int:
    """Delete uploaded files that no running job needs (left by older releases or crashes); return how many."""
    folder = Path(instance_path) / "uploads"
    if not folder.is_dir():
        return 0
    reap_orphans(store)
    with store.session() as s:
        keep = {p for (p,) in s.execute(select(TrainingJob.upload_path).where(TrainingJob.status == "running"))}
    n = 0
    for path in folder.iterdir():
        if path.is_file() and str(path) not in keep:
            path.unlink(missing_ok=True)
            n += 1
    return n


@dataclass
class _Display:
    """Server paths as the job page may show them: the uploaded file by its original name."""

    names: dict[str, str]

    def __call__(self, message: str) -> str:
        for path, name in self.names.items():
            message = message.replace(path, name)
        return message


def run(store: Store, job_id: int, paths: list[str], train: Callable[..., Any]) -> bool:
    """Run one job in this process (`triage train --job`): progress, heartbeat, result, cleanup."""
    from .dataset import DatasetError
    from .registry import RegistryError

    with store.session() as s:
        job = s.get(TrainingJob, job_id)
        if job is None or job.status != "running":
            raise RuntimeError(f"training job {job_id} does not exist or is not running")
        actor, filename = job.started_by, job.filename
        job.pid, job.host, job.heartbeat_at = os.getpid(), socket.gethostname(), utcnow()
    # The upload is the file this job's worker wrote; never delete anything else (the bundled data).
    upload = next((p for p in paths if Path(p).name.startswith(f"job-{job_id}-") and Path(p).parent.name == "uploads"),
                  None)
    display = _Display({p: (filename if p == upload else Path(p).name) for p in paths})
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with store.session() as s:
                s.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(heartbeat_at=utcnow()))

    def progress(message: str) -> None:
        with store.session() as s:
            s.execute(update(TrainingJob).where(TrainingJob.id == job_id)
                      .values(progress=display(message), heartbeat_at=utcnow()))

    heart = threading.Thread(target=beat, name="train-job-heartbeat", daemon=True)
    heart.start()
    try:
        outcome = train(paths, actor=actor, progress=progress)
        result = {"report": outcome.report, "gate": outcome.gate.to_dict(), "activated": outcome.activated,
                  "rows": len(outcome.data.texts), "overridden": outcome.data.overridden,
                  # Shown on the job page (issue 13 item 11).
                  "duplicates_dropped": outcome.data.duplicates_dropped,
                  "held_out_dropped": outcome.held_out_dropped}
        # What the process did is the truth, also if a reaper wrongly gave up on it meanwhile.
        _finish(store, job_id, "done", only_running=False, version=outcome.version, result=result, progress="完了")
        return True
    except Exception as exc:  # reported on the page; the process exits non-zero
        log.error("training job %d failed: %s", job_id, type(exc).__name__,
                  exc_info=not isinstance(exc, DatasetError | RegistryError))
        message = display(str(exc)) if isinstance(exc, DatasetError | RegistryError) else "内部エラー"
        _finish(store, job_id, "failed", only_running=False, error=message)
        return False
    finally:
        stop.set()
        _delete_upload(upload)
