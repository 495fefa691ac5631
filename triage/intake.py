"""Classifying an inquiry and keeping it: the one path every channel shares."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import current_app

from . import claims, metrics, results
from .dataset import LABELS_JA
from .errors import APIError
from .faq import KnowledgeBase
from .incident import Profile, default_profile
from .insights import intake_fields
from .live import ModelHolder, ModelUnavailable, Unavailable
from .redact import redact
from .registry import LoadedModel
from .store import Inquiry, Store

_SURROGATE = re.compile("[\ud800-\udfff]")
# Letters that render as nothing (Hangul fillers, the braille blank) though Unicode calls them letters or symbols.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_blank(text: str) -> bool:
    """Return True when nothing in the text is visible.

    Whitespace (also U+3000), zero-width and other format or control characters,
    and combining marks or variation selectors with no character to attach to.
    """
    return all(ch.isspace() or ch in _INVISIBLE or unicodedata.category(ch)[0] in "CZM" for ch in text)


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


def faq_kb() -> KnowledgeBase | None:
    """Return the FAQ version this worker serves, or None when none is loaded."""
    try:
        return current_app.extensions["triage.faq"].get()
    except Unavailable:
        return None


def profile() -> Profile:
    """Return the incident profile this worker serves (the TRIAGE_* defaults until one is loaded)."""
    try:
        return current_app.extensions["triage.profile"].get()
    except Unavailable:
        return default_profile(current_app.config)


def normalized_length(text: str) -> int:
    """Return the length of the text after NFKC, the length the model's work grows with (ﷺ becomes 18 characters)."""
    return len(unicodedata.normalize("NFKC", text))


def check_text(value: Any, field: str = "text") -> str:
    """Return a valid inquiry text or raise a 422 naming the field.

    The limit holds for the raw and for the normalised length: the work of a
    request grows with the text the tokenizer sees, after NFKC.
    """
    limit = current_app.config["MAX_TEXT_LENGTH"]
    if not isinstance(value, str):
        raise APIError(422, f"'{field}' must be a string")
    if is_blank(value):
        # Zero-width spaces, BOMs and ideographic spaces alone are no inquiry.
        raise APIError(422, f"'{field}' is empty")
    if len(value) > limit:
        raise APIError(422, f"'{field}' is {len(value)} characters; at most {limit} are accepted")
    if _SURROGATE.search(value):
        # JSON may escape half a character pair; it cannot be stored or tokenized.
        raise APIError(422, f"'{field}' contains an invalid character (a lone UTF-16 surrogate)")
    normalized = normalized_length(value)
    if normalized > limit:
        raise APIError(422, f"'{field}' is {normalized} characters once normalised (NFKC); at most {limit} are "
                            "accepted")
    return value


def check_batch_work(texts: list[str]) -> None:
    """Raise a 422 when a batch holds more normalised characters in all than MAX_BATCH_CHARS (its time budget)."""
    budget = current_app.config["MAX_BATCH_CHARS"]
    total = sum(normalized_length(t) for t in texts)
    if total > budget:
        raise APIError(422, f"the items hold {total} characters once normalised (NFKC); at most {budget} in one "
                            "batch (split it into several requests)")


def analyse(text: str, loaded: LoadedModel | None = None, explain: bool = True) -> dict[str, Any]:
    """Return the route, probabilities, claim, explanation and FAQ suggestions of one text."""
    loaded = loaded or model()
    if not explain:
        return results.classify(text, loaded, explain=False)
    return results.classify(text, loaded, faq_kb(), profile())


def with_route(result: dict[str, Any], label: str, text: str) -> dict[str, Any]:
    """Return ``result`` as the page shows it once an agent set the route to ``label`` (the latest correction)."""
    if label == result["label"]:
        return result
    reason = result.get("reason") if label == "escalation" else None
    guidance = results.guidance(text, label, reason, faq_kb(), profile())
    return {
        **result,
        "model_label": result["label"],
        "label": label,
        "label_ja": LABELS_JA[label],
        "reason": reason,
        "instruction": guidance["instruction"],
        # A row corrected to faq gets the answer to read out, like one the model sent there.
        "faq_suggestions": guidance["faq_suggestions"],
    }


def explained(row: Inquiry, loaded: LoadedModel | None = None) -> dict[str, Any]:
    """Return the stored classification of an inquiry with its explanation and what to do on it.

    The route, figures and claim are the ones stored on arrival (what the queue shows), not the
    current model's; only the words behind that route are worked out again, as they are not stored
    (their offsets would not fit a text stored masked).
    """
    loaded = loaded or model()
    result = results.stored(row)
    result["explanation"] = loaded.router.explain(row.text, label=row.label)
    result.update(results.guidance(row.text, row.label, row.reason, faq_kb(), profile()))
    reasons = results.review_reasons(row.text, row.label, result["faq_suggestions"])
    result["needs_review"] = row.needs_review or bool(reasons)
    result["review_reasons"] = reasons
    return result


def keep(text: str, result: dict[str, Any], source: str, external_id: str | None = None,
         payload_sha256: str | None = None) -> tuple[Inquiry, bool]:
    """Store an inquiry with its classification; committed before this returns."""
    redacted = current_app.config["STORE_REDACTED"]
    stored_text = redact(text) if redacted else text
    claim = result.get("claim")
    if claim is not None and redacted:
        # The extracted fields are kept (cards as their last four digits), their words masked like the text.
        claim = claims.redacted(claim)
    row, created = store().add_inquiry(
        **intake_fields(text, result),
        source=source,
        external_id=external_id,
        text=stored_text,
        label=result["label"],
        confidence=result["confidence"],
        probabilities=result["probabilities"],
        needs_review=result["needs_review"],
        reason=result.get("reason") if result["label"] == "escalation" else None,
        model_version=result["model_version"],
        claim=claim,
        payload_sha256=payload_sha256,
    )
    if created:
        metrics.CLASSIFICATIONS.labels(result["label"], source).inc()
    return row, created


def stored_route(row: Inquiry) -> dict[str, Any]:
    """Return the classification stored with an inquiry (what a repeat delivery gets back)."""
    return results.stored(row)


def inquiry_json(row: Inquiry) -> dict[str, Any]:
    """Return a stored inquiry as the API shows it."""
    return {
        **stored_route(row),
        "source": row.source,
        "external_id": row.external_id,
        "text": row.text,
        "received_at": row.received_at.isoformat(),
        "handled": row.handled,
        # The effective route is the latest correction; `label` stays what the model said.
        "corrected_label": row.corrected_label,
        "route": row.route,
        "assignee": row.assignee,
        "corrections": [
            {"label": c.label, "agent": c.agent, "created_at": c.created_at.isoformat()} for c in row.corrections
        ],
    }
