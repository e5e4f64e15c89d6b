"""The SMS Preflight routes (``/api``, seed 004) in the API's OpenAPI document.

They sit beside the SMS API's ``/api/v1`` paths with their own ``servers`` entry
(OpenAPI 3.1 allows one per path item). The session is the ``SessionView``
Struct the routes encode; the other answers are documented as objects. Every
error is ``{"message": ..., "errors"?: {...}}`` (bridge/preflight/validate.py).
"""

from __future__ import annotations

from typing import Any

import msgspec

from bridge.preflight.views import SessionView

__all__ = ["SECURITY_SCHEME", "paths", "schemas"]

_REF = "#/components/schemas/{name}"
_SERVERS = [{"url": "/api"}]
_KEYED = [401, 403, 429, 503]  # every keyed route: the key, the plan, the rate limit, the database
_OBJECT = {"type": "object"}
# Preflight keys are their own product: `sp_...` (the SMS API's keys are refused here).
SECURITY_SCHEME = {"preflight": {"type": "http", "scheme": "bearer", "bearerFormat": "sp_..."}}
_KEY: list[dict[str, list[str]]] = [{"preflight": []}]


def schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components((SessionView,), ref_template=_REF)
    components["PreflightError"] = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "errors": {"type": "object", "description": "field -> messages (422)"},
        },
        "required": ["message"],
    }
    return components


def _answer(status: int, schema: dict[str, Any], description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if status in (429, 503):
        answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "required": True}}
    return answer


def _operation(operation_id: str, ok: int, schema: dict[str, Any], errors: list[int], **more: Any) -> dict[str, Any]:
    error = {"$ref": _REF.format(name="PreflightError")}
    responses = {str(ok): _answer(ok, schema, "Success")}
    responses |= {str(status): _answer(status, error, "Error") for status in sorted(errors)}
    return {"operationId": operation_id, "security": _KEY, **more, "responses": responses}


def paths() -> dict[str, Any]:
    session = {"$ref": _REF.format(name="SessionView")}
    body = {"required": True, "content": {"application/json": {"schema": _OBJECT}}}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}]
    idempotency = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
    listing = [
        {"name": "filter[status]", "in": "query", "required": False,
         "schema": {"enum": ["pending", "complete", "expired"]}},
        {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
    ]  # fmt: skip
    table = {
        "/auth/me": {"get": _operation("preflightMe", 200, _OBJECT, _KEYED)},
        "/api-keys": {
            "get": _operation("preflightListKeys", 200, _OBJECT, _KEYED),
            "post": _operation("preflightCreateKey", 201, _OBJECT, [*_KEYED, 422], requestBody=body),
        },
        "/api-keys/{id}": {
            "delete": _operation("preflightRevokeKey", 200, _OBJECT, [*_KEYED, 404], parameters=id_param),
        },
        "/networks": {"get": _operation("preflightNetworks", 200, _OBJECT, [503], security=[])},
        "/sessions": {
            "get": _operation("preflightListSessions", 200, _OBJECT, [*_KEYED, 422], parameters=listing),
            "post": _operation("preflightCreateSession", 201, session, [*_KEYED, 422],
                               parameters=[idempotency], requestBody=body),
        },
        "/sessions/{id}": {"get": _operation("preflightGetSession", 200, session, [*_KEYED, 404], parameters=id_param)},
    }  # fmt: skip
    return {path: {"servers": _SERVERS, **item} for path, item in table.items()}
