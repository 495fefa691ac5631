"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from . import intake, metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """Answer 200 while the process runs."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    """Answer 200 when a verified model is loaded and the database takes writes."""
    holder = intake.holder()
    model = holder.current
    checks: dict[str, Any] = {"model": model.version if model else None, "database": "ok"}
    try:
        intake.store().ping(write=True)
    except SQLAlchemyError as exc:
        # Reachable but refusing writes (read-only file, standby) is not ready either: intake would fail.
        checks["database"] = f"cannot write ({type(exc).__name__})"
    if holder.last_error:
        checks["model_error"] = holder.last_error
    # What else this worker serves; not needed to be ready (answers are routed without a FAQ).
    for name in ("faq", "profile"):
        item = current_app.extensions[f"triage.{name}"]
        checks[name] = item.key
        if item.last_error:
            checks[f"{name}_error"] = item.last_error
    ready = model is not None and checks["database"] == "ok"
    checks["status"] = "ready" if ready else "not ready"
    resp = jsonify(checks)
    resp.status_code = 200 if ready else 503
    if not ready:
        resp.headers["Retry-After"] = "5"
    return resp


@bp.get("/metrics")
def prometheus() -> Response:
    """Return the metrics in Prometheus text format."""
    from .insights import refresh_gauges

    refresh_gauges()
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)
