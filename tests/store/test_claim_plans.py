"""The claim keeps its plan when the statistics are stale (claim_parts' plan settings).

A daemon started on an empty database, filled while it runs, has statistics that
say "empty" until autovacuum analyzes the tables; planned from those, the claim
scanned every part (and hashed messages) at each call. Here 3,000 parts are queued
after an ANALYZE of the empty tables, and the claim's own plan is read back
(tests/store/plans.py): it walks the claim index in order and probes each message.

A daemon also makes the claim's plan before anything is queued (it polls an empty
database) and keeps it, a generic plan, until an ANALYZE or a VACUUM of its tables:
planned on tables of one row, the claim walked every message and every part for each
of them, seconds per claim with 3,000 messages queued. The second test makes the plan
on empty tables, queues 3,000 messages of one recipient each (a campaign each, as the
API's single sends) and reads back the plan the same connection then runs.
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
    claim = [p for p in plans if "Update on message_parts" in p and "picked" in p]
    assert claim, plans
    # In index order, stopping at the limit: not every queued part read and sorted
    # (a bitmap scan and an external sort, 50,000 queued parts: 17 ms per claim).
    assert "Index Scan using message_parts_claim" in claim[0], claim[0]
    for scan in ("Bitmap", "Sort", "Seq Scan", "Hash", "Merge Join"):
        assert scan not in claim[0], claim[0]


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
    claim = [p for p in plans if "Update on message_parts" in p and "picked" in p]
    assert claim, plans
    # The picked rows by TID, then one primary-key probe per part into messages and
    # campaigns: no scan of other rows, nothing filtered out of one.
    assert "Tid Scan on message_parts p" in claim[0], claim[0]
    assert "Index Cond: (id = k.message_id)" in claim[0], claim[0]
    assert "Index Cond: (id = m.campaign_id)" in claim[0], claim[0]
    for sign in ("Rows Removed by", "Join Filter", "Sort", "Seq Scan", "Bitmap", "Hash", "Merge Join"):
        assert sign not in claim[0], claim[0]
