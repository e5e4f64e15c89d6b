"""A recipient that will not be sent says why: ``error`` and ``reason`` in the send answer and in GET /sms/{id}."""

from __future__ import annotations

import json

import pytest

from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import EnqueueError, enqueue
from bridge.store.models import to_json
from bridge.store.queries import get_message
from bridge.store.reasons import ENQUEUE_REASONS, describe
from tests.store.test_enqueue import CONFIG, GB, ID, MY, SG, req


async def test_each_refused_recipient_says_why_in_the_answer_and_in_status(db: Database) -> None:
    await create_account(db, "acme", credits="100")
    long_text = "c" * (153 * 5)  # 5 parts: more than route 601's max_parts = 4
    result = await enqueue(db, CONFIG, "acme", req([MY, "12345", GB, ID, SG], long_text))
    by_to = {r.to: r for r in result.recipients}
    assert {to: r.error for to, r in by_to.items()} == {
        MY: "too_long", "12345": "invalid_number", GB: "no_route", ID: "no_rate", SG: None,
    }  # fmt: skip
    assert by_to[MY].reason is not None and by_to[MY].reason.startswith("longer than the route allows")
    assert "needs 5 GSM-7 parts; route prefix:601 allows 4" in by_to[MY].reason
    assert by_to["12345"].reason is not None and "E.164" in by_to["12345"].reason
    assert by_to[GB].reason is not None and "no route" in by_to[GB].reason and "GB" in by_to[GB].reason
    assert by_to[ID].reason is not None and "no rate" in by_to[ID].reason
    # The JSON shape: error and reason only where a recipient will not be sent.
    body = json.loads(to_json(result))
    sent_to_sg = next(r for r in body["recipients"] if r["to"] == SG)
    assert "error" not in sent_to_sg and "reason" not in sent_to_sg
    assert next(r for r in body["recipients"] if r["to"] == GB)["error"] == "no_route"
    # What `status` shows comes from the database: the same code and its words.
    for to, expected in ((MY, "too_long"), ("12345", "invalid_number"), (GB, "no_route"), (ID, "no_rate")):
        view = await get_message(db, by_to[to].id)
        assert view is not None and view.error == expected and view.reason == describe(expected)
    pending = await get_message(db, by_to[SG].id)
    assert pending is not None and pending.error is None and "reason" not in json.loads(to_json(pending))


async def test_a_sender_the_route_refuses_says_so(db: Database) -> None:
    await create_account(db, "branded", credits="10", default_sender_id="Brand")
    result = await enqueue(db, CONFIG, "branded", req([SG]))
    (recipient,) = result.recipients
    assert recipient.error == "sender_alphanumeric_not_allowed"
    assert recipient.reason is not None and "alphanumeric sender id" in recipient.reason and "'Brand'" in recipient.reason


async def test_a_body_with_a_forbidden_character_is_refused_whole(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    with pytest.raises(EnqueueError) as info:
        await enqueue(db, CONFIG, "acme", req([MY], "Your code is \u202e1234"))
    assert info.value.code == "invalid_message" and info.value.http_status == 400
    assert "U+202E" in info.value.message and "character 14" in info.value.message
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("code", sorted(ENQUEUE_REASONS))
def test_every_enqueue_code_has_words(code: str) -> None:
    reason = describe(code)
    assert reason is not None and reason != code and " " in reason


def test_carrier_codes_read_as_words() -> None:
    assert describe("UNDELIV") == "the carrier's delivery receipt says UNDELIV (undeliverable)"
    assert describe("submit_error_69") == "the carrier refused the submit_sm (command_status 0x00000045)"
    assert describe("something_new") == "something new"
    assert describe(None) is None
