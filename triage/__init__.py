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
    from . import (
        admin,
        api,
        auth,
        config,
        errors,
        faq,
        incident,
        incident_admin,
        insights_page,
        metrics,
        ops,
        web,
        webhook,
    )
    from .converters import IdConverter
    from .registry import RegistryError, open_registry
    from .services import instance_path, open_live, open_store

    # The instance folder the CLI finds too (services.instance_path), not one Flask works out on its own.
    app = Flask(__name__, instance_path=str(instance_path()), instance_relative_config=True)
    app.url_map.converters["id"] = IdConverter
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

    try:
        auth.parse_limit(app.config["LOGIN_LIMIT"])
    except ValueError as exc:
        raise StartupError(f"TRIAGE_LOGIN_LIMIT: {exc}") from None

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        # The cookie lives as long as a session may (absolute) and is not re-issued on every response;
        # the server ends sessions earlier (logout, idle, disable, password change).
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_HOURS"]),
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=app.config["SESSION_HOURS"] * 3600,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    store = open_store(app.config, instance=app.instance_path)
    app.config["DATABASE_URL"] = store.url
    app.extensions["triage.store"] = store

    try:
        registry = open_registry(app.config, store)
    except RegistryError as exc:
        raise StartupError(str(exc)) from None
    # One watcher per worker keeps the model, the FAQ version and the incident profile current.
    live = open_live(app.config, store, registry)
    watcher, holder = live.watcher, live.holder
    if app.config["LOAD_MODEL"]:
        from .lifecycle import ensure_model

        log = logging.getLogger("triage")
        version, trained = ensure_model(
            registry, Path(app.config["DATA_DIR"]), app.config["GATE_CSV"] or None,
            progress=lambda m: log.info("first run: %s", m),
        )
        if trained:
            log.info("no model was in %s: trained and activated the default %s", registry.describe(), version)
        # First start: the TRIAGE_COMPANY... settings become the first profile, data/faq.csv the first FAQ.
        from sqlalchemy.exc import SQLAlchemyError

        from .dataset import DatasetError

        try:
            incident.ensure(store, app.config)
            if faq.ensure(store, app.config["DATA_DIR"]) is None:
                log.warning("no FAQ version and no %s/faq.csv: FAQ suggestions are off until one is imported "
                            "(`triage faq import FAQ.csv`)", app.config["DATA_DIR"])
        except (SQLAlchemyError, DatasetError) as exc:
            log.warning("FAQ and incident profile not set up (%s); the TRIAGE_* defaults are used",
                        type(exc).__name__ if isinstance(exc, SQLAlchemyError) else exc)
        # Everything loads before gunicorn forks (the FAQ index too), so that workers share it.
        watcher.refresh()
    app.extensions["triage.live"] = watcher
    app.extensions["triage.holder"] = holder
    app.extensions["triage.faq"] = live.faq
    app.extensions["triage.profile"] = live.profile
    app.extensions["triage.registry"] = registry

    @app.before_request
    def _upload_limit() -> None:
        # Before CSRF protection reads the form: the admin upload may exceed the general request limit.
        if request.endpoint == "admin.train":
            request.max_content_length = admin.upload_limit(app.config)

    errors.init_app(app)
    auth.init_app(app)
    for module in (web, api, webhook, admin, incident_admin, ops, insights_page):
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
        metrics.REQUESTS.labels(route, metrics.method_label(request.method), str(resp.status_code)).inc()
        if "started" in g:
            metrics.LATENCY.labels(route).observe(time.perf_counter() - g.started)
        return resp

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None and holder.current is not None:
        metrics.set_model(holder.current.version, None)
    return app
