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
LIVE_INFO = Gauge("triage_live_info", "The FAQ version and incident profile revision each worker serves (value 1).",
                  ["item", "version"], multiprocess_mode="liveall")
MODEL_REFUSALS = Counter("triage_model_refusals_total", "Model versions refused at load (hash or format).")
WEBHOOK_REJECTED = Counter("triage_webhook_rejected_total", "Webhook deliveries refused, by reason.", ["reason"])
WEBHOOK_CONFLICTS = Counter("triage_webhook_conflicts_total",
                            "Webhook ids resent with a different body (answered with the stored result).")
DB_ERRORS = Counter("triage_database_errors_total", "Requests answered 503 because the database failed.")
# Set from the insight of the last TRIAGE_INSIGHT_HOURS (triage.insights, cached a minute) when /metrics is read.
CORRECTION_RATE = Gauge("triage_insight_correction_rate", "Share of inquiries of a predicted route that agents "
                        "corrected, over the insight window.", ["label"], multiprocess_mode="livemostrecent")
FAQ_GAP_LARGEST = Gauge("triage_insight_faq_gap_largest", "Inquiries in the largest cluster of FAQ gaps, over the "
                        "insight window.", multiprocess_mode="livemostrecent")


# Any token is a valid HTTP method: each unknown one would add a series for good (memory, scrape size).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """Return the method as a label value: the known ones by name, every other as "other"."""
    return method if method in KNOWN_METHODS else "other"


def set_model(version: str | None, previous: str | None) -> None:
    """Record which version this worker serves (the old one drops to 0)."""
    if previous:
        MODEL_INFO.labels(previous).set(0)
    if version:
        MODEL_INFO.labels(version).set(1)


def set_live(item: str, version: str | None, previous: str | None) -> None:
    """Record which version of a live item (faq, profile) this worker serves."""
    if previous:
        LIVE_INFO.labels(item, previous).set(0)
    if version:
        LIVE_INFO.labels(item, version).set(1)


def render() -> tuple[bytes, str]:
    """Return the exposition text of every metric (all workers' when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
