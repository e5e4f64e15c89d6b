"""The OpenAPI 3.1 document of the API, built from the types the app encodes.

The request and response schemas come from the msgspec Structs themselves
(``SendRequest``, ``SendResult``, ``MessageView``, ``Balance``, ``ErrorBody``),
and each operation lists exactly the error codes of ``errors.CODES_OF`` under
their statuses, so the document cannot drift from the code without a test
noticing: ``bridge/api/openapi.json`` is this function's output, committed
(regenerate with ``smpp-bridge api --print-openapi > bridge/api/openapi.json``)
and served at ``/api/v1/openapi.json``. The SMS Preflight routes under ``/api``
are added by bridge/preflight/openapi.py.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bridge.api.errors import CODES_OF, STATUS, ErrorBody
from bridge.preflight import openapi as preflight
from bridge.store.models import Balance, MessageView, SendResult
from bridge.store.plan import MAX_RECIPIENTS, SendRequest

__all__ = ["document", "document_bytes"]

_REF = "#/components/schemas/{name}"


def _numbers_for_money(node: Any) -> Any:
    """msgspec documents Decimal as a string; the API writes money as JSON numbers."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "decimal":
            return {"type": "number"}
        return {k: _numbers_for_money(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers_for_money(v) for v in node]
    return node


def _errors(operation: str) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in CODES_OF[operation]:
        by_status.setdefault(STATUS[code], []).append(code)
    answers: dict[str, Any] = {}
    for status, codes in sorted(by_status.items()):
        schema = {
            "allOf": [
                {"$ref": _REF.format(name="ErrorBody")},
                {"properties": {"error": {"enum": codes}}},
            ]
        }
        answer: dict[str, Any] = {
            "description": ", ".join(codes),
            "content": {"application/json": {"schema": schema}},
        }
        if status in (429, 503):
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "required": True}}
        answers[str(status)] = answer
    return answers


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "description": "A repeat with the same body gets the first answer; with another body,"
    " idempotency_key_reused.",
}


def _ok(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF.format(name=name)}}}}


def document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        (SendRequest, SendResult, MessageView, Balance, ErrorBody), ref_template=_REF
    )
    components = _numbers_for_money(components)
    # to: one number or 1..100 of them (seed 000); the cap is also answered 413.
    request_props = components["SendRequest"]["properties"]
    request_props["to"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
        "description": f"E.164 number, or an array of up to {MAX_RECIPIENTS}.",
    }
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ProSignals API",
            "version": "1",
            "description": "Send SMS, follow their status, read the balance (seed 000). Money is MYR."
            " SMS Preflight (seed 004): paths with their own server, /api.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": security,
        "paths": {
            "/sms/send": {
                "post": {
                    "operationId": "sendSms",
                    "parameters": [_IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": _REF.format(name="SendRequest")}}},
                    },
                    "responses": {"201": _ok("SendResult", "Accepted (per recipient status)"), **_errors("sendSms")},
                }
            },
            "/sms/{id}": {
                "get": {
                    "operationId": "getSms",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _ok("MessageView", "The message"), **_errors("getSms")},
                }
            },
            "/balance": {
                "get": {
                    "operationId": "getBalance",
                    "responses": {"200": _ok("Balance", "The balance"), **_errors("getBalance")},
                }
            },
            **preflight.paths(),  # SMS Preflight, served under /api (bridge/preflight/openapi.py)
        },
        "components": {
            "schemas": components | preflight.schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "psk_live_..."},
                **preflight.SECURITY_SCHEME,
            },
        },
    }


def document_bytes() -> bytes:
    return msgspec.json.format(msgspec.json.encode(document()), indent=2) + b"\n"
