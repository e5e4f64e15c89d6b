"""The POST /sms/send body, validated once at the edge (docs/design.md house rule 7).

msgspec decodes into ``SendRequest`` (unknown fields refused, types checked);
its errors become the API's codes: ``invalid_json`` for what is not a JSON
object in UTF-8, ``invalid_field`` naming the field for a wrong type, an
unknown field or a value PostgreSQL could not store (NUL characters).
``senderId`` is 1-11 letters and digits, or a number of up to 15 digits
(``invalid_sender_id``). What the seed defines (``missing_message``,
``missing_to``, ``too_many_recipients``, ``no_valid_recipients``) is left to
``bridge.store.plan``, the one place with those rules.
"""

from __future__ import annotations

import re

import msgspec

from bridge.api.errors import ApiError
from bridge.store.plan import SendRequest

__all__ = ["IDEMPOTENCY_KEY", "MAX_NUMBER_LENGTH", "MAX_REFERENCE_LENGTH", "parse_send"]

MAX_REFERENCE_LENGTH = 256
MAX_NUMBER_LENGTH = 32  # E.164 is 15 digits; room for spaces, dashes, a '+'
# Alphanumeric sender (TS 23.040 9.1.2.5: 11 characters), or a number of up to
# 15 digits (E.164), '+' allowed.
_SENDER = re.compile(r"[A-Za-z0-9]{1,11}|\+?[0-9]{1,15}")
# Idempotency-Key header: printable ASCII, as other APIs take it.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_FIELD = re.compile(r"at `\$\.([A-Za-z_]+)")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _invalid(field: str, text: str) -> ApiError:
    return ApiError("invalid_field", f"{field}: {text}")


def parse_send(body: bytes) -> SendRequest:
    try:
        request = msgspec.json.decode(body, type=SendRequest)
    except UnicodeDecodeError:
        raise ApiError("invalid_json", "The body is not UTF-8.") from None
    except msgspec.ValidationError as exc:
        text = str(exc)
        if (unknown := _UNKNOWN.search(text)) is not None:
            raise _invalid(unknown.group(1)[:64], "unknown field") from None
        if (field := _FIELD.search(text)) is not None:
            raise _invalid(field.group(1), text.split(" - at ")[0]) from None
        raise ApiError("invalid_json", "The body must be a JSON object.") from None
    except msgspec.DecodeError:
        raise ApiError("invalid_json", "The body is not valid JSON.") from None
    _check(request)
    return request


def _check(request: SendRequest) -> None:
    numbers = [request.to] if isinstance(request.to, str) else (request.to or [])
    for number in numbers:
        if len(number) > MAX_NUMBER_LENGTH or "\x00" in number:
            raise _invalid("to", f"a phone number is at most {MAX_NUMBER_LENGTH} characters, no NUL")
    if request.message is not None and "\x00" in request.message:
        raise _invalid("message", "NUL characters cannot be sent")
    if request.reference is not None and (
        len(request.reference) > MAX_REFERENCE_LENGTH or "\x00" in request.reference
    ):
        raise _invalid("reference", f"at most {MAX_REFERENCE_LENGTH} characters, no NUL")
    if request.sender_id is not None and not _SENDER.fullmatch(request.sender_id):
        raise ApiError(
            "invalid_sender_id", "senderId is 1-11 letters and digits, or a number of up to 15 digits."
        )
