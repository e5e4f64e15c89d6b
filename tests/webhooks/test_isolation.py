"""Never in the way: a bad endpoint costs nothing to others; the breaker; pruning; redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio

from bridge.store.db import Database
from bridge.webhooks.breaker import Breaker, BreakerState
from bridge.webhooks.policy import SMS_STATUS
from tests.webhooks.helpers import (
    FakeClock,
    account_with_url,
    fast_settings,
    final_messages,
    outbox,
    running_sender,
    wait_rows,
)
from tests.webhooks.receiver import Behaviour, receiver


@pytest.mark.parametrize("bad", ["hang", "reset", "500", "slow"])
async def test_a_bad_endpoint_does_not_delay_another_endpoints_deliveries(db: Database, bad: str) -> None:
    behaviour = {
        "hang": Behaviour(hang=True), "reset": Behaviour(reset=True), "500": Behaviour(status=500),
        "slow": Behaviour(delay=5.0),
    }[bad]  # fmt: skip
    async with receiver() as bad_rec, receiver() as good_rec:
        bad_rec.routes["/hook"] = behaviour
        await account_with_url(db, "bad", bad_rec.url(), credits="1000")
        await account_with_url(db, "good", good_rec.url(), credits="1000")
        # The bad endpoint's rows come first in the table, and there are many.
        await final_messages(db, "bad", 200)
        await final_messages(db, "good", 50)
        settings = fast_settings(endpoint_concurrency=4, endpoint_queue=64, batch=50)
        async with running_sender(db, settings=settings):
            start = trio.current_time()
            got = await good_rec.wait_for(50, limit=10)
            took = got[-1].at - start
        # Every good delivery arrived while the bad endpoint held its 4 slots.
        assert took < 1.5, took
        assert bad_rec.connections <= 4 + 4  # its slots, plus reconnects after resets


async def test_a_failing_endpoint_is_parked_and_probed() -> None:
    breaker = Breaker(threshold=3, pause=5.0, max_pause=20.0)
    for _ in range(2):
        breaker.failure(0.0)
    assert breaker.allow(0.0) and breaker.state is BreakerState.CLOSED
    breaker.failure(1.0)
    assert breaker.state is BreakerState.OPEN and not breaker.allow(5.9)
    assert breaker.allow(6.0) and breaker.state is BreakerState.PROBING
    assert not breaker.allow(6.0)  # one probe at a time
    breaker.failure(7.0)  # the probe failed: parked twice as long
    assert not breaker.allow(16.9) and breaker.allow(17.0)
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow(17.0) and breaker.idle


async def test_while_parked_attempts_cost_no_request_and_follow_the_schedule(db: Database) -> None:
    clock = FakeClock()
    async with receiver() as rec:
        rec.routes["/hook"] = Behaviour(status=500)
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 30)
        settings = fast_settings(breaker_threshold=3, breaker_pause=60.0, endpoint_concurrency=2)
        async with running_sender(db, clock=clock, settings=settings) as sender:
            await wait_rows(db, "SELECT bool_and(attempts = 1 AND claimed_by IS NULL) FROM webhook_outbox")
    assert len(rec.received) <= 3 + settings.endpoint_concurrency  # the ones in flight when it opened
    assert sender.stats.parked == 30 - len(rec.received)
    rows = await outbox(db)
    parked = [r for r in rows if r["last_error"].startswith("endpoint parked")]
    assert parked and all(r["next_attempt_at"] == clock.now + timedelta(seconds=1) for r in parked)


async def test_redirects_are_not_followed(db: Database) -> None:
    async with receiver() as rec:
        rec.routes["/hook"] = Behaviour(status=302, headers=[("Location", "/elsewhere")])
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 1)
        async with running_sender(db):
            await wait_rows(db, "SELECT attempts = 1 FROM webhook_outbox")
    assert [r.target for r in rec.received] == ["/hook"]
    (row,) = await outbox(db)
    assert row["state"] == "pending" and row["last_status"] == 302


async def test_delivered_and_dead_rows_are_pruned_after_the_retention(db: Database) -> None:
    clock = FakeClock()
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 3)
        settings = fast_settings(retention=3600.0, prune_interval=0.05)
        async with running_sender(db, clock=clock, settings=settings):
            await wait_rows(db, "SELECT bool_and(state = 'delivered') FROM webhook_outbox")
            await db.execute("UPDATE webhook_outbox SET state = 'dead' WHERE id = (SELECT min(id) FROM webhook_outbox)")
            await final_messages(db, "acme", 1)  # a fresh pending row stays
            rec.routes["/hook"] = Behaviour(hang=True)
            await trio.sleep(0.2)
            assert len(await outbox(db)) == 4
            clock.advance(3601)
            await wait_rows(db, "SELECT count(*) = 1 FROM webhook_outbox")
    (row,) = await outbox(db)
    assert row["state"] == "pending"


def test_the_seed_policy() -> None:
    assert SMS_STATUS.delays == (1.0, 5.0, 30.0) and SMS_STATUS.attempts == 4
    assert SMS_STATUS.timeout == 10.0
    assert [SMS_STATUS.next_delay(n) for n in (1, 2, 3, 4)] == [1.0, 5.0, 30.0, None]
    assert SMS_STATUS.delivered(200) and SMS_STATUS.delivered(299)
    assert not SMS_STATUS.delivered(302) and not SMS_STATUS.delivered(500) and SMS_STATUS.retry(404)
