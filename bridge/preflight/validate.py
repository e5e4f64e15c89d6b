"""Request bodies of the preflight API, checked at the edge (seed 004 "Errors").

A validation error is 422 with ``{"message": first, "errors": {field: [messages]}}``;
the message adds "(and N more error(s))" when there are several, as the seed's
host framework writes it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from bridge.preflight.sessions import NewSession

__all__ = ["PreflightError", "parse_key_name", "parse_session"]

MAX_SENDER_ID = 20
MAX_CLIENT_REF = 255
MAX_KEY_NAME = 100
MAX_EXPECTED_BODY = 1600


class PreflightError(Exception):
    """Answered as ``{"message": ...}`` (and ``errors``) with ``status``."""

    def __init__(
        self, status: int, message: str, *, errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message} if self.errors is None else {"message": self.message, "errors": self.errors}


def _invalid(errors: dict[str, list[str]]) -> PreflightError:
    messages = [m for ms in errors.values() for m in ms]
    first = messages[0]
    more = len(messages) - 1
    if more:
        first += f" (and {more} more error{'s' if more > 1 else ''})"
    return PreflightError(422, first, errors=errors)


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body) if body.strip() else {}
    except msgspec.DecodeError:
        raise PreflightError(422, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise PreflightError(422, "The request body must be a JSON object.")
    return data


def _string(data: dict[str, Any], key: str, label: str, errors: dict[str, list[str]], *, required: bool,
            max_length: int) -> str | None:  # fmt: skip
    value = data.get(key)
    if value is None or value == "":
        if required:
            errors[key] = [f"The {label} field is required."]
        return None
    if not isinstance(value, str):
        errors[key] = [f"The {label} field must be a string."]
        return None
    if len(value) > max_length:
        errors[key] = [f"The {label} field must not be greater than {max_length} characters."]
        return None
    return value


def parse_session(body: bytes) -> NewSession:
    """POST /sessions: sender_id (required, max 20), expected_body, client_ref (max 255), webhook_url (HTTPS)."""
    data = _object(body)
    errors: dict[str, list[str]] = {}
    sender_id = _string(data, "sender_id", "sender id", errors, required=True, max_length=MAX_SENDER_ID)
    if sender_id is not None and (sender_id != sender_id.strip() or not sender_id.isprintable()):
        errors["sender_id"] = ["The sender id field must be printable, without surrounding spaces."]
    expected = _string(data, "expected_body", "expected body", errors, required=False, max_length=MAX_EXPECTED_BODY)
    client_ref = _string(data, "client_ref", "client ref", errors, required=False, max_length=MAX_CLIENT_REF)
    url = _string(data, "webhook_url", "webhook url", errors, required=False, max_length=2048)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
            errors["webhook_url"] = ["The webhook url field must be a valid HTTPS URL."]
    if errors:
        raise _invalid(errors)
    assert sender_id is not None
    return NewSession(sender_id=sender_id, expected_body=expected, client_ref=client_ref, webhook_url=url)


def parse_key_name(body: bytes) -> str:
    """POST /api-keys: name (required, max 100)."""
    data = _object(body)
    errors: dict[str, list[str]] = {}
    name = _string(data, "name", "name", errors, required=True, max_length=MAX_KEY_NAME)
    if errors:
        raise _invalid(errors)
    assert name is not None
    return name
