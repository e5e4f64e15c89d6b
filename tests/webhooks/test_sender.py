"""The sender against a real local receiver and a real database: the seed's request and schedule."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta

import trio

from bridge.store.db import Database
from bridge.webhooks import verify
from bridge.webhooks.endpoints import rotate_secret
from bridge.webhooks.policy import SMS_STATUS
from tests.webhooks.helpers import (
    KEY,
    FakeClock,
    account_with_url,
    fast_settings,
    final_messages,
    outbox,
    running_sender,
    wait_rows,
)
from tests.webhooks.receiver import Behaviour, receiver


def _openssl_signature(body: bytes, secret: str) -> str:
    """The seed's recipe, run by the real openssl binary through a shell:
    echo -n "$RAW_BODY" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" | awk '{print $2}'"""
    out = subprocess.run(
        ["bash", "-c", 'echo -n "$RAW_BODY" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" | awk \'{print $2}\''],
        env={"RAW_BODY": body.decode(), "WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


async def test_the_seed_request_field_by_field_and_the_openssl_recipe_verifies(db: Database) -> None:
    async with receiver() as rec:
        acme = await account_with_url(db, "acme", rec.url("/hook?src=bridge"))
        (mid,) = await final_messages(db, "acme", 1, reference="order-9821")
        failed = await final_messages(db, "acme", 1, state="failed", reference=None)
        async with running_sender(db):
            got = await rec.wait_for(2)
            await wait_rows(db, "SELECT bool_and(state = 'delivered') FROM webhook_outbox")
    msg = await db.fetchrow(
        "SELECT m.public_id, m.destination, c.public_id AS camp, to_char(m.final_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS ts FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
        " WHERE m.id = $1", mid,
    )  # fmt: skip
    assert msg is not None
    by_id = {json.loads(r.body)["id"]: r for r in got}
    req = by_id[msg["public_id"]]
    assert req.method == "POST" and req.target == "/hook?src=bridge"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == "ProSignals/1.0"
    assert req.headers["x-prosignals-event"] == "sms.status"
    assert req.headers["x-prosignals-attempt"] == "1"
    rows = {r["message_id"]: r for r in await outbox(db)}
    assert req.headers["x-prosignals-delivery"] == f"dlv_{rows[mid]['id']}"
    signature = req.headers["x-prosignals-signature"]
    assert re.fullmatch(r"[0-9a-f]{64}", signature)
    assert _openssl_signature(req.body, acme.secret) == signature
    assert verify([acme.secret], req.body, signature)
    # The body: exactly the seed's fields, in the seed's order.
    body = json.loads(req.body)
    assert list(body) == ["event", "id", "campaignId", "to", "status", "reference", "timestamp", "attempt"]
    assert body == {
        "event": "sms.status", "id": msg["public_id"], "campaignId": msg["camp"], "to": msg["destination"],
        "status": "sent", "reference": "order-9821", "timestamp": msg["ts"], "attempt": 1,
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
    other = json.loads(next(r.body for r in got if r is not req))
    assert other["status"] == "failed" and other["reference"] is None
    assert json.loads(req.body)["id"] != other["id"] and failed


async def test_retry_timeline_1s_5s_30s_then_dead_on_an_injected_clock(db: Database) -> None:
    clock = FakeClock()
    async with receiver() as rec:
        rec.routes["/hook"] = Behaviour(status=500)
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 1)
        start = clock.now
        async with running_sender(db, clock=clock):
            await rec.wait_for(1)
            await wait_rows(db, "SELECT attempts = 1 AND claimed_by IS NULL FROM webhook_outbox")
            (row,) = await outbox(db)
            assert row["state"] == "pending" and row["next_attempt_at"] == start + _delay(1)
            assert row["last_status"] == 500 and row["last_error"] == "HTTP 500"
            expected_at = start
            for attempt, delay in ((2, 1.0), (3, 5.0), (4, 30.0)):
                clock.advance(delay - 0.001)  # not yet due
                await trio.sleep(0.2)
                assert len(rec.received) == attempt - 1
                clock.advance(0.001)
                expected_at = clock.now
                await rec.wait_for(attempt)
                await wait_rows(db, "SELECT attempts = $1 AND claimed_by IS NULL FROM webhook_outbox", attempt)
            (row,) = await outbox(db)
            assert row["state"] == "dead" and row["attempts"] == 4 and row["finished_at"] == expected_at
            clock.advance(3600)
            await trio.sleep(0.2)
    assert [r.headers["x-prosignals-attempt"] for r in rec.received] == ["1", "2", "3", "4"]
    bodies = [json.loads(r.body) for r in rec.received]
    assert [b["attempt"] for b in bodies] == [1, 2, 3, 4]
    assert len({b["timestamp"] for b in bodies}) == 1  # the time of the status change, in every attempt
    assert len({r.headers["x-prosignals-delivery"] for r in rec.received}) == 1


def _delay(attempt: int) -> timedelta:
    delay = SMS_STATUS.next_delay(attempt)
    assert delay is not None
    return timedelta(seconds=delay)


async def test_a_2xx_after_the_timeout_is_a_failure(db: Database) -> None:
    policy = SMS_STATUS.tuned(timeout=0.3)
    async with receiver() as rec:
        rec.routes["/hook"] = Behaviour(status=200, delay=0.6)
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 1)
        async with running_sender(db, policies={"sms.status": policy}):
            await wait_rows(db, "SELECT attempts = 1 FROM webhook_outbox")
    (row,) = await outbox(db)
    assert row["state"] == "pending" and row["last_error"] == "no answer within 0.3s"


async def test_no_outbox_row_for_a_message_whose_account_has_no_url(db: Database) -> None:
    from bridge.store.accounts import create_account

    await create_account(db, "nourl", credits="10")
    await final_messages(db, "nourl", 3)
    assert await outbox(db) == []
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 2)
    assert len(await outbox(db)) == 2


