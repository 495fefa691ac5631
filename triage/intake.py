"""Classifying an inquiry and keeping it: the one path every channel shares."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from . import metrics
from .dataset import LABELS_JA
from .errors import APIError
from .faq import get_kb
from .insights import intake_fields
from .live import ModelHolder, ModelUnavailable
from .redact import redact
from .registry import LoadedModel
from .store import Inquiry, Store

_SURROGATE = re.compile("[\ud800-\udfff]")


def holder() -> ModelHolder:
    """Return this app's live model holder."""
    return current_app.extensions["triage.holder"]


def store() -> Store:
    """Return this app's store."""
    return current_app.extensions["triage.store"]


def model() -> LoadedModel:
    """Return the served model, or answer 503 when none is loaded."""
    try:
        return holder().get()
    except ModelUnavailable as exc:
        raise APIError(503, f"no model is loaded: {exc}", headers={"Retry-After": "5"}) from None


def check_text(value: Any, field: str = "text") -> str:
    """Return a valid inquiry text or raise a 422 naming the field."""
    limit = current_app.config["MAX_TEXT_LENGTH"]
    if not isinstance(value, str):
        raise APIError(422, f"'{field}' must be a string")
    if not value.strip():
        raise APIError(422, f"'{field}' is empty")
    if len(value) > limit:
        raise APIError(422, f"'{field}' is {len(value)} characters; at most {limit} are accepted")
    if _SURROGATE.search(value):
        # JSON may escape half a character pair; it cannot be stored or tokenized.
        raise APIError(422, f"'{field}' contains an invalid character (a lone UTF-16 surrogate)")
    return value


def analyse(text: str, loaded: LoadedModel | None = None, explain: bool = True) -> dict[str, Any]:
    """Return the route, probabilities, explanation and FAQ suggestions of one text."""
    loaded = loaded or model()
    if explain:
        p, explanation = loaded.router.predict_explained(text)
    else:
        p = loaded.router.predict(text)
    result: dict[str, Any] = {
        "label": p.label,
        "label_ja": p.label_ja,
        "confidence": round(p.confidence, 4),
        "probabilities": {k: round(v, 4) for k, v in p.probabilities.items()},
        "needs_review": p.needs_review,
        "reason": p.reason,
        "model_version": loaded.version,
    }
    if explain:
        result["explanation"] = explanation
        result["faq_suggestions"] = get_kb(current_app.config).suggest(text) if p.label == "faq" else []
    return result


def keep(text: str, result: dict[str, Any], source: str, external_id: str | None = None) -> tuple[Inquiry, bool]:
    """Store an inquiry with its classification (and what insight needs of it); committed before this returns."""
    stored_text = redact(text) if current_app.config["STORE_REDACTED"] else text
    row, created = store().add_inquiry(
        **intake_fields(text, result),
        source=source,
        external_id=external_id,
        text=stored_text,
        label=result["label"],
        confidence=result["confidence"],
        probabilities=result["probabilities"],
        needs_review=result["needs_review"],
        model_version=result["model_version"],
    )
    if created:
        metrics.CLASSIFICATIONS.labels(result["label"], source).inc()
    return row, created


def stored_route(row: Inquiry) -> dict[str, Any]:
    """Return the classification stored with an inquiry (what a repeat delivery gets back)."""
    return {
        "inquiry_id": row.id,
        "label": row.label,
        "label_ja": LABELS_JA[row.label],
        "confidence": row.confidence,
        "probabilities": row.probabilities,
        "needs_review": row.needs_review,
        "model_version": row.model_version,
    }


def inquiry_json(row: Inquiry) -> dict[str, Any]:
    """Return a stored inquiry as the API shows it."""
    return {
        **stored_route(row),
        "source": row.source,
        "external_id": row.external_id,
        "text": row.text,
        "received_at": row.received_at.isoformat(),
        "handled": row.handled,
        "corrections": [
            {"label": c.label, "agent": c.agent, "created_at": c.created_at.isoformat()} for c in row.corrections
        ],
    }
