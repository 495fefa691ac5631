"""The JSON of a classification: one shape for the API, the webhook, the agents' pages and `triage classify --json`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import claims, language
from .dataset import LABELS_JA
from .faq import MIN_SCORE
from .store import as_utc

if TYPE_CHECKING:
    from .faq import KnowledgeBase
    from .incident import Profile
    from .model import Prediction
    from .registry import LoadedModel
    from .store import Inquiry

NO_FAQ_ANSWER = "FAQに合う回答がありません"


def route(label: str, confidence: float, probabilities: dict[str, float], needs_review: bool) -> dict[str, Any]:
    """Return the fields every answer about a route carries (figures to four places, as they are stored)."""
    return {
        "label": label,
        "label_ja": LABELS_JA[label],
        "confidence": round(confidence, 4),
        "probabilities": {k: round(v, 4) for k, v in probabilities.items()},
        "needs_review": needs_review,
    }


def of_prediction(p: Prediction) -> dict[str, Any]:
    """Return the route fields of one prediction."""
    return route(p.label, p.confidence, p.probabilities, p.needs_review)


def guidance(text: str, label: str, reason: str | None, kb: KnowledgeBase | None, profile: Profile) -> dict[str, Any]:
    """Return what the agent does on this route: the instruction and, on faq, the answers to read out."""
    return {
        "faq_suggestions": kb.suggest(text, values=profile.values()) if kb is not None and label == "faq" else [],
        "faq_threshold": MIN_SCORE,
        "faq_version": kb.version if kb is not None else None,
        "instruction": profile.instruction(label, reason).to_dict(),
    }


def review_reasons(text: str, label: str, suggestions: list[dict[str, Any]] | None) -> list[str]:
    """Return why a second look is needed, in the agents' words (each one also sets 要確認).

    ``suggestions`` is None where no FAQ answer was looked for (the webhook's lean path).
    """
    reasons = []
    if (why := language.review_reason(text)) is not None:
        reasons.append(why)
    if label == "faq" and suggestions is not None and not suggestions:
        reasons.append(NO_FAQ_ANSWER)
    return reasons


def classify(text: str, loaded: LoadedModel, kb: KnowledgeBase | None = None, profile: Profile | None = None,
             explain: bool = True) -> dict[str, Any]:
    """Return the route, probabilities, claim and, with ``explain``, the explanation and guidance of one text."""
    if explain:
        p, explanation = loaded.router.predict_explained(text)
    else:
        p = loaded.router.predict(text)
    result: dict[str, Any] = {
        **of_prediction(p),
        "reason": p.reason,
        "model_version": loaded.version,
        # On every route: an agent may correct the route, and the desk still needs the figures.
        "claim": claims.extract(text),
    }
    if explain:
        if profile is None:
            raise TypeError("classify(explain=True) needs the incident profile for the instruction")
        result["explanation"] = explanation
        result.update(guidance(text, p.label, p.reason, kb, profile))
    reasons = review_reasons(text, p.label, result.get("faq_suggestions"))
    if reasons:
        result["needs_review"] = True
    result["review_reasons"] = reasons
    return result


def stored(row: Inquiry) -> dict[str, Any]:
    """Return the classification stored with an inquiry (what a repeat delivery gets back)."""
    return {
        "inquiry_id": row.id,
        **route(row.label, row.confidence, row.probabilities, row.needs_review),
        "reason": row.reason,
        "model_version": row.model_version,
        "claim": claim_of(row),
    }


def claim_of(row: Inquiry) -> dict[str, Any]:
    """Return the claim stored with an inquiry, or extract one from a row stored before claims existed."""
    if row.claim is not None:
        return row.claim
    return claims.extract(row.text, as_utc(row.received_at))

