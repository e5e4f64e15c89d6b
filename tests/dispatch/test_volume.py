"""About 2,000 mixed messages: every one ends final and the money reconciles exactly."""

from __future__ import annotations

import random
from decimal import Decimal

from bridge.simulator import DestinationRule, Outcome, SimulatorConfig
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.dispatch.harness import (
    MY_NUMBERS,
    add_webhook_url,
    all_final,
    daemon,
    make_config,
    simulator,
    wait_until,
)

BODIES = [
    "Your code is 482915",
    "Hello from the bridge",
    "Price: 5€ {special} [chars]",
    "Ünïcödé текст 😀",
    "x" * 300,  # 2 parts
    "ж" * 150,  # 3 UCS-2 parts
]


async def test_two_thousand_mixed_messages_reconcile(db: Database, pg_dsn: str) -> None:
    rng = random.Random(5)
    sim_config = SimulatorConfig(
        handset_log=0,
        receipt_delay=(0.0, 0.3),
        receipt_before_resp=0.1,
        outcomes=(
            Outcome(stat="DELIVRD", weight=0.75),
            Outcome(stat="UNDELIV", weight=0.1, err=1),
            Outcome(stat="EXPIRED", weight=0.05),
            Outcome(stat="REJECTD", weight=0.05),
        ),
        destination_rules=(DestinationRule(suffix="77", submit_status=0x0B),),
        seed=9,
    )
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier="binds = 2", window=50)
        await create_account(db, "acme", credits="1000")
        await add_webhook_url(db)
        numbers = MY_NUMBERS[:2000]
        requests = []
        for i in range(0, 2000, 100):
            batch = numbers[i : i + 100]
            batch[rng.randrange(100)] = "+6012"  # invalid: stored, never sent
            requests.append(SendRequest(to=batch, message=rng.choice(BODIES)))
        results = await enqueue_many(db, config, "acme", requests)
        reserved = sum((r.estimated_cost for r in results), Decimal(0))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db), limit=60)
            stats = d.stats()
    states = dict(await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state"))
    assert states["invalid"] == 20 and sum(states.values()) == 2000
    assert set(states) == {"delivered", "failed", "invalid"}
    rec = await reconcile(db, "acme")
    assert rec.ok and rec.open == 0 and rec.reservations == reserved
    charged = await db.fetchval("SELECT coalesce(sum(cost), 0) FROM messages WHERE state = 'delivered'")
    assert rec.charges == charged
    assert rec.refunds == await db.fetchval("SELECT coalesce(sum(cost), 0) FROM messages WHERE state = 'failed'")
    account = await get_account(db, "acme")
    assert account.balance == Decimal("1000") - charged
    # every final message has exactly one webhook row and one settlement
    assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == states["delivered"] + states["failed"]
    assert stats.sent == states["delivered"] and stats.failed == states["failed"]
    parts = await db.fetchval("SELECT count(*) FROM message_parts WHERE state <> 'failed' OR receipt_stat <> 'cancelled'")
    assert sim.stats.submits == parts
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
