"""Outbox rows inserted leased to the daemon's own sender and handed to it after the commit
(bridge/webhooks/handoff.py, docs/webhooks.md "Rows handed to the daemon's sender")."""

from __future__ import annotations

import json
from datetime import timedelta

import trio

from bridge.store.db import Database
from bridge.webhooks import verify
from bridge.webhooks.handoff import Handoff, WebhookLease
from tests.webhooks.helpers import (
    FakeClock,
    account_with_url,
    fast_settings,
    final_messages,
    handed_messages,
    outbox,
    running_sender,
    wait_rows,
)
from tests.webhooks.receiver import receiver


async def test_rows_handed_over_are_delivered_without_a_claim(db: Database) -> None:
    async with receiver() as rec:
        acme = await account_with_url(db, "acme", rec.url("/hook"))
        handoff = Handoff()
        async with running_sender(db, handoff=handoff) as sender:
            assert handoff.sender is sender
            lease = handoff.lease()
            assert lease is not None and lease.sender_id == sender.sender_id
            rows = await handed_messages(db, "acme", 5, lease)
            assert len(rows) == 5
            # Inserted as a claim leaves a row: this sender's, not due before the lease ends.
            for r in await outbox(db):
                assert r["claimed_by"] == sender.sender_id and r["next_attempt_at"] == lease.until
            handoff.hand(lease, rows)
            got = await rec.wait_for(5)
            await wait_rows(db, "SELECT count(*) = 5 AND bool_and(state = 'delivered') FROM webhook_outbox")
            assert sender.stats.handed == 5 and sender.stats.claimed == 0
        assert handoff.sender is None  # a stopped sender is offered nothing more
        assert handoff.lease() is None
    for req in got:
        assert verify([acme.secret], req.body, req.headers["x-prosignals-signature"])
        assert req.headers["x-prosignals-attempt"] == "1" and json.loads(req.body)["attempt"] == 1
    rows_after = await outbox(db)
    assert {r["attempts"] for r in rows_after} == {1} and {r["claimed_by"] for r in rows_after} == {None}


async def test_rows_of_a_sender_that_died_before_the_handover_go_out_after_the_lease(db: Database) -> None:
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url("/hook"))
        clock = FakeClock()
        dead = WebhookLease(sender_id=424242, until=clock.now + timedelta(seconds=60), until_trio=0.0)
        await handed_messages(db, "acme", 3, dead)  # inserted and committed; never handed over
        async with running_sender(db, clock=clock) as other:
            await trio.sleep(0.2)  # a few claims: the rows are leased, nothing is due
            assert rec.received == [] and other.stats.claimed == 0
            clock.advance(61)  # the lease ends
            got = await rec.wait_for(3)
            await wait_rows(db, "SELECT count(*) = 3 AND bool_and(state = 'delivered') FROM webhook_outbox")
        assert other.stats.claimed == 3
    assert [r.headers["x-prosignals-attempt"] for r in got] == ["1", "1", "1"]  # no attempt was lost


async def test_a_full_sender_takes_no_lease_and_gives_back_rows_past_its_bound(db: Database) -> None:
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url("/hook"))
        handoff = Handoff()
        async with running_sender(db, handoff=handoff, settings=fast_settings(max_in_flight=2)) as sender:
            lease = handoff.lease()
            assert lease is not None
            rows = await handed_messages(db, "acme", 4, lease)
            handoff.hand(lease, rows)  # two fit; two go back, due at once, and are claimed
            await rec.wait_for(4)
            await wait_rows(db, "SELECT count(*) = 4 AND bool_and(state = 'delivered') FROM webhook_outbox")
            assert sender.stats.handed == 4 and sender.stats.released == 2 and sender.stats.claimed == 2


async def test_without_a_lease_rows_are_inserted_due_for_any_sender(db: Database) -> None:
    await account_with_url(db, "acme", "http://127.0.0.1:9/hook")
    await final_messages(db, "acme", 2)
    rows = await outbox(db)
    assert [r["claimed_by"] for r in rows] == [None, None]
    assert all(r["next_attempt_at"] <= r["created_at"] + timedelta(seconds=1) for r in rows)


async def test_rows_handed_to_a_sender_that_is_not_the_leaseholder_wait(db: Database) -> None:
    await account_with_url(db, "acme", "http://127.0.0.1:9/hook")
    handoff = Handoff()
    async with running_sender(db, handoff=handoff) as sender:
        lease = handoff.lease()
        assert lease is not None
        old = WebhookLease(sender.sender_id + 1, lease.until, lease.until_trio)
        rows = await handed_messages(db, "acme", 2, old)
        handoff.hand(old, rows)  # another sender's (one that restarted): not taken here
        assert sender.stats.handed == 0
