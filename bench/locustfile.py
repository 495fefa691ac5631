"""Locust users for section 3 (`bench.run` starts locust with one of them; each user keeps its connection).

The requests are bench.loadgen's, so that both load tools send the same classify and signed webhook bodies.
Settings from the environment: BENCH_TOKEN (API bearer token), BENCH_WEBHOOK_SECRET (`whsec_...`),
BENCH_TEXTS (a JSON file with a list of inquiry texts), BENCH_SECONDS.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task

from bench.loadgen import Client

TEXTS = json.loads(Path(os.environ["BENCH_TEXTS"]).read_text(encoding="utf-8"))
# Host and port are locust's (-H); a new run id per process makes every webhook id new.
REQUESTS = Client("", 0, os.environ["BENCH_TOKEN"], os.environ["BENCH_WEBHOOK_SECRET"], TEXTS, uuid.uuid4().hex, 30.0)
SEQ = itertools.count()


@events.test_start.add_listener
def stop_later(environment: Any, **_kwargs: Any) -> None:
    """End the run BENCH_SECONDS after the users start.

    Not --run-time: on a busy machine locust's start-up blocks gevent's loop for
    seconds, its cached time goes stale, and that timer then fires at once.
    """
    gevent.get_hub().loop.update_now()
    gevent.spawn_later(float(os.environ["BENCH_SECONDS"]), environment.runner.quit)


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
