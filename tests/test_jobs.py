"""Admin training jobs: a `triage train` process each, orphans marked failed, uploads private and deleted."""

from __future__ import annotations

import io
import os
import signal
import stat
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from triage import jobs
from triage.store import TrainingJob, utcnow

from .conftest import csrf_token


def _upload(admin, data: bytes, name: str = "more.csv", with_bundled: bool = False):
    form = {"csrf_token": csrf_token(admin), "csv": FileStorage(io.BytesIO(data), filename=name, content_type="text/csv")}
    if with_bundled:
        form["with_bundled"] = "1"
    # Encoded in memory: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart(form)
    return admin.post("/admin/train", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _job(app, job_id: int) -> TrainingJob:
    with app.extensions["triage.store"].session() as s:
        return s.get(TrainingJob, job_id)


def _wait(admin, job_url: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = admin.get(job_url + "?format=json").get_json()
        if state["status"] != "running":
            return state
        time.sleep(0.3)
    raise AssertionError(f"the job did not end within {timeout:.0f} s: {state}")


def _uploads(app) -> Path:
    return Path(app.instance_path) / "uploads"


def test_a_job_runs_in_its_own_process_with_a_private_upload_deleted_at_the_end(admin, app, tiny_csv) -> None:
    resp = _upload(admin, tiny_csv.read_bytes())
    assert resp.status_code == 303
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    row = _job(app, job_id)
    assert row.pid and row.pid != os.getpid() and row.host
    upload = Path(row.upload_path)
    assert upload.parent == _uploads(app)
    assert stat.S_IMODE(_uploads(app).stat().st_mode) == 0o700
    if upload.exists():  # the process may already be done on a fast machine
        assert stat.S_IMODE(upload.stat().st_mode) == 0o600
    state = _wait(admin, resp.headers["Location"])
    assert state["status"] == "done", state
    assert not upload.exists() and list(_uploads(app).iterdir()) == []
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "more.csv" in page and "uploads" not in page and str(upload) not in page


def test_a_failed_training_names_the_original_file_only_and_deletes_the_upload(admin, app) -> None:
    # Valid CSV, but too few rows per label: the training process fails on it.
    data = "text,label\n補償はありますか,compensation\nパスワードの変更方法,faq\n".encode()
    resp = _upload(admin, data, name="few.csv")
    assert resp.status_code == 303
    state = _wait(admin, resp.headers["Location"])
    assert state["status"] == "failed" and "20 行以上" in state["error"], state
    assert state["progress"] == "読み込み中: few.csv", state  # the original name, not the server path
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "学習に失敗しました" in page and "few.csv" in page
    assert "uploads" not in page and "job-" not in page and "uploads" not in state["progress"]
    assert list(_uploads(app).iterdir()) == []


def test_a_job_killed_with_its_process_is_marked_failed_and_the_page_says_so(admin, app, tiny_csv) -> None:
    resp = _upload(admin, tiny_csv.read_bytes(), with_bundled=True)
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    row = _job(app, job_id)
    os.kill(row.pid, signal.SIGKILL)
    state = _wait(admin, resp.headers["Location"], timeout=30.0)
    assert state["status"] == "failed" and state["error"] == jobs.ORPHANED, state
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "途中で終了しました" in page and 'data-status="failed"' in page
    assert not Path(row.upload_path).exists()


def test_a_job_without_a_heartbeat_is_orphaned_also_on_another_host(app, admin) -> None:
    store = app.extensions["triage.store"]
    with store.session() as s:
        s.add(TrainingJob(started_by="admin1", filename="x.csv", status="running", pid=1, host="elsewhere",
                          heartbeat_at=utcnow() - jobs.STALE_AFTER - timedelta(seconds=1)))
        s.add(TrainingJob(started_by="admin1", filename="y.csv", status="running", pid=1, host="elsewhere",
                          heartbeat_at=utcnow()))
    page = admin.get("/admin/").get_data(as_text=True)
    assert "x.csv — failed" in page and "y.csv — running" in page


def test_a_reused_pid_is_not_mistaken_for_the_job(app) -> None:
    # pid 1 is alive but is not `triage train --job`: the job is orphaned.
    import socket

    store = app.extensions["triage.store"]
    with store.session() as s:
        job = TrainingJob(started_by="admin1", filename="z.csv", status="running", pid=1, host=socket.gethostname(),
                          heartbeat_at=utcnow())
        s.add(job)
        s.flush()
        job_id = job.id
    assert jobs.reap_orphans(store) == [job_id]


def test_purge_deletes_uploads_no_running_job_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from triage.cli import cli

    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite'}")
    monkeypatch.setattr("triage.services.instance_path", lambda: tmp_path / "instance")
    stray = jobs.uploads_dir(tmp_path / "instance") / "job-3.csv"  # left by an older release
    stray.write_text("text,label\n")
    result = CliRunner().invoke(cli, ["purge", "--older-than", "90"])
    assert result.exit_code == 0, result.output
    assert "1 uploaded training file(s)" in result.output and not stray.exists()


# -- the training lock: taken by the training function itself, re-entrant ----------------------------------


def test_train_version_holds_the_training_lock_itself(tmp_path: Path, tiny_csv: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    from triage import lifecycle
    from triage.registry import Registry

    registry = Registry(tmp_path / "models")
    seen: list[bool] = []
    real_train = lifecycle.train

    def train(*args: object, **kwargs: object) -> object:
        with open(registry.root / ".train.lock", "w") as f:  # what another process would try
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append(True)
            else:
                fcntl.flock(f, fcntl.LOCK_UN)
                seen.append(False)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "train", train)
    lifecycle.train_version([tiny_csv], registry, gate_csv=None)
    assert seen == [True]


def test_ensure_model_inside_the_lock_does_not_deadlock(tmp_path: Path, tiny_csv: Path) -> None:
    import shutil

    from triage.lifecycle import ensure_model, training_lock
    from triage.registry import Registry

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(tiny_csv, data / "inquiries.csv")
    registry = Registry(tmp_path / "models")
    result: list[object] = []

    def nested() -> None:
        with training_lock(registry.root):
            result.append(ensure_model(registry, data, None))

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "nested training lock deadlocked"
    assert result and result[0][1] is True and registry.active()


# -- the upload limit is the upload route's own ---------------------------------------------------------------


def _big_csv(size: int) -> bytes:
    row = "この行のラベルは存在しない値です。" * 4 + ",urgent\n"
    return ("text,label\n" + row * (size // len(row.encode()) + 1)).encode()


def test_an_upload_above_the_request_limit_but_within_the_upload_limit_is_validated(admin, app) -> None:
    data = _big_csv(int(5.6 * 1024 * 1024))
    assert app.config["MAX_CONTENT_LENGTH"] < len(data) < app.config["MAX_UPLOAD_BYTES"]
    resp = _upload(admin, data, name="big.csv")
    assert resp.status_code == 422, resp.status_code  # validated: line-numbered errors, not a generic 413
    assert "2行目" in resp.get_data(as_text=True)  # the Japanese message of line 2


def test_an_upload_above_the_upload_limit_gets_the_japanese_message(admin, app) -> None:
    app.config["MAX_UPLOAD_BYTES"] = 5 * 1024 * 1024
    resp = _upload(admin, _big_csv(6 * 1024 * 1024), name="huge.csv")
    assert resp.status_code == 303
    assert "ファイルが大きすぎます（上限 5 MB）" in admin.get("/admin/").get_data(as_text=True)
    # Other routes keep the general request limit.
    big = admin.post("/", data={"text": "あ" * (app.config["MAX_CONTENT_LENGTH"] // 3 + 10),
                                "csrf_token": csrf_token(admin)})
    assert big.status_code == 413
