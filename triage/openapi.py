"""The OpenAPI 3.1 description served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from .claims import REFERENCE_KINDS, REQUESTS
from .converters import MAX_ID
from .dataset import LABELS

# Ids in paths: ASCII digits without leading zeros (anything else is a 404).
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

LABEL = {"type": "string", "enum": list(LABELS)}
PROBS = {"type": "object", "properties": {k: {"type": "number"} for k in LABELS}}


CLAIM_REF = {"$ref": "#/components/schemas/Claim"}
_WORDS = {"type": "string", "description": "The words of the inquiry this was read from (card numbers masked)."}
CLAIM = {
    "type": "object",
    "description": "Facts for the claims desk, extracted from the text on every route (empty lists when none).",
    "required": ["amounts", "dates", "references", "requests"],
    "properties": {
        "amounts": {"type": "array", "items": {"type": "object", "required": ["value", "unit", "text"], "properties": {
            "value": {"type": "integer", "description": "12,800円, １２，８００円, 1万2千円 and 五百円 all give an integer."},
            "unit": {"type": "string", "examples": ["円", "ポイント", "マイル", "ドル"]},
            "text": _WORDS,
            "derived": {"type": "string", "enum": ["product"],
                        "description": "Present on the total of '440円×2' (880), which follows the unit price."}}}},
        "dates": {"type": "array", "items": {"type": "object", "required": ["date", "text"], "properties": {
            "date": {"type": "string", "format": "date",
                     "description": "Japanese calendar; without a year, the latest such date not after arrival."},
            "text": _WORDS}}},
        "references": {"type": "array", "items": {"type": "object", "required": ["kind", "value", "text"], "properties": {
            "kind": {"type": "string", "enum": list(REFERENCE_KINDS)},
            "value": {"type": "string", "description": "As written (ASCII); for card_last4 only the last four digits."},
            "text": _WORDS}}},
        "requests": {"type": "array", "items": {"type": "string", "enum": list(REQUESTS)},
                     "description": "The remedies asked for, in this fixed order."},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(config: Any) -> dict[str, Any]:
    """Return the OpenAPI document (limits filled from the settings)."""
    max_text = config["MAX_TEXT_LENGTH"]
    text = {"type": "string", "minLength": 1, "maxLength": max_text, "description": "The inquiry, as received."}
    errors = {
        "400": _error("Body is not valid JSON."),
        "401": _error("Missing, invalid or revoked bearer token."),
        "413": _error("Body larger than MAX_CONTENT_LENGTH."),
        "415": _error("Content-Type is not application/json."),
        "422": _error("Wrong field types, an empty or an over-long text."),
        "503": _error("Database or model unavailable; nothing stored. Retry after Retry-After seconds."),
    }
    json_body = lambda ref: {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}  # noqa: E731
    ok = lambda ref, d="OK": {"description": d, "content": {"application/json": {"schema": {"$ref": ref}}}}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "triage API", "version": "1",
                 "description": "Routes Japanese inquiries to faq, compensation or escalation."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "ClassifyRequest": {"type": "object", "required": ["text"], "properties": {
                    "text": text, "id": {"type": ["string", "integer"], "description": "Your id; repeats return the stored result."}}},
                "Claim": CLAIM,
                "Classification": {"type": "object", "required": [
                    "label", "label_ja", "confidence", "probabilities", "needs_review", "explanation",
                    "faq_suggestions", "model_version", "inquiry_id", "claim"], "properties": {
                    "claim": CLAIM_REF,
                    "label": LABEL, "label_ja": {"type": "string"}, "confidence": {"type": "number"},
                    "probabilities": PROBS, "needs_review": {"type": "boolean"},
                    "explanation": {"type": "object"}, "faq_suggestions": {"type": "array", "items": {"type": "object"}},
                    "model_version": {"type": "string"}, "inquiry_id": {"type": "integer"},
                    "faq_threshold": {"type": "number", "description": "Suggestions score at least this."},
                    "faq_version": {"type": ["integer", "null"], "description": "The FAQ version answered from."},
                    "instruction": {"type": "object", "description": "What the agent does (incident profile).",
                                    "properties": {"text": {"type": "string"}, "transfer": {"type": "string"}}},
                    "duplicate": {"type": "boolean"}}},
                "BatchRequest": {"type": "object", "required": ["items"], "properties": {"items": {
                    "type": "array", "minItems": 1, "maxItems": config["BATCH_LIMIT"],
                    "items": {"$ref": "#/components/schemas/ClassifyRequest"}}}},
                "BatchResponse": {"type": "object", "properties": {
                    "model_version": {"type": "string"}, "results": {"type": "array", "items": {
                        "type": "object", "required": ["id", "label", "label_ja", "confidence", "probabilities",
                                                       "needs_review", "claim"],
                        "properties": {"id": {"type": ["string", "null"]}, "label": LABEL, "label_ja": {"type": "string"},
                                       "confidence": {"type": "number"}, "probabilities": PROBS,
                                       "needs_review": {"type": "boolean"}, "claim": CLAIM_REF}}}}},
                "Inquiry": {"type": "object", "properties": {"claim": CLAIM_REF}},
                "WebhookResult": {"type": "object", "required": ["webhook_id", "inquiry_id", "label", "claim"],
                                  "properties": {"webhook_id": {"type": "string"}, "inquiry_id": {"type": "integer"},
                                                 "label": LABEL, "claim": CLAIM_REF, "duplicate": {"type": "boolean"}}},
                "CorrectionRequest": {"type": "object", "required": ["label"], "properties": {
                    "label": LABEL, "agent": {"type": "string", "maxLength": 80}}},
                "WebhookInquiry": {"type": "object", "required": ["text"], "properties": {"text": text}},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/classify": {"post": {"summary": "Route one inquiry and store it (source api).",
                                          "requestBody": json_body("#/components/schemas/ClassifyRequest"),
                                          "responses": {"201": ok("#/components/schemas/Classification", "Stored"),
                                                        "200": ok("#/components/schemas/Classification", "Repeat"),
                                                        **errors}}},
            "/api/v1/classify/batch": {"post": {"summary": "Route up to BATCH_LIMIT inquiries, in order.",
                                                "requestBody": json_body("#/components/schemas/BatchRequest"),
                                                "responses": {"200": ok("#/components/schemas/BatchResponse"),
                                                              **errors}}},
            "/api/v1/inquiries/{inquiry_id}": {"get": {
                "summary": "A stored inquiry with its classification and corrections.",
                "parameters": [{"name": "inquiry_id", "in": "path", "required": True, "schema": ID_SCHEMA}],
                "responses": {"200": ok("#/components/schemas/Inquiry"), "404": _error("No such inquiry."),
                              **errors}}},
            "/api/v1/inquiries/{inquiry_id}/correction": {"post": {
                "summary": "Record the right route for an inquiry.",
                "parameters": [{"name": "inquiry_id", "in": "path", "required": True, "schema": ID_SCHEMA}],
                "requestBody": json_body("#/components/schemas/CorrectionRequest"),
                "responses": {"201": ok("#/components/schemas/Inquiry"), "404": _error("No such inquiry."),
                              **errors}}},
            "/api/v1/webhooks/inquiries": {"post": {
                "summary": "Signed intake (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).",
                "security": [],
                "requestBody": json_body("#/components/schemas/WebhookInquiry"),
                "responses": {"200": ok("#/components/schemas/WebhookResult",
                                        "Committed (or a repeat of a stored webhook-id)."),
                              **errors}}},
        },
    }
