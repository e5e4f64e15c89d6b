"""The OpenAPI 3.1 document: committed, served, and what the app answers (with a property test)."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge.api.openapi import document_bytes
from tests.api.harness import Api
from tests.api.schema import check_answer, errors

COMMITTED = Path(__file__).resolve().parents[2] / "bridge" / "api" / "openapi.json"
DOC: dict[str, Any] = msgspec.json.decode(COMMITTED.read_bytes())


def test_the_committed_document_is_the_one_the_code_builds() -> None:
    assert COMMITTED.read_bytes() == document_bytes(), (
        "bridge/api/openapi.json is stale: smpp-bridge api --print-openapi > bridge/api/openapi.json"
    )


def test_the_app_serves_the_committed_document(api: Api) -> None:
    with api.client() as http:
        answer = http.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.content == COMMITTED.read_bytes()
    assert DOC["openapi"] == "3.1.0"


def test_the_checker_finds_an_undocumented_property() -> None:
    schema = {"$ref": "#/components/schemas/Balance"}
    assert errors({"balance": 1.5, "currency": "MYR"}, schema, DOC) == []
    assert errors({"balance": 1.5, "currency": "MYR", "extra": 1}, schema, DOC)
    assert errors({"balance": "1.5", "currency": "MYR"}, schema, DOC)


def test_seed_answers_match_the_document(api: Api) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        sent = http.post("/sms/send", json={"to": ["+60123456789", "x"], "message": "Hi", "reference": "r"})
        check_answer(DOC, "/sms/send", "post", sent)
        check_answer(DOC, "/sms/{id}", "get", http.get(f"/sms/{sent.json()['recipients'][0]['id']}"))
        check_answer(DOC, "/sms/{id}", "get", http.get("/sms/msg_nope"))
        check_answer(DOC, "/balance", "get", http.get("/balance"))
    with api.client() as http:
        check_answer(DOC, "/balance", "get", http.get("/balance"))


# --- property: generated requests never get a 500 nor an answer outside the document ---

_FIELDS = ["to", "message", "senderId", "reference", "type"]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_numbers = st.one_of(
    st.sampled_from(["+60123456789", "+6591234567", "60123456789", "+0000", "12", "", " "]),
    st.text(alphabet="+0123456789 -", max_size=20),
    st.text(max_size=40),
)
_plausible = st.fixed_dictionaries(
    {},
    optional={
        "to": st.one_of(_numbers, st.lists(_numbers, max_size=110), st.none()),
        "message": st.one_of(st.text(max_size=400), st.sampled_from(["", "Your code is 123456", "SALE 50% off"])),
        "senderId": st.one_of(st.text(max_size=16), st.text(alphabet=string.ascii_letters + string.digits, max_size=12)),
        "reference": st.text(max_size=300),
        "type": st.one_of(st.sampled_from(["otp", "marketing", "transactional"]), st.text(max_size=10)),
    },
)
# Texts that have broken SMS systems: NUL, escapes of the GSM extension table,
# characters outside the BMP, right-to-left marks, very long bodies.
_EDGE_TEXTS = ["a\x00b", "{[~]}\\^|€", "😀" * 80, "\u200f\u202e", "x" * 2000, "\r\n\t", "\x1b\x1b"]
_valid_numbers = st.sampled_from(["+60123456789", "+60198765432", "+6591234567"])
_mostly_valid = st.fixed_dictionaries(
    {"to": st.one_of(_valid_numbers, st.lists(_valid_numbers | _numbers, min_size=1, max_size=5)),
     "message": st.text(min_size=1, max_size=300) | st.sampled_from(_EDGE_TEXTS)},
    optional={
        "senderId": st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=11),
        "reference": st.text(max_size=40),
        "type": st.sampled_from(["otp", "marketing", "transactional"]),
    },
)  # fmt: skip
_body = st.one_of(
    _mostly_valid.map(msgspec.json.encode),
    _mostly_valid.map(msgspec.json.encode),
    _plausible.map(msgspec.json.encode),
    st.dictionaries(st.sampled_from([*_FIELDS, "extra"]) | st.text(max_size=10), _json_values, max_size=6).map(
        msgspec.json.encode
    ),
    _json_values.map(msgspec.json.encode),
    st.binary(max_size=200),
)
_content_type = st.sampled_from(
    ["application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
     "text/plain", None]
)
# Header values as a client can send them (no surrounding blanks, RFC 9110 5.5).
_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)


@pytest.fixture(scope="module")
def rich_key(api_server: Api) -> str:
    return api_server.key(api_server.account("1000000"), requests_per_minute=None)


def _edge_examples(test: Any) -> Any:
    """Each edge text as the message and the reference of a valid send, always tried."""
    for text in _EDGE_TEXTS:
        for field in ("message", "reference"):
            body = msgspec.json.encode({"to": "+60123456789", "message": "Hi", field: text})
            test = example(body=body, content_type="application/json", idempotency=None, auth="key")(test)
    return test


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=250)
@_edge_examples
@given(
    body=_body,
    content_type=_content_type,
    idempotency=st.one_of(st.none(), st.none(), st.uuids().map(str), _header_text),
    auth=st.sampled_from(["key"] * 8 + ["none", "garbage"]),
)
def test_generated_sends_get_documented_answers(
    api_server: Api, rich_key: str, body: bytes, content_type: str | None, idempotency: str | None, auth: str
) -> None:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    key = {"key": rich_key, "none": None, "garbage": "psk_live_garbage"}[auth]
    with api_server.client(key) as http:
        answer = http.post("/sms/send", content=body, headers=headers)
    assert answer.status_code != 500, answer.text
    check_answer(DOC, "/sms/send", "post", answer)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=100)
@given(
    message_id=st.one_of(
        st.text(min_size=1, max_size=40), st.text(alphabet="0123456789abcdefghjkmnpqrstvwxyz_msg", min_size=1, max_size=30)
    ).filter(lambda text: text not in (".", ".."))  # dot segments: the client resolves them away
)
def test_generated_status_reads_get_documented_answers(api_server: Api, rich_key: str, message_id: str) -> None:
    with api_server.client(rich_key) as http:
        answer = http.get("/sms/" + quote(message_id, safe=""))
        balance = http.get("/balance")
    assert answer.status_code != 500, answer.text
    check_answer(DOC, "/sms/{id}", "get", answer)
    check_answer(DOC, "/balance", "get", balance)
