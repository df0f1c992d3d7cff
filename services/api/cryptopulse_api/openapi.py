"""What ``/openapi.json`` says of the routes that read or write bytes themselves.

``POST /ingest`` reads its body by hand (the size limit is checked before parsing, and a 422
carries the contract's reason), and ``/metrics`` answers Prometheus text: FastAPI cannot infer
either, so without this the document had no request body for ``/ingest`` (a fuzzer or a
generated client could send it nothing but empty requests), declared only its 200, and called
``/metrics`` JSON. Checked by schemathesis in ``tests/api/test_openapi_fuzz.py``.
"""

from __future__ import annotations

from typing import Any

from cryptopulse_common.contract import REJECT_REASONS, IngestRequest


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/<name>"}`` replaced by that definition (the
    models have no recursive references), so the schema stands alone inside the document."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _detail_text(description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "string"}},
    }
    return _json(schema, description)


def ingest_request_body() -> dict[str, Any]:
    """The ``requestBody`` of ``POST /ingest``: ``IngestRequest``'s JSON Schema (the contract's
    cross-field rules are not expressible in it: a schema-valid body may still be a 422)."""
    schema = IngestRequest.model_json_schema()
    return {
        "required": True,
        "content": {"application/json": {"schema": _inline(schema, schema.get("$defs", {}))}},
    }


REFUSAL = {
    "type": "object",
    "required": ["loc", "msg", "type", "reason"],
    "properties": {
        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
        "reason": {"enum": list(REJECT_REASONS)},
    },
}

INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json(
        {
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer"}, "duplicate": {"type": "boolean"}},
        },
        "Accepted (`duplicate`: a batch_id already acknowledged, not broadcast again).",
    ),
    401: _detail_text("API_INGEST_TOKEN is set and the bearer token is missing or wrong."),
    413: _detail_text("Body over API_INGEST_MAX_BYTES; send smaller batches."),
    422: _json(
        {
            "type": "object",
            "required": ["detail"],
            "properties": {"detail": {"type": "array", "items": REFUSAL}},
        },
        "Refused: each item names a field (`loc`: data, index, field) and its contract reason.",
    ),
}

METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
