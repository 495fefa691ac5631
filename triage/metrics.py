"""Prometheus metrics; aggregated across gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

REQUESTS = Counter("triage_http_requests_total", "HTTP requests by route and status.", ["route", "method", "status"])
LATENCY = Histogram(
    "triage_http_request_seconds", "HTTP request latency by route.", ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CLASSIFICATIONS = Counter("triage_classifications_total", "Inquiries classified by route and channel.",
                          ["label", "source"])
MODEL_INFO = Gauge("triage_model_info", "The model version each worker serves (value 1).", ["version"],
                   multiprocess_mode="liveall")
MODEL_REFUSALS = Counter("triage_model_refusals_total", "Model versions refused at load (hash or format).")
WEBHOOK_REJECTED = Counter("triage_webhook_rejected_total", "Webhook deliveries refused, by reason.", ["reason"])
DB_ERRORS = Counter("triage_database_errors_total", "Requests answered 503 because the database failed.")
# Set from the insight of the last TRIAGE_INSIGHT_HOURS (triage.insights, cached a minute) when /metrics is read.
CORRECTION_RATE = Gauge("triage_insight_correction_rate", "Share of inquiries of a predicted route that agents "
                        "corrected, over the insight window.", ["label"], multiprocess_mode="livemostrecent")
FAQ_GAP_LARGEST = Gauge("triage_insight_faq_gap_largest", "Inquiries in the largest cluster of FAQ gaps, over the "
                        "insight window.", multiprocess_mode="livemostrecent")


def set_model(version: str | None, previous: str | None) -> None:
    """Record which version this worker serves (the old one drops to 0)."""
    if previous:
        MODEL_INFO.labels(previous).set(0)
    if version:
        MODEL_INFO.labels(version).set(1)


def render() -> tuple[bytes, str]:
    """Return the exposition text of every metric (all workers' when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
