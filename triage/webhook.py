"""Signed webhook intake (Standard Webhooks) for ticketing, e-mail gateways and CTI."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from . import intake, metrics
from .api import parse_json_object, read_body
from .auth import csrf, security_log
from .errors import APIError

bp = Blueprint("webhook", __name__, url_prefix="/api/v1/webhooks")
csrf.exempt(bp)

TOLERANCE_SECONDS = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
SOURCE = "webhook"


def decode_secret(secret: str) -> bytes:
    """Return the key bytes of a `whsec_<base64>` secret, or raise ValueError."""
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must look like whsec_<base64>")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ is not valid base64") from None
    if len(key) < 16:
        raise ValueError("the key is shorter than 16 bytes; generate one with `python -c \"import base64,os;"
                         "print('whsec_'+base64.b64encode(os.urandom(32)).decode())\"`")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `v1,<base64>` signature of a delivery (what a sender computes)."""
    key = decode_secret(secret)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Any, body: bytes, now: float | None = None) -> str:
    """Check the three headers and the signature; return the message id or raise 400/401."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    for name, value in (("webhook-id", msg_id), ("webhook-timestamp", stamp), ("webhook-signature", signatures)):
        if not value:
            _reject("missing_header")
            raise APIError(400, f"missing header {name}")
    if len(msg_id) > 200:
        _reject("bad_id")
        raise APIError(400, "webhook-id is longer than 200 characters")
    # Parsed only when it is a bounded ASCII number: int() takes any length and any Unicode digit,
    # and a 400-digit integer overflows the float arithmetic below.
    if not _TIMESTAMP.fullmatch(stamp):
        _reject("bad_timestamp")
        raise APIError(400, "webhook-timestamp must be an integer (seconds since the epoch, ASCII digits)")
    ts = int(stamp)
    now = time.time() if now is None else now
    if abs(now - ts) > TOLERANCE_SECONDS:
        _reject("stale_timestamp")
        raise APIError(401, "webhook-timestamp is more than 5 minutes away from the server time")
    expected = sign(secret, msg_id, ts, body).split(",", 1)[1]
    # Several space-separated signatures: secrets can rotate without downtime.
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    _reject("bad_signature")
    security_log.warning("webhook signature mismatch from %s", request.remote_addr)
    raise APIError(401, "no valid signature for this body")


def _reject(reason: str) -> None:
    metrics.WEBHOOK_REJECTED.labels(reason).inc()


@bp.post("/inquiries")
def receive() -> Any:
    """Verify, classify, commit, then answer with the route (200 with the stored result on a repeat)."""
    secret = current_app.config.get("WEBHOOK_SECRET")
    if not secret:
        # Fail closed: without a secret nobody can be verified.
        raise APIError(503, "webhook intake is not configured: set TRIAGE_WEBHOOK_SECRET")
    body = read_body()
    msg_id = verify(secret, request.headers, body)
    digest = hashlib.sha256(body).hexdigest()
    # No read before the write: the insert itself tells a new id from a repeat (store.add_inquiry), and
    # a repeat is rare (a retry). One the new body cannot be routed from still gets the stored answer.
    try:
        if not request.mimetype == "application/json":
            raise APIError(415, "send the body as JSON with 'Content-Type: application/json'")
        payload = parse_json_object(body)
        text = intake.check_text(payload.get("text"))
        result = intake.analyse(text, explain=False)
    except APIError:
        existing = intake.store().find_external(SOURCE, msg_id)
        if existing is None:
            raise
        _check_conflict(existing, digest)
        return jsonify(_answer(existing, duplicate=True)), 200
    row, created = intake.keep(text, result, source=SOURCE, external_id=msg_id, payload_sha256=digest)
    if not created:  # a repeat (a retry, or the same id racing on another worker): the stored route
        _check_conflict(row, digest)
    return jsonify(_answer(row, duplicate=not created)), 200


def _check_conflict(row: Any, digest: str) -> None:
    """Count and log a repeat of a webhook id with another body (the answer stays the stored result)."""
    if row.payload_sha256 is None or hmac.compare_digest(row.payload_sha256, digest):
        return  # a true retry (or a row stored before bodies were hashed)
    metrics.WEBHOOK_CONFLICTS.inc()
    # The sender is misbehaving (reusing ids): say so without the text, which stays unread.
    security_log.warning("webhook id %r resent with a different body (stored sha256 %s..., now %s...) from %s; "
                         "answered with the stored inquiry %d, the new body was not stored",
                         row.external_id, row.payload_sha256[:12], digest[:12], request.remote_addr, row.id)


def _answer(row: Any, duplicate: bool) -> dict[str, Any]:
    return {"webhook_id": row.external_id, **intake.stored_route(row), "duplicate": duplicate}
