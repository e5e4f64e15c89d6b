"""Seed 000's own examples, over HTTP: one number, 100, 101; status; balance."""

from __future__ import annotations

import re

import msgspec

from bridge.store.models import MessageView, SendResult
from tests.api.harness import Api

SEED_SEND = b"""{
"to": "+60123456789",
"message": "Your verification code is 482915",
"reference": "order-9821"
}"""
JSON = {"Content-Type": "application/json"}


def test_send_one_number_as_the_seed(api: Api) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        answer = http.post("/sms/send", content=SEED_SEND, headers=JSON)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert list(body) == ["ok", "campaignId", "reference", "totals", "estimatedCost", "currency", "recipients"]
    assert body["ok"] is True
    assert body["campaignId"].startswith("camp_")
    assert body["reference"] == "order-9821"
    assert body["totals"] == {"accepted": 1, "failed": 0, "invalid": 0}
    assert body["currency"] == "MYR"
    (recipient,) = body["recipients"]
    assert list(recipient) == ["id", "to", "status", "carrierRef", "cost", "country"]
    assert recipient["id"].startswith("msg_")
    assert (recipient["to"], recipient["status"], recipient["country"]) == ("+60123456789", "pending", "MY")
    assert recipient["carrierRef"] is None  # null until the carrier answers
    # Money from Decimal as a JSON number, exactly as stored: no float rounding.
    assert b'"estimatedCost":0.0500' in answer.content and b'"cost":0.0500' in answer.content
    msgspec.json.decode(answer.content, type=SendResult)


def test_reference_is_null_when_absent(api: Api) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        answer = http.post("/sms/send", json={"to": "+60123456789", "message": "Hello"})
    assert answer.status_code == 201
    assert answer.json()["reference"] is None


def test_send_to_100_numbers_then_101(api: Api) -> None:
    key = api.key(api.account("100"))
    numbers = [f"+6012{n:07d}" for n in range(3_000_000, 3_000_101)]
    with api.client(key) as http:
        answer = http.post("/sms/send", json={"to": numbers[:100], "message": "Your order has shipped"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["totals"] == {"accepted": 100, "failed": 0, "invalid": 0}
        assert [r["to"] for r in body["recipients"]] == numbers[:100]
        assert len({r["id"] for r in body["recipients"]}) == 100
        assert body["estimatedCost"] == 5  # 100 x 0.05
        refused = http.post("/sms/send", json={"to": numbers, "message": "Your order has shipped"})
    assert refused.status_code == 413
    assert refused.json()["error"] == "too_many_recipients"


def test_status_of_a_message_as_the_seed(api: Api) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        sent = http.post("/sms/send", content=SEED_SEND, headers=JSON).json()
        message_id = sent["recipients"][0]["id"]
        answer = http.get(f"/sms/{message_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == [
        "id", "campaignId", "to", "message", "status", "carrierRef", "cost", "country", "charged", "createdAt",
    ]  # fmt: skip
    assert body["id"] == message_id and body["campaignId"] == sent["campaignId"]
    assert body["message"] == "Your verification code is 482915"
    assert (body["status"], body["carrierRef"], body["charged"]) == ("pending", None, False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["createdAt"])
    assert b'"cost":0.0500' in answer.content
    msgspec.json.decode(answer.content, type=MessageView)


def test_balance_as_the_seed(api: Api) -> None:
    key = api.key(api.account("42.5"))
    with api.client(key) as http:
        answer = http.get("/balance")
    assert answer.status_code == 200
    assert answer.content == b'{"balance":42.5000,"currency":"MYR"}'


def test_partial_success_says_why_per_recipient(api: Api) -> None:
    """Valid, invalid and too long for its route in one call: 201, each with its status."""
    key = api.key(api.account())
    long_text = "x" * 500  # 4 parts: over the MY route's max_parts = 3, within SG's 10
    with api.client(key) as http:
        answer = http.post("/sms/send", json={"to": ["+60123456789", "+6591234567", "12"], "message": long_text})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["totals"] == {"accepted": 1, "failed": 1, "invalid": 1}
    statuses = [(r["to"], r["status"]) for r in body["recipients"]]
    assert statuses == [("+60123456789", "failed"), ("+6591234567", "pending"), ("12", "invalid")]
    assert [r["cost"] for r in body["recipients"]] == [0, 0.48, 0]  # 4 parts x 0.12 for SG only


def test_test_keys_take_the_test_route(api: Api) -> None:
    key = api.key(api.account(), product="test")
    assert key.startswith("psk_test_")
    with api.client(key) as http:
        answer = http.post("/sms/send", json={"to": "+60123456789", "message": "Hello"})
    assert answer.status_code == 201
    route = api.run(
        lambda db: db.fetchval("SELECT route FROM messages WHERE public_id = $1", answer.json()["recipients"][0]["id"])
    )
    assert route == "test"
