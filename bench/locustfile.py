"""Locust users for section 3 (`bench.run` starts locust with one of them; each user keeps its connection).

Settings from the environment: BENCH_TOKEN (API bearer token), BENCH_WEBHOOK_SECRET
(`whsec_...`), BENCH_TEXTS (a JSON file with a list of inquiry texts), BENCH_SECONDS.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task

from bench.loadgen import sign

TEXTS = json.loads(Path(os.environ["BENCH_TEXTS"]).read_text(encoding="utf-8"))
BODIES = [json.dumps({"text": t}, ensure_ascii=False).encode() for t in TEXTS]


@events.test_start.add_listener
def stop_later(environment: Any, **_kwargs: Any) -> None:
    """End the run BENCH_SECONDS after the users start.

    Not --run-time: on a busy machine locust's start-up blocks gevent's loop for
    seconds, its cached time goes stale, and that timer then fires at once.
    """
    gevent.get_hub().loop.update_now()
    gevent.spawn_later(float(os.environ["BENCH_SECONDS"]), environment.runner.quit)


class Healthz(FastHttpUser):
    """GET /healthz back to back: the framework's ceiling on this machine."""

    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="GET /healthz")


class Classify(FastHttpUser):
    """POST /api/v1/classify with a bearer token, a new inquiry each time."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.bodies = itertools.cycle(BODIES)
        self.headers = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}", "Content-Type": "application/json"}

    @task
    def classify(self) -> None:
        self.client.post("/api/v1/classify", data=next(self.bodies), headers=self.headers,
                         name="POST /api/v1/classify")


class Webhook(FastHttpUser):
    """POST /api/v1/webhooks/inquiries, signed (Standard Webhooks), a new webhook-id each time."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.bodies = itertools.cycle(BODIES)

    @task
    def webhook(self) -> None:
        body, msg_id, ts = next(self.bodies), f"bench-{uuid.uuid4().hex}", int(time.time())
        self.client.post("/api/v1/webhooks/inquiries", data=body, name="POST /api/v1/webhooks/inquiries", headers={
            "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(os.environ["BENCH_WEBHOOK_SECRET"], msg_id, ts, body)})
