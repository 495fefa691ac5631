"""`triage serve`: gunicorn with the model loaded once before the workers fork.

Threaded workers (gthread) with keep-alive, and a deadline per request: a
client gets TRIAGE_TIMEOUT seconds to send the headers and the body of one
request, so a few slow or stalled connections hold a few threads for a few
seconds, never a whole worker. Requests gunicorn refuses before the app sees
them (oversized or invalid headers, a long URL) are answered in the service's
one JSON error shape too.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import tempfile
import time
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger("triage.serve")
# gunicorn restarts a worker whose main loop has been silent this long (a hung worker, not a slow request).
WORKER_SILENT_TIMEOUT = 60


class SlowClient(NoMoreData, TimeoutError):
    """The client did not send its request within the deadline (gunicorn closes the connection quietly)."""


class DeadlineSocket:
    """A client socket whose reads end at a deadline set when a request starts.

    Every ``recv`` waits at most until the deadline, then raises SlowClient:
    trickling one byte at a time does not reset it, unlike a plain socket
    timeout. Everything else is the wrapped socket's.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._reported = False

    def arm(self) -> None:
        """Start the deadline of the next request on this connection."""
        self._deadline = time.monotonic() + self._seconds
        self._reported = False

    def recv(self, size: int, flags: int = 0) -> bytes:
        """Read like socket.recv, but never past the deadline."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._too_slow()
        previous = self._sock.gettimeout()
        try:
            # A non-blocking socket stays non-blocking; a blocking one waits until the deadline at most.
            self._sock.settimeout(remaining if previous is None else min(previous, remaining) if previous else 0.0)
            return self._sock.recv(size, flags)
        except TimeoutError:
            raise self._too_slow() from None
        finally:
            self._sock.settimeout(previous)

    def _too_slow(self) -> SlowClient:
        if not self._reported:
            self._reported = True
            try:
                peer = self._sock.getpeername()[0]
            except OSError:
                peer = "?"
            log.warning("slow client %s: no complete request within %.0f s; closing the connection", peer,
                        self._seconds)
        return SlowClient()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Worker(ThreadWorker):
    """gunicorn's threaded worker with a read deadline per request (TRIAGE_TIMEOUT)."""

    def handle(self, conn: Any) -> Any:
        """Arm the connection's deadline, then handle the request as gthread does."""
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, _request_deadline)
        conn.sock.arm()
        return super().handle(conn)


# Set by run() before the workers fork (gunicorn's settings have no slot for it).
_request_deadline = 15.0


def _json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Answer what gunicorn refuses itself (bad request line, header too large, ...) in the one JSON shape."""
    codes = {400: "bad_request", 403: "forbidden", 408: "timeout", 414: "uri_too_long",
             417: "expectation_failed", 431: "headers_too_large", 500: "internal", 501: "not_implemented"}
    body = json.dumps({"error": {"code": codes.get(status_int, "error"),
                                 "message": f"{reason}: the server refused the request before reading it"}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n").encode("latin-1")
    gunicorn_util.write_nonblock(sock, head + body)


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


def run(app: Any, host: str, port: int, workers: int, threads: int = 8, timeout: float = 15.0,
        keepalive: int = 5) -> None:
    """Serve the app until interrupted (``timeout``: seconds a client has to send one request)."""
    global _request_deadline
    _request_deadline = timeout
    # gunicorn writes its own error page with this one function: make it the one JSON error shape.
    gunicorn_util.write_error = _json_error
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # The master loaded the model in create_app() but never serves: drop its
        # triage_model_info sample, or /metrics reports that version for good.
        multiprocess.mark_process_dead(os.getpid())
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "triage.serve.Worker",
        "threads": threads,
        "preload_app": True,
        "timeout": WORKER_SILENT_TIMEOUT,
        "graceful_timeout": 20,
        "keepalive": keepalive,
        "accesslog": None,
        "errorlog": "-",
        "pre_fork": _pre_fork,
        "post_fork": _post_fork,
        "child_exit": _child_exit,
    }
    Server(app, options).run()
