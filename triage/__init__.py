"""triage: routes Japanese inquiries after a security incident to faq, compensation or escalation."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

__all__ = ["create_app"]


class StartupError(Exception):
    """The service cannot start; the message says which setting or command fixes it."""


def configure_logging(level: str) -> None:
    """Log to stderr; every record anywhere is created with personal data masked."""
    from .redact import RedactingFilter, install_record_factory

    install_record_factory()
    root = logging.getLogger()
    if not any(getattr(h, "_triage", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
        handler.addFilter(RedactingFilter())
        handler._triage = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the service: settings, store, model, blueprints, security headers."""
    from . import admin, api, auth, config, errors, insights_page, metrics, ops, web, webhook
    from .live import ModelHolder
    from .registry import Registry
    from .store import Store

    app = Flask(__name__, instance_relative_config=True)
    try:
        settings = config.from_env()
    except config.ConfigError as exc:
        raise StartupError(str(exc)) from None
    app.config.update(settings)
    if test_config:
        app.config.update(test_config)
    configure_logging(app.config["LOG_LEVEL"])

    if not app.config.get("SECRET_KEY"):
        # Fail closed: a default key would let anyone forge sessions.
        raise StartupError(
            "TRIAGE_SECRET_KEY is not set. Set it to a long random string, e.g. "
            "`export TRIAGE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`, "
            "or start with `bash scripts/start.sh`, which keeps one in instance/secret_key."
        )
    secret = app.config.get("WEBHOOK_SECRET")
    if secret:
        try:
            webhook.decode_secret(secret)
        except ValueError as exc:
            raise StartupError(f"TRIAGE_WEBHOOK_SECRET: {exc}") from None

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    url = app.config.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'triage.sqlite'}"
    app.config["DATABASE_URL"] = url
    app.config.update(
        MAX_CONTENT_LENGTH=app.config["MAX_CONTENT_LENGTH"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_HOURS"]),
        WTF_CSRF_TIME_LIMIT=app.config["SESSION_HOURS"] * 3600,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    store = Store(url)
    store.create_schema()
    app.extensions["triage.store"] = store

    registry = Registry(app.config["MODELS_DIR"])
    holder = ModelHolder(registry, interval=app.config["RELOAD_SECONDS"])
    if app.config.get("LOAD_MODEL", True):
        from .lifecycle import ensure_model

        log = logging.getLogger("triage")
        version, trained = ensure_model(
            registry, Path(app.config["DATA_DIR"]), app.config["GATE_CSV"] or None,
            progress=lambda m: log.info("first run: %s", m),
        )
        if trained:
            log.info("no model was in %s/: trained and activated the default %s", registry.root, version)
        holder.refresh()
        # The FAQ index too, before gunicorn forks, so that workers share it.
        from .dataset import DatasetError
        from .faq import get_kb

        try:
            get_kb(app.config)
        except DatasetError as exc:
            log.warning("FAQ suggestions unavailable until fixed: %s", exc)
    app.extensions["triage.holder"] = holder
    app.extensions["triage.registry"] = registry

    errors.init_app(app)
    auth.init_app(app)
    for module in (web, api, webhook, admin, ops, insights_page):
        app.register_blueprint(module.bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        if g.get("no_store") or request.path.startswith("/api/"):
            resp.headers["Cache-Control"] = "no-store"
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.REQUESTS.labels(route, request.method, str(resp.status_code)).inc()
        if "started" in g:
            metrics.LATENCY.labels(route).observe(time.perf_counter() - g.started)
        return resp

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None and holder.current is not None:
        metrics.set_model(holder.current.version, None)
    return app
