"""The real `triage serve` stays up under slow clients, keeps connections alive, and answers every refusal in JSON.

Slow clients trickle request bodies and headers five bytes at a time; /healthz
must answer meanwhile (with sync workers two such sockets stalled it for 20 s),
and each slow connection must be closed by the server once its request
deadline (TRIAGE_TIMEOUT) has passed.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import pytest

from .servers import RunningServer, create_token_direct, http, running_server

pytestmark = pytest.mark.slow

DEADLINE = 3  # TRIAGE_TIMEOUT for this server: short, so that the test is short
TRICKLE_PAUSE = 0.25  # seconds between two 5-byte pieces
CLIENT_GIVES_UP = 20.0  # a slow client stops by itself after this long (the server should be much quicker)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_models: Path) -> Iterator[RunningServer]:
    models = tmp_path_factory.mktemp("slow") / "models"
    shutil.copytree(trained_models, models)
    with running_server({"TRIAGE_MODELS_DIR": str(models), "TRIAGE_TIMEOUT": str(DEADLINE),
                         "TRIAGE_THREADS": "4"}, workers=2) as running:
        yield running


def _port(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


@dataclass
class Trickle:
    head: bytes
    payload: bytes
    answer: bytes = b""
    closed_by_server: bool = False
    seconds: float = 0.0


def _trickle(port: int, t: Trickle) -> None:
    """Send the head, then the payload five bytes at a time, until the server closes or we give up."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(t.head)
        s.settimeout(TRICKLE_PAUSE)
        pos = 0
        while time.monotonic() - started < CLIENT_GIVES_UP:
            if pos < len(t.payload):
                try:
                    s.sendall(t.payload[pos : pos + 5])
                except OSError:
                    t.closed_by_server = True
                    break
                pos += 5
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                t.closed_by_server = True
                break
            if not chunk:
                t.closed_by_server = True
                break
            t.answer += chunk
    t.seconds = time.monotonic() - started


def test_healthz_answers_while_slow_clients_trickle_bodies_and_headers(server: RunningServer) -> None:
    body_head = ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000\r\n\r\n")
    slow = [Trickle(body_head.format(path=p).encode(), b"x" * 1000)
            for p in ("/api/v1/webhooks/inquiries", "/api/v1/classify", "/login", "/api/v1/webhooks/inquiries")]
    slow += [Trickle(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 2000) for _ in range(2)]
    threads = [threading.Thread(target=_trickle, args=(_port(server), t), daemon=True) for t in slow]
    for th in threads:
        th.start()
    time.sleep(0.5)  # every slow client has its connection open and is trickling
    answered = []
    for _ in range(8):
        status, body, _ = http("GET", server.url("/healthz"), timeout=5.0)
        answered.append((status, json.loads(body)))
        time.sleep(0.2)
    for th in threads:
        th.join(timeout=CLIENT_GIVES_UP + 10)
    assert answered == [(200, {"status": "ok"})] * 8
    # The server closed every slow connection, long before the client would have given up.
    assert all(t.closed_by_server for t in slow), [(t.head[:30], t.seconds, t.answer[:60]) for t in slow]
    # A body that starts but does not finish in time is answered 408 in the one JSON shape.
    webhook = slow[0].answer
    assert webhook.startswith(b"HTTP/1.1 408"), webhook[:200]
    assert json.loads(webhook.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "timeout"
    assert "slow client" in server.log()


def test_connections_are_kept_alive(server: RunningServer) -> None:
    conn = HTTPConnection("127.0.0.1", _port(server), timeout=5)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        conn.request("GET", "/readyz")
        second = conn.getresponse()
        second.read()
        assert (first.status, second.status) == (200, 200)
        assert conn.sock is sock and first.getheader("Connection", "").lower() != "close"
    finally:
        conn.close()


def _raw(server: RunningServer, data: bytes, after: list[bytes] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (the request and, optionally, pieces after it); return status, headers, body."""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=10) as s:
        s.sendall(data)
        for piece in after or []:
            try:
                s.sendall(piece)
            except OSError:  # the server answered and closed before reading everything
                break
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < _length(got):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _length(got: bytes) -> int:
    for line in got.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


REFUSED_BY_THE_SERVER = [
    ("long URL", b"GET /api/v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("oversized header", b"GET /api/v1/classify HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("too many headers", b"GET /api/v1/classify HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
    ("invalid header", b"GET /api/v1/classify HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    ("invalid request line", b"GARBAGE\r\n\r\n", 400),
]


@pytest.mark.parametrize(("what", "request_bytes", "status"), REFUSED_BY_THE_SERVER, ids=[r[0] for r in REFUSED_BY_THE_SERVER])
def test_what_the_server_refuses_itself_has_the_json_shape(server: RunningServer, what: str, request_bytes: bytes,
                                                           status: int) -> None:
    got, headers, body = _raw(server, request_bytes)
    assert got == status, (what, got, body[:200])
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"} and error["message"]


def test_a_chunked_body_over_the_limit_is_a_413_in_the_json_shape(server: RunningServer) -> None:
    token = create_token_direct(server.env, "chunked")
    piece = b"a" * 65536
    chunks = [b"%x\r\n" % len(piece) + piece + b"\r\n"] * (5 * 1024 * 1024 // len(piece)) + [b"0\r\n\r\n"]
    for path, auth in (("/api/v1/classify", f"Authorization: Bearer {token}\r\n"),
                       ("/api/v1/classify/batch", f"Authorization: Bearer {token}\r\n"),
                       ("/api/v1/webhooks/inquiries", "")):
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        status, headers, body = _raw(server, head, chunks)
        assert status == 413, (path, status, body[:200])
        assert headers["content-type"] == "application/json" and json.loads(body)["error"]["code"] == "too_large"
