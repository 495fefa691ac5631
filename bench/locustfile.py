"""Locust users of bench/: one endpoint back to back (`bench.run`, section 3) or open-loop traffic (`bench.loadgen`).

The requests are bench.loadgen's, so that both send the same classify and signed webhook bodies.
Settings from the environment: BENCH_TOKEN (API bearer token), BENCH_WEBHOOK_SECRET (`whsec_...`),
BENCH_TEXTS (a JSON file with a list of inquiry texts), BENCH_STATS (where the statistics are written at
the end), BENCH_SECONDS (closed-loop users); for OpenLoop, BENCH_PLAN (JSON: phases, mix, seed,
max_lateness, run_id, cookie, csrf).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task

from bench.loadgen import EXPECTED, LABEL, Requests

TEXTS = json.loads(Path(os.environ["BENCH_TEXTS"]).read_text(encoding="utf-8"))
PLAN = json.loads(os.environ.get("BENCH_PLAN", "null"))  # set by bench.loadgen only
# A new run id per process (or the plan's) makes every webhook id new.
REQUESTS = Requests(os.environ["BENCH_TOKEN"], os.environ["BENCH_WEBHOOK_SECRET"], TEXTS,
                    PLAN["run_id"] if PLAN else uuid.uuid4().hex, **({k: PLAN[k] for k in ("cookie", "csrf")}
                                                                    if PLAN else {}))
SEQ = itertools.count()
clock = time.perf_counter


def schedule(plan: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(due seconds after the start, phase, kind) of each request: evenly spaced, kinds drawn from the mix (seeded)."""
    rng = random.Random(plan["seed"])
    kinds, weights = zip(*plan["mix"].items(), strict=True)
    slots, start = [], 0.0
    for name, rate, seconds in plan["phases"]:
        slots += [(start + j / rate, name, rng.choices(kinds, weights)[0]) for j in range(round(rate * seconds))]
        start += seconds
    return slots


class _Run:
    """The open-loop run's shared state (one gevent loop: no locks needed)."""

    slots = schedule(PLAN) if PLAN else []
    next = in_flight = not_sent = 0
    t0 = 0.0
    acks: dict[str, int] = {}


@events.test_start.add_listener
def start(environment: Any, **_kwargs: Any) -> None:
    """Set the open loop's clock, and end a run BENCH_SECONDS (or the plan plus a margin) after the users start.

    Not --run-time: on a busy machine locust's start-up blocks gevent's loop for
    seconds, its cached time goes stale, and that timer then fires at once.
    """
    gevent.get_hub().loop.update_now()
    _Run.t0 = clock() + 1.0  # every user has started before the first request is due
    seconds = _Run.slots[-1][0] + 60.0 if PLAN else float(os.environ["BENCH_SECONDS"])
    gevent.spawn_later(seconds, environment.runner.quit)


@events.quitting.add_listener
def save(environment: Any, **_kwargs: Any) -> None:
    """Write the final statistics (and the open loop's acknowledgements) to BENCH_STATS for bench.loadgen.

    Not --csv: its file is rewritten once a second, so it can miss the last requests.
    """
    stats = environment.runner.stats
    rows = [{"type": e.method or "", "name": e.name, "requests": e.num_requests, "failures": e.num_failures,
             "rps": e.total_rps, "max_ms": e.max_response_time,
             **{f"p{q}_ms": e.get_response_time_percentile(q / 100) for q in (50, 90, 99)}}
            for e in (*stats.entries.values(), stats.total)]
    failures = {f"{e.method} {e.name}: {e.error}": e.occurrences for e in stats.errors.values()}
    open_loop = {"scheduled": len(_Run.slots), "not_sent_in_time": _Run.not_sent, "acks": _Run.acks} if PLAN else {}
    Path(os.environ["BENCH_STATS"]).write_text(json.dumps({"rows": rows, "failures": failures, **open_loop}),
                                               encoding="utf-8")


class _Endpoint(FastHttpUser):
    """One endpoint back to back, a new inquiry (and webhook id) each time."""

    abstract = True
    wait_time = constant(0)
    kind = ""

    @task
    def send(self) -> None:
        method, path, body, headers, _ = REQUESTS.request(self.kind, next(SEQ))
        self.client.request(method, path, data=body, headers=headers, name=f"{method} {path}")


class Healthz(_Endpoint):
    """GET /healthz: the framework's ceiling on this machine."""

    kind = "healthz"


class Classify(_Endpoint):
    """POST /api/v1/classify with a bearer token."""

    kind = "classify"


class Webhook(_Endpoint):
    """POST /api/v1/webhooks/inquiries, signed (Standard Webhooks)."""

    kind = "webhook"


class OpenLoop(FastHttpUser):
    """Open loop: each scheduled request leaves at its time from whichever user is free; latency from that time."""

    wait_time = constant(0)
    network_timeout = connection_timeout = 30.0

    @task
    def send(self) -> None:
        if _Run.next >= len(_Run.slots):
            if _Run.in_flight == 0:
                gevent.spawn(self.environment.runner.quit)
            gevent.sleep(0.05)
            return
        seq, _Run.next = _Run.next, _Run.next + 1
        due_s, phase, kind = _Run.slots[seq]
        due = _Run.t0 + due_s
        while (wait := due - clock()) > 0:
            gevent.sleep(wait)
        if clock() - due > PLAN["max_lateness"]:
            _Run.not_sent += 1  # every user was busy: the client's limit, not the server's answer
            return
        method, path, body, headers, webhook_id = REQUESTS.request(kind, seq)
        _Run.in_flight += 1
        try:
            with self.client.request(method, path, data=body, headers=headers, name=LABEL[kind],
                                     catch_response=True) as resp:
                # From the scheduled time, not the send: a server that falls behind shows it (no coordinated omission).
                resp.request_meta.update(request_type=phase, response_time=(clock() - due) * 1e3)
                if resp.status_code != EXPECTED[kind]:
                    resp.failure(resp.request_meta["exception"] or f"status {resp.status_code}")
                elif webhook_id:
                    try:
                        answer = resp.json()
                        if answer["duplicate"]:
                            resp.failure("a new webhook id answered as a duplicate")
                        _Run.acks[webhook_id] = int(answer["inquiry_id"])
                    except (ValueError, KeyError, TypeError):
                        resp.failure("bad webhook answer")
        finally:
            _Run.in_flight -= 1
