"""A bounded, threaded HTTP load generator on http.client connections.

Each of N threads owns one `http.client.HTTPConnection` and sends requests
back to back until the phase's deadline, so at most N requests are in flight.
A connection is reused while the server keeps it open; gunicorn's sync workers
close every connection after one response, and http.client then reconnects by
itself on the next request (counted, and the connect time is in the latency).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.common import cpu_seconds, system_busy_seconds

# (method, path, body, headers) of the i-th request of a thread.
RequestMaker = Callable[[int, int], tuple[str, str, bytes | None, dict[str, str]]]


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection that counts how often it had to (re)connect."""

    connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


@dataclass
class _ThreadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    last_end: float = 0.0


def _worker(host: str, port: int, make: RequestMaker, idx: int, shared: dict[str, float], timeout: float,
            start: threading.Event, out: _ThreadResult, max_requests: int) -> None:
    conn = _Connection(host, port, timeout=timeout)
    clock = time.perf_counter
    start.wait()
    # The deadline is written before `start` is set.
    deadline = shared["deadline"]
    i = 0
    try:
        while i < max_requests and clock() < deadline:
            method, path, body, headers = make(idx, i)
            i += 1
            t0 = clock()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                out.errors[type(exc).__name__] += 1
                conn.close()
                continue
            t1 = clock()
            out.latencies.append(t1 - t0)
            out.statuses[status] += 1
            out.last_end = t1
    finally:
        out.connects = conn.connects
        conn.close()


def run_phase(host: str, port: int, make: RequestMaker, concurrency: int, seconds: float,
              server_pids: list[int] | None = None, timeout: float = 30.0,
              max_requests: int = 10_000_000) -> dict[str, Any]:
    """Run one load phase of at most ``seconds`` (plus one request's timeout) and summarise it."""
    start = threading.Event()
    shared: dict[str, float] = {}
    results = [_ThreadResult() for _ in range(concurrency)]
    threads = [
        threading.Thread(target=_worker, args=(host, port, make, idx, shared, timeout, start, results[idx],
                                               max_requests), daemon=True)
        for idx in range(concurrency)
    ]
    for th in threads:
        th.start()
    server_cpu0 = sum(cpu_seconds(p) for p in server_pids or [])
    client_cpu0 = time.process_time()
    busy0 = system_busy_seconds()
    t0 = time.perf_counter()
    shared["deadline"] = t0 + seconds
    start.set()
    for th in threads:
        th.join(timeout=seconds + timeout + 5)
    stuck = sum(th.is_alive() for th in threads)
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - client_cpu0
    server_cpu = sum(cpu_seconds(p) for p in server_pids or []) - server_cpu0
    others = max(0.0, system_busy_seconds() - busy0 - client_cpu - server_cpu)

    lat = np.concatenate([np.asarray(r.latencies) for r in results]) if results else np.zeros(0)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        statuses.update(r.statuses)
        errors.update(r.errors)
    ends = [r.last_end for r in results if r.last_end]
    elapsed = (max(ends) - t0) if ends else wall
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    done = int(len(lat))
    p50, p90, p99 = (np.percentile(lat * 1e3, [50, 90, 99]) if done else (float("nan"),) * 3)
    return {
        "concurrency": concurrency,
        "seconds": elapsed,
        "requests": done,
        "ok": ok,
        "rps": ok / elapsed if elapsed > 0 else 0.0,
        "p50_ms": float(p50),
        "p90_ms": float(p90),
        "p99_ms": float(p99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "connects": sum(r.connects for r in results),
        "client_cpu_s": client_cpu,
        "client_cores": client_cpu / wall if wall else 0.0,
        "client_cpu_us_per_request": client_cpu / done * 1e6 if done else float("nan"),
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_request": server_cpu / ok * 1e3 if ok and server_pids else float("nan"),
        "server_cores": server_cpu / wall if wall and server_pids else float("nan"),
        "other_cores": others / wall if wall else float("nan"),
        "stuck_threads": stuck,
    }
