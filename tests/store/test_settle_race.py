"""Two writers settling the same messages at once: one settlement, no error.

settle_messages guards against a second settlement with a NOT EXISTS probe, not
ON CONFLICT: the account row it locks first makes the second writer wait, and its
INSERT then sees the settlement the first one committed. Here the first
transaction settles and holds the lock; the second (a duplicate receipt with the
opposite outcome, say) waits on it, and must settle nothing once the first
commits, rather than bill twice or fail on the unique index.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
import trio

from bridge.store.accounts import Outcome, create_account, get_account, reconcile, settle
from bridge.store.db import Database, open_connection
from bridge.store.enqueue import enqueue
from tests.store.test_enqueue import CONFIG, MY, MY2, _until_one_waits_on_a_lock, req


async def test_a_settlement_waiting_on_the_account_sees_the_one_committed_before_it(
    db: Database, pg_dsn: str
) -> None:
    await create_account(db, "race", credits="10")
    await enqueue(db, CONFIG, "race", req([MY, MY2]))
    ids = [r["id"] for r in await db.fetch("SELECT id FROM messages ORDER BY id")]
    assert len(ids) == 2
    second: list[int] = []
    async with open_connection(pg_dsn) as first:
        await first.execute("BEGIN")
        assert await settle(first, [(i, Outcome.CHARGE) for i in ids]) == 2
        async with trio.open_nursery() as nursery:

            async def settle_again() -> None:
                async with db.transaction() as tx:
                    second.append(await settle(tx, [(i, Outcome.REFUND) for i in ids]))

            nursery.start_soon(settle_again)
            await _until_one_waits_on_a_lock(db)
            await first.execute("COMMIT")
    assert second == [0]
    kinds = await db.fetch(
        "SELECT kind::text, count(*) FROM ledger WHERE message_id IS NOT NULL GROUP BY 1"
    )
    assert dict(kinds) == {"reservation": 2, "charge": 2}
    check = await reconcile(db, "race")
    assert check.ok and check.refunds == 0 and check.open == 0, check


async def test_a_second_settlement_is_refused_by_the_index_whatever_the_caller(
    db: Database,
) -> None:
    """The unique index stays the last word: a ledger row written around
    settle_messages cannot settle a message twice."""
    await create_account(db, "direct", credits="10")
    await enqueue(db, CONFIG, "direct", req([MY]))
    (message,) = [r["id"] for r in await db.fetch("SELECT id FROM messages")]
    async with db.transaction() as tx:
        assert await settle(tx, [(message, Outcome.CHARGE)]) == 1
    account = await db.fetchval("SELECT id FROM accounts WHERE name = 'direct'")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, 'refund', 0.05)",
            account, message,
        )  # fmt: skip
    assert (await reconcile(db, "direct")).ok


async def test_a_charge_does_not_wait_for_the_account_row_a_refund_does(db: Database, pg_dsn: str) -> None:
    """A charge leaves the balance as it was and moves account_charges only
    (migration 0028): it goes through while a send of the account holds the account
    row; a refund gives money back, so it takes the account row and waits."""
    await create_account(db, "busy", credits="10")
    await enqueue(db, CONFIG, "busy", req([MY, MY2]))
    sent, failed = [r["id"] for r in await db.fetch("SELECT id FROM messages ORDER BY id")]
    account = await db.fetchval("SELECT id FROM accounts WHERE name = 'busy'")
    async with open_connection(pg_dsn) as sender:
        await sender.execute("BEGIN")
        # What the intake statement takes for a reservation, held until its commit.
        await sender.fetch("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account)
        async with db.transaction() as tx:
            await tx.execute("SET LOCAL lock_timeout = '2s'")
            assert await settle(tx, [(sent, Outcome.CHARGE)]) == 1
        with pytest.raises(asyncpg.LockNotAvailableError):
            async with db.transaction() as tx:
                await tx.execute("SET LOCAL lock_timeout = '200ms'")
                await settle(tx, [(failed, Outcome.REFUND)])
        await sender.execute("COMMIT")
    async with db.transaction() as tx:
        assert await settle(tx, [(failed, Outcome.REFUND)]) == 1
    account_now = await get_account(db, "busy")
    assert (account_now.charged, account_now.reserved) == (Decimal("0.0500"), Decimal(0))
    assert account_now.balance == Decimal("9.9500")
    check = await reconcile(db, "busy")
    assert check.ok and check.charges == Decimal("0.0500") and check.refunds == Decimal("0.0500"), check
