"""settle_messages keeps batch-driven plans when the statistics are stale (migration 0009).

A daemon started on an empty database has its tables analyzed empty; until
autovacuum analyzes them again (a minute at best), PostgreSQL took ledger for
one row and messages for a few, scanned every reservation for each message being
settled and every message of the account to find its id, and flushes of a few
thousand rows took seconds. Here the statistics say "empty" while 3,000
reservations exist, and the plans of settle_messages' own statements are read
back (tests/store/plans.py).
"""

from __future__ import annotations

from bridge.store.accounts import Outcome, create_account, reconcile, settle
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.store.plans import logged_plans
from tests.store.test_enqueue import CONFIG

NUMBERS = [f"+60123{n:06d}" for n in range(100)]


async def test_settling_thousands_is_driven_by_the_batch_on_stale_statistics(db: Database) -> None:
    await create_account(db, "bulk", credits="1000")
    await db.execute("ANALYZE accounts, messages, ledger")  # analyzed empty, as at a first start
    requests = [SendRequest(to=NUMBERS, message="Your code is 1234") for _ in range(30)]
    await enqueue_many(db, CONFIG, "bulk", requests)
    ids = [r["id"] for r in await db.fetch("SELECT id FROM messages ORDER BY id")]
    assert len(ids) == 3000
    async with logged_plans(db, analyze=True) as (conn, plans), conn.transaction():
        settled = await settle(conn, [(i, Outcome.CHARGE) for i in ids])
    assert settled == 3000
    insert = [p for p in plans if "Insert on ledger" in p and "wanted" in p]
    lock = [p for p in plans if "LockRows" in p and "accounts" in p]
    assert insert and lock, plans
    # Driven by the batch: one reservation lookup per message, nothing filtered out of a scan.
    assert "Rows Removed by Join Filter" not in insert[0], insert[0]
    assert "messages_account_created" not in lock[0], lock[0]
    assert (await reconcile(db, "bulk")).ok
