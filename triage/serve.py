"""`triage serve`: gunicorn with the model loaded once before the workers fork."""

from __future__ import annotations

import gc
import os
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication


def worker_count(setting: int) -> int:
    """Return the number of workers: the setting, or one per CPU core."""
    return setting if setting > 0 else max(1, len(os.sched_getaffinity(0)))


class Server(BaseApplication):
    """A gunicorn application around an already-built Flask app."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Pass our options to gunicorn's settings."""
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # One fixed socket path per user: several servers (tests, benchmarks) would fight over it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        """Return the app (built in the master, so workers share its memory)."""
        return self.application


def _pre_fork(server: Any, worker: Any) -> None:
    # Keep the garbage collector from touching (and so copying) every object the
    # master built: the model stays in pages shared by all workers.
    gc.freeze()


def _post_fork(server: Any, worker: Any) -> None:
    app = server.app.application
    # Connections opened in the master must not be shared across processes.
    app.extensions["triage.store"].engine.dispose(close=False)
    holder = app.extensions["triage.holder"]
    holder.start()
    from . import metrics

    if holder.current is not None:
        metrics.set_model(holder.current.version, None)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_dir() -> None:
    """Give the workers a fresh shared folder for their metrics (before prometheus_client is imported)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="triage-metrics-")


def run(app: Any, host: str, port: int, workers: int) -> None:
    """Serve the app until interrupted."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # The master loaded the model in create_app() but never serves: drop its
        # triage_model_info sample, or /metrics reports that version for good.
        multiprocess.mark_process_dead(os.getpid())
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "preload_app": True,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "pre_fork": _pre_fork,
        "post_fork": _post_fork,
        "child_exit": _child_exit,
    }
    Server(app, options).run()
