"""The claim keeps its plan when the statistics are stale (claim_parts' plan settings).

A daemon started on an empty database, filled while it runs, has statistics that
say "empty" until autovacuum analyzes the tables; planned from those, the claim
scanned every part (and hashed messages) at each call. Here 3,000 parts are queued
after an ANALYZE of the empty tables, and the claim's own plan is read back
(tests/store/plans.py): it walks the claim index in order, updates the picked
rows by TID and probes each part's message and campaign by primary key.

A daemon also makes the claim's plans before anything is queued (it polls an empty
database) and keeps them, generic plans, until an ANALYZE or a VACUUM of its tables:
planned on tables of one row, the one-statement claim walked every message and every
part for each of them, seconds per claim with 3,000 messages queued. The second test
makes the plans on empty tables, queues 3,000 messages of one recipient each (a
campaign each, as the API's single sends) and reads back the plans the same connection
then runs.
"""

from __future__ import annotations

import pytest

from bridge.dispatch.claim import CLAIM_SQL
from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.store.plans import logged_plans
from tests.store.test_enqueue import CONFIG

NUMBERS = [f"+60123{n:06d}" for n in range(100)]


async def test_a_claim_on_stale_statistics_walks_the_claim_index(db: Database) -> None:
    await create_account(db, "bulk", credits="1000")
    await db.execute("ANALYZE accounts, campaigns, messages, message_parts")  # empty, as at a first start
    await enqueue_many(db, CONFIG, "bulk", [SendRequest(to=NUMBERS, message="Your code is 1234") for _ in range(30)])
    owner = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
        " VALUES ('t', 'h', 1, now() + interval '1 hour') RETURNING id"
    )
    route = await db.fetchval("SELECT route FROM message_parts LIMIT 1")
    async with logged_plans(db, analyze=True) as (conn, plans):
        rows = await conn.fetch(CLAIM_SQL, owner, 100, [route], [])
    assert len(rows) == 100
    pick, update, join = _claim_plans(plans)
    # In index order, stopping at the limit: not every queued part read and sorted
    # (a bitmap scan and an external sort, 50,000 queued parts: 17 ms per claim).
    assert "Index Scan using message_parts_claim" in pick, pick
    # The picked rows by their TIDs: on a one-row estimate a full scan of the primary
    # key filtered by ctid looked cheaper, and joined to messages it ran once per
    # message (2 s a claim at 2,000 messages).
    assert "Tid Scan on message_parts" in update, update
    # Each part's message and campaign by primary key, driven by the parts.
    assert "Index Scan using messages_pkey" in join, join
    assert "Index Scan using campaigns_pkey" in join, join
    for plan in (pick, update, join):
        for scan in ("Bitmap", "Sort", "Seq Scan", "Hash", "Merge Join", "messages_campaign"):
            assert scan not in plan, plan


def _claim_plans(plans: list[str]) -> tuple[str, str, str]:
    """The pick, the UPDATE and the join of one claim_parts call, from auto_explain."""
    nested = [p for p in plans if "claim_parts" not in p.split("\n", 2)[1]]  # not the call itself
    pick = [p for p in nested if "FOR UPDATE SKIP LOCKED" in p]
    update = [p for p in nested if "Update on message_parts" in p]
    join = [p for p in nested if "unnest(v_ids" in p]
    assert pick and update and join, plans
    return pick[0], update[0], join[0]


@pytest.mark.parametrize(
    "analyzed",
    [
        "messages, message_parts, ledger, parked_receipts",  # the daemon's own ANALYZE at start-up
        "accounts, campaigns, messages, message_parts, daemon_instances",
    ],
)
async def test_a_claim_planned_on_empty_tables_stays_driven_by_the_parts_it_picked(
    db: Database, analyzed: str
) -> None:
    await create_account(db, "single", credits="10000")
    await db.execute(f"ANALYZE {analyzed}")
    owner = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
        " VALUES ('t', 'h', 1, now() + interval '1 hour') RETURNING id"
    )
    await enqueue_many(db, CONFIG, "single", [SendRequest(to=[NUMBERS[0]], message="Your code is 1234")])
    route = await db.fetchval("SELECT route FROM message_parts LIMIT 1")
    async with logged_plans(db, analyze=True) as (conn, plans):
        assert len(await conn.fetch(CLAIM_SQL, owner, 6, [route], [])) == 1  # planned here, empty
        for batch in range(30):
            sends = [SendRequest(to=[f"+60124{batch:02d}{n:04d}"], message="Your code is 1234") for n in range(100)]
            await enqueue_many(db, CONFIG, "single", sends)
        plans.clear()
        rows = await conn.fetch(CLAIM_SQL, owner, 6, [route], [])
    assert len(rows) == 6
    assert all(r["destination"] and r["campaign_body"] for r in rows)
    pick, update, join = _claim_plans(plans)
    assert "Index Scan using message_parts_claim" in pick, pick
    assert "Tid Scan on message_parts" in update, update
    assert "Index Scan using messages_pkey" in join and "Index Scan using campaigns_pkey" in join, join
    # No scan of other rows, nothing filtered out of one.
    for plan in (update, join):
        for sign in ("Rows Removed by", "Join Filter", "Sort", "Seq Scan", "Bitmap", "Hash", "Merge Join"):
            assert sign not in plan, plan
