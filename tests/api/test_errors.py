"""Every error code of the API, with its HTTP status and the one error body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from bridge.api.errors import CODES_OF, STATUS, ErrorBody
from tests.api.harness import Api, wait_for

JSON = {"Content-Type": "application/json"}
GOOD = {"to": "+60123456789", "message": "Hello"}


def _send(body: bytes, headers: dict[str, str] | None = None) -> Callable[[httpx.Client], httpx.Response]:
    return lambda http: http.post("/sms/send", content=body, headers=headers if headers is not None else JSON)


def _json(value: Any) -> Callable[[httpx.Client], httpx.Response]:
    return _send(msgspec.json.encode(value))


CASES: list[tuple[str, Callable[[httpx.Client], httpx.Response], str, str | None]] = [
    # (id, request, code, field named in the message)
    ("missing_message", _json({"to": "+60123456789"}), "missing_message", None),
    ("empty_message", _json({"to": "+60123456789", "message": "  "}), "missing_message", None),
    ("missing_to", _json({"message": "Hi"}), "missing_to", None),
    ("empty_to_array", _json({"to": [], "message": "Hi"}), "missing_to", None),
    ("no_valid_recipients", _json({"to": ["123", "+0000"], "message": "Hi"}), "no_valid_recipients", None),
    ("too_many_recipients", _json({"to": ["+60123456789"] * 101, "message": "Hi"}), "too_many_recipients", None),
    ("invalid_json", _send(b'{"to": '), "invalid_json", None),
    ("empty_body", _send(b""), "invalid_json", None),
    ("non_utf8", _send(b'{"message": "\xff\xfe", "to": "+60123456789"}'), "invalid_json", None),
    ("lone_surrogate", _send(b'{"message": "\\ud800", "to": "+60123456789"}'), "invalid_json", None),
    ("array_for_object", _json([GOOD]), "invalid_json", None),
    ("string_for_object", _json("hello"), "invalid_json", None),
    ("wrong_type", _json({"to": 60123456789, "message": "Hi"}), "invalid_field", "to"),
    ("wrong_item_type", _json({"to": ["+60123456789", 5], "message": "Hi"}), "invalid_field", "to"),
    ("object_for_string", _json({"to": "+60123456789", "message": {"text": "Hi"}}), "invalid_field", "message"),
    ("unknown_field", _json({**GOOD, "priority": "high"}), "invalid_field", "priority"),
    ("bad_type_value", _json({**GOOD, "type": "spam"}), "invalid_field", "type"),
    ("nul_in_message", _json({"to": "+60123456789", "message": "a\x00b"}), "invalid_field", "message"),
    ("long_reference", _json({**GOOD, "reference": "r" * 257}), "invalid_field", "reference"),
    ("bad_idempotency_key", _send(msgspec.json.encode(GOOD), {**JSON, "Idempotency-Key": "a b"}),
     "invalid_field", "Idempotency-Key"),
    ("sender_too_long", _json({**GOOD, "senderId": "ProSignalsLtd"}), "invalid_sender_id", None),
    ("sender_symbols", _json({**GOOD, "senderId": "Pro-Signals"}), "invalid_sender_id", None),
    ("sender_long_number", _json({**GOOD, "senderId": "+1234567890123456"}), "invalid_sender_id", None),
    ("body_too_large", _send(b'{"message": "' + b"x" * 70_000 + b'"}'), "body_too_large", None),
    ("no_content_type", _send(msgspec.json.encode(GOOD), {}), "unsupported_media_type", None),
    ("form_content_type", _send(b"to=1", {"Content-Type": "application/x-www-form-urlencoded"}),
     "unsupported_media_type", None),
    ("not_found_unknown", lambda http: http.get("/sms/msg_01m97s35v15n7dt9xzmtg5e22n"), "not_found", None),
    ("not_found_garbage", lambda http: http.get("/sms/%00%ff"), "not_found", None),
    ("method_not_allowed", lambda http: http.put("/sms/send", json=GOOD), "method_not_allowed", None),
    ("post_to_a_message", lambda http: http.post("/sms/msg_01m97s35v15n7dt9xzmtg5e22n"), "method_not_allowed", None),
    ("delete_balance", lambda http: http.delete("/balance"), "method_not_allowed", None),
]  # fmt: skip


def _check_error(answer: httpx.Response, code: str) -> ErrorBody:
    assert answer.status_code == STATUS[code], (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json"
    body = msgspec.json.decode(answer.content, type=ErrorBody)
    assert (body.ok, body.error) == (False, code), answer.text
    assert body.message
    assert "Traceback" not in answer.text
    return body


@pytest.mark.parametrize(("request_", "code", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_codes(api: Api, request_: Any, code: str, field: str | None) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        body = _check_error(request_(http), code)
    if field is not None:
        assert body.message.startswith(field), body.message


def test_missing_and_invalid_api_keys(api: Api) -> None:
    account = api.account()
    key = api.key(account)
    with api.client() as http:
        _check_error(http.get("/balance"), "missing_api_key")
        _check_error(http.post("/sms/send", json=GOOD), "missing_api_key")
        for header in (
            "Bearer psk_live_0000000000000000000000000000000z",  # well formed, unknown
            f"Basic {key}",
            f"Bearer {key[:-1]}",
            f"Bearer {key}x",
            f"Bearer {key.replace('live', 'test')}",  # the prefix of a live key, as a test key
            "Bearer",
        ):
            _check_error(http.get("/balance", headers={"Authorization": header}), "invalid_api_key")
        # one character changed at the end: same prefix, another digest
        twin = key[:-1] + ("a" if key[-1] != "a" else "b")
        _check_error(http.get("/balance", headers={"Authorization": f"Bearer {twin}"}), "invalid_api_key")
        api.revoke(key)
        # revocation holds within a second (the NOTIFY, else the cache's TTL), not at once:
        # this process may answer from its cache until the NOTIFY arrives
        revoked = {"Authorization": f"Bearer {key}"}
        wait_for(lambda: http.get("/balance", headers=revoked).status_code == 401, timeout=1.0)
        _check_error(http.get("/balance", headers=revoked), "invalid_api_key")


def test_insufficient_balance(api: Api) -> None:
    key = api.key(api.account("0.0400"))
    with api.client(key) as http:
        _check_error(http.post("/sms/send", json=GOOD), "insufficient_balance")
        assert http.get("/balance").json()["balance"] == 0.04  # nothing reserved


def test_another_accounts_message_is_not_found(api: Api) -> None:
    """Never reveal that it exists: the same answer as an unknown id."""
    owner = api.key(api.account())
    other = api.key(api.account())
    with api.client(owner) as http:
        message_id = http.post("/sms/send", json=GOOD).json()["recipients"][0]["id"]
        assert http.get(f"/sms/{message_id}").status_code == 200
    with api.client(other) as http:
        theirs = http.get(f"/sms/{message_id}")
        unknown = http.get("/sms/msg_01m97s35v15n7dt9xzmtg5e22n")
    _check_error(theirs, "not_found")
    assert theirs.content == unknown.content


def test_rate_limit_exceeded_with_retry_after(api: Api) -> None:
    key = api.key(api.account(), requests_per_minute=3)
    with api.client(key) as http:
        for _ in range(2):  # a second try if the minute turned between the requests
            answers = [http.get("/balance") for _ in range(4)]
            if answers[3].status_code != 200:
                break
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    _check_error(answers[3], "rate_limit_exceeded")
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60


def test_every_code_of_the_store_is_documented() -> None:
    """An EnqueueError code the API passes on is in its table and the send's OpenAPI answers."""
    from bridge.store.plan import EnqueueError

    for code, status in EnqueueError.HTTP_STATUS.items():
        assert STATUS.get(code) == status, code
        assert code in CODES_OF["sendSms"] or code == "not_found", code


def test_every_code_answered_is_in_the_table() -> None:
    for codes in CODES_OF.values():
        assert set(codes) <= set(STATUS)
    answered = {c[2] for c in CASES}
    assert answered <= set(CODES_OF["sendSms"]) | set(CODES_OF["getSms"]) | {"method_not_allowed"}
