"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from . import intake, metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """Answer 200 while the process runs."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    """Answer 200 when a verified model is loaded and the database answers."""
    holder = intake.holder()
    model = holder.current
    checks: dict[str, Any] = {"model": model.version if model else None, "database": "ok"}
    try:
        intake.store().ping()
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    if holder.last_error:
        checks["model_error"] = holder.last_error
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
