"""The JSON API for contact systems: classify, batch, inquiries, corrections."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from . import claims, intake, results
from .auth import csrf, require_token
from .dataset import LABELS
from .errors import APIError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
SOURCE = "api"
# Bearer tokens, not cookies, authenticate here: CSRF does not apply.
csrf.exempt(bp)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Return the JSON object in a request body, or raise 400/422 with the reason.

    Any malformed body is a 400, also one nested too deeply for the parser
    (RecursionError) or not UTF-8: never a 500.
    """
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise APIError(400, "the body is not valid JSON (or is nested too deeply)") from None
    if not isinstance(body, dict):
        raise APIError(422, "the body must be a JSON object")
    return body


def read_body() -> bytes:
    """Return the raw request body, or raise 413 when it is larger than TRIAGE_MAX_CONTENT_LENGTH.

    A body with Content-Length is checked before it is read. A streamed
    (chunked) body is cut at the limit by Werkzeug without an error, which
    would then look like invalid JSON: one that fills the limit is refused.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        raise APIError(413, f"the body is larger than {limit} bytes (TRIAGE_MAX_CONTENT_LENGTH)")
    return data


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise 415/400/413/422 with the reason."""
    if not request.is_json:
        raise APIError(415, "send the body as JSON with 'Content-Type: application/json'")
    return parse_json_object(read_body())


def _external_id(value: Any, field: str = "id") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise APIError(422, f"'{field}' must be a string or an integer")
    value = str(value)
    if not 0 < len(value) <= 200:
        raise APIError(422, f"'{field}' must be 1 to 200 characters")
    return value


@bp.post("/classify")
@require_token
def classify() -> Any:
    """Route one inquiry and store it with source `api`."""
    body = json_body()
    text = intake.check_text(body.get("text"))
    external_id = _external_id(body.get("id"))
    # A repeat is answered from the store before the model runs: the stored route (cheap for retries).
    if external_id is not None and (row := intake.store().find_external(SOURCE, external_id)) is not None:
        return jsonify({**intake.explained(row), "duplicate": True}), 200
    result = intake.analyse(text)
    row, created = intake.keep(text, result, source=SOURCE, external_id=external_id)
    if not created:  # the same id won a race on another worker
        result = intake.explained(row)
    result["inquiry_id"] = row.id
    result["duplicate"] = not created
    return jsonify(result), 200 if not created else 201


@bp.post("/classify/batch")
@require_token
def classify_batch() -> Any:
    """Route up to BATCH_LIMIT inquiries in order (not stored: a batch is a lookup)."""
    body = json_body()
    items = body.get("items")
    if not isinstance(items, list):
        raise APIError(422, "'items' must be an array of {\"text\": ..., \"id\": ...} objects")
    limit = current_app.config["BATCH_LIMIT"]
    if not items or len(items) > limit:
        raise APIError(422, f"'items' must hold 1 to {limit} items (got {len(items)})")
    texts, ids = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise APIError(422, f"items[{i}] must be an object")
        texts.append(intake.check_text(item.get("text"), f"items[{i}].text"))
        ids.append(_external_id(item.get("id"), f"items[{i}].id"))
    intake.check_batch_work(texts)
    loaded = intake.model()
    predictions = loaded.router.predict_many(texts)
    answers = [
        {"id": ext, **results.of_prediction(p), "claim": claims.extract(text)}
        for ext, text, p in zip(ids, texts, predictions, strict=True)
    ]
    return jsonify({"model_version": loaded.version, "results": answers})


@bp.get("/inquiries/<id:inquiry_id>")
@require_token
def get_inquiry(inquiry_id: int) -> Any:
    """Return one stored inquiry with its classification and corrections."""
    row = intake.store().get_inquiry(inquiry_id)
    if row is None:
        raise APIError(404, f"no inquiry {inquiry_id}")
    return jsonify(intake.inquiry_json(row))


@bp.post("/inquiries/<id:inquiry_id>/correction")
@require_token
def correct(inquiry_id: int) -> Any:
    """Record the right route for an inquiry (as the calling system)."""
    body = json_body()
    label = body.get("label")
    if label not in LABELS:
        raise APIError(422, f"'label' must be one of {', '.join(LABELS)}")
    agent = body.get("agent", g.client)
    if not isinstance(agent, str) or not 0 < len(agent) <= 80:
        raise APIError(422, "'agent' must be a string of 1 to 80 characters")
    if intake.store().add_correction(inquiry_id, label, agent) is None:
        raise APIError(404, f"no inquiry {inquiry_id}")
    row = intake.store().get_inquiry(inquiry_id)
    return jsonify(intake.inquiry_json(row)), 201  # type: ignore[arg-type]


@bp.get("/openapi.json")
def openapi() -> Any:
    """Return the OpenAPI description of this API."""
    from .openapi import document

    return jsonify(document(current_app.config))