async def test_two_senders_on_one_database_never_deliver_a_row_twice(db: Database) -> None:
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url(), credits="1000")
        await final_messages(db, "acme", 300)
        settings = fast_settings(batch=20)
        async with running_sender(db, settings=settings) as one, running_sender(db, settings=settings) as two:
            await wait_rows(db, "SELECT bool_and(state = 'delivered') FROM webhook_outbox", limit=30)
        ids = [r.headers["x-prosignals-delivery"] for r in rec.received]
    assert len(ids) == 300 and len(set(ids)) == 300
    assert one.stats.delivered > 0 and two.stats.delivered > 0


async def test_rotation_signs_the_next_attempt_with_the_new_secret(db: Database) -> None:
    clock = FakeClock()
    async with receiver() as rec:
        rec.routes["/hook"] = Behaviour(status=503)
        acme = await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 1)
        async with running_sender(db, clock=clock):
            (first,) = await rec.wait_for(1)
            await wait_rows(db, "SELECT attempts = 1 AND claimed_by IS NULL FROM webhook_outbox")
            _info, new = await rotate_secret(db, KEY, account="acme")
            rec.routes["/hook"] = Behaviour(status=204)
            clock.advance(1)
            second = (await rec.wait_for(2))[1]
    sig1, sig2 = first.headers["x-prosignals-signature"], second.headers["x-prosignals-signature"]
    assert verify(acme.secret, first.body, sig1) and not verify(new, first.body, sig1)
    assert verify(new, second.body, sig2) and not verify(acme.secret, second.body, sig2)
    # A receiver that overlaps old and new accepts both.
    assert verify([new, acme.secret], first.body, sig1) and verify([new, acme.secret], second.body, sig2)


async def test_a_changed_url_applies_to_pending_deliveries(db: Database) -> None:
    from bridge.webhooks.endpoints import set_endpoint

    clock = FakeClock()
    async with receiver() as old, receiver() as new:
        old.routes["/hook"] = Behaviour(status=500)
        await account_with_url(db, "acme", old.url())
        await final_messages(db, "acme", 1)
        async with running_sender(db, clock=clock):
            await old.wait_for(1)
            await wait_rows(db, "SELECT attempts = 1 AND claimed_by IS NULL FROM webhook_outbox")
            _info, secret = await set_endpoint(db, KEY, account="acme", url=new.url(), require_https=False)
            assert secret is None  # the secret stays with the account
            clock.advance(1)
            (got,) = await new.wait_for(1)
            await wait_rows(db, "SELECT state = 'delivered' FROM webhook_outbox")
    assert len(old.received) == 1 and got.headers["x-prosignals-attempt"] == "2"
