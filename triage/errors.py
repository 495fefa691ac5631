"""One error shape for the API, one error page for people, and no internals in either."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ClientDisconnected, HTTPException

from . import metrics

log = logging.getLogger("triage.errors")

# Short codes a client can branch on, by HTTP status.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}
MESSAGES_JA = {
    400: "リクエストの形式が正しくありません。",
    401: "ログインが必要です。",
    403: "この操作の権限がありません。",
    404: "ページが見つかりません。",
    405: "この操作はできません。",
    408: "送信に時間がかかりすぎました。もう一度お試しください。",
    413: "送信されたデータが大きすぎます。",
    429: "試行回数が多すぎます。しばらく待ってから再度お試しください。",
    500: "内部エラーが発生しました。",
    503: "一時的に利用できません。しばらくしてから再度お試しください。",
}


class APIError(Exception):
    """An error answered as {"error": {"code", "message"}} with a status."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def json_error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """Return the one JSON error shape."""
    resp = jsonify({"error": {"code": code or CODES.get(status, "error"), "message": message}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def wants_json() -> bool:
    """Return True for API paths and clients that prefer JSON."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _page(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = Response(render_template("error.html", status=status, message=message), status=status)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def http_error(exc: HTTPException) -> Response:
    """Answer an HTTP error (routing 404/405, 413, ...) in the one JSON shape or as the error page."""
    if isinstance(exc, ClientDisconnected) and isinstance(exc.__context__, TimeoutError):
        # The body did not arrive within TRIAGE_TIMEOUT (triage.serve): 408; the server then closes the
        # connection (its deadline has passed; a WSGI app may not send hop-by-hop headers itself).
        if wants_json():
            return json_error(408, "the request body did not arrive in time; send it again")
        return _page(408, MESSAGES_JA[408])
    status = exc.code or 500
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    if wants_json():
        return json_error(status, exc.description or exc.name, headers=headers)
    return _page(status, MESSAGES_JA.get(status, exc.name), headers)


def init_app(app: Flask) -> None:
    """Register app-level handlers: they also see routing 404/405, which blueprints miss."""

    @app.errorhandler(APIError)
    def _api_error(exc: APIError) -> Response:
        if wants_json():
            return json_error(exc.status, exc.message, exc.code, exc.headers)
        return _page(exc.status, exc.message, exc.headers)

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(SQLAlchemyError)
    def _db_error(exc: SQLAlchemyError) -> Response:
        # The driver's message can quote SQL and values: log its type only.
        log.error("database error on %s %s: %s", request.method, request.path, type(exc).__name__)
        metrics.DB_ERRORS.inc()
        headers = {"Retry-After": "5"}
        if wants_json():
            return json_error(503, "the database is unavailable; nothing was stored, retry later", headers=headers)
        return _page(503, MESSAGES_JA[503], headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the server log (masked like every record), never to the client.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.path, exc_info=exc)
        if wants_json():
            return json_error(500, "internal error")
        return _page(500, MESSAGES_JA[500])
