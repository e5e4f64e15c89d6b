"""Migration 0003: ledger and webhook_outbox references, checked per statement, still enforced."""

from __future__ import annotations

import asyncpg
import pytest

from bridge.store.db import Database
from tests.store.plans import logged_plans


async def _message(db: Database) -> tuple[int, int]:
    account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ('acme', 10) RETURNING id")
    # Outbox rows are written only for accounts with a webhook URL (migration 0013).
    await db.execute("INSERT INTO webhook_endpoints (account_id, url) VALUES ($1, 'https://x.invalid/h')", account)
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ('camp_1', $1, 'transactional', 'hi')"
        " RETURNING id",
        account,
    )
    message = await db.fetchval(
        "INSERT INTO messages (public_id, campaign_id, account_id, destination, state)"
        " VALUES ('msg_1', $1, $2, '+60123456789', 'queued') RETURNING id",
        campaign, account,
    )  # fmt: skip
    return account, message


async def test_rows_naming_a_missing_account_or_message_are_refused(db: Database) -> None:
    account, message = await _message(db)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO ledger (account_id, kind, amount) VALUES ($1, 'credit', 1)", account + 99)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            "INSERT INTO ledger (account_id, message_id, kind, amount)"
            " SELECT $1, m, 'reservation', 1 FROM unnest($2::bigint[]) AS m",
            account, [message, message + 99],
        )  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            "INSERT INTO webhook_outbox (account_id, message_id, payload) VALUES ($1, $2, '{}')", account, message + 1
        )
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE message_id IS NOT NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 0


async def test_named_rows_cannot_go_or_change_their_keys(db: Database) -> None:
    account, message = await _message(db)
    await db.execute(
        "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, 'reservation', 1)", account, message
    )
    outbox = await db.fetchval(
        "INSERT INTO webhook_outbox (account_id, message_id, payload) VALUES ($1, $2, '{}') RETURNING id",
        account, message,
    )  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("DELETE FROM messages WHERE id = $1", message)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("DELETE FROM accounts WHERE id = $1", account)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("UPDATE messages SET id = id + 100 WHERE id = $1", message)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("UPDATE webhook_outbox SET message_id = NULL WHERE id = $1", outbox)
    # The sender still updates its own columns.
    await db.execute("UPDATE webhook_outbox SET attempts = 1, state = 'pending' WHERE id = $1", outbox)


async def test_the_unique_settlement_still_stops_a_second_charge(db: Database) -> None:
    account, message = await _message(db)
    await db.execute(
        "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, 'charge', 1)", account, message
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, 'refund', 1)", account, message
        )


async def test_the_check_probes_the_keys_instead_of_reading_the_whole_table(db: Database) -> None:
    """Migration 0004: the check's plan must not grow with the messages table.

    The old function planned the messages check as a hashed subplan over a
    sequential scan (the plans of the trigger's own queries: tests/store/plans.py).
    """
    _account, message = await _message(db)
    await db.execute(
        "INSERT INTO messages (public_id, campaign_id, account_id, destination, state)"
        " SELECT 'msg_x' || g, campaign_id, account_id, destination, 'queued'"
        " FROM messages, generate_series(1, 2000) AS g WHERE id = $1",
        message,
    )
    await db.execute("ANALYZE messages")
    async with logged_plans(db) as (conn, plans):
        await conn.execute(
            "INSERT INTO webhook_outbox (account_id, message_id, payload)"
            " SELECT account_id, id, '{}' FROM messages ORDER BY id LIMIT 500"
        )
    checks = [plan for plan in plans if "new_rows" in plan and "messages m" in plan]
    assert checks, plans
    assert "Seq Scan on messages" not in checks[0], checks[0]
    assert "Index Only Scan using messages_pkey" in checks[0] or "Index Scan using messages_pkey" in checks[0], checks[0]
