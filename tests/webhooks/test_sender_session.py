"""The sender's own pool: its statements planned once (generic plans), still by index."""

from __future__ import annotations

from bridge.webhooks import outbox
from bridge.webhooks.service import open_sender_database


async def test_the_senders_sessions_use_generic_plans(pg_dsn: str) -> None:
    async with open_sender_database(pg_dsn) as db:
        assert await db.fetchval("SHOW plan_cache_mode") == "force_generic_plan"


async def test_the_generic_plan_of_the_claim_goes_by_index(pg_dsn: str) -> None:
    # A generic plan knows neither the LIMIT nor the time: it must still take the due
    # rows from the partial index in order and update them through the primary key.
    async with open_sender_database(pg_dsn) as db, db.transaction() as tx:
        await tx.execute(
            "PREPARE claim (timestamptz, int, timestamptz, bigint, bigint[]) AS " + outbox._CLAIM
        )
        plan = "\n".join(
            row[0] for row in await tx.fetch("EXPLAIN EXECUTE claim (now(), 100, now(), 1, '{}')")
        )
        await tx.execute("DEALLOCATE claim")
    assert "$1" in plan  # generic: the parameters are not folded in
    assert "Seq Scan on webhook_outbox" not in plan, plan
    assert "webhook_outbox_due" in plan and "webhook_outbox_pkey" in plan, plan
