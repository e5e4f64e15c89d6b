"""Migration 0021: campaigns, messages and message_parts references, checked per statement, still enforced."""

from __future__ import annotations

import asyncpg
import pytest

from bridge.store.db import Database
from tests.store.plans import logged_plans

_MESSAGES = (
    "INSERT INTO messages (public_id, campaign_id, account_id, destination, state)"
    " SELECT 'msg_' || g, c, a, '+60123456789', 'queued'"
    " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u(c, a, g) RETURNING id"
)
_PARTS = (
    "INSERT INTO message_parts (message_id, seq, total, body)"
    " SELECT m, 1, 1, 'hi' FROM unnest($1::bigint[]) AS m"
)


async def _campaign(db: Database, name: str = "acme") -> tuple[int, int]:
    account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ($1, 10) RETURNING id", name)
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ('camp_' || $1, $2, 'transactional', 'hi')"
        " RETURNING id",
        name, account,
    )  # fmt: skip
    return account, campaign


async def test_the_foreign_keys_are_gone_and_statement_triggers_check_instead(db: Database) -> None:
    keys = await db.fetch(
        "SELECT conname FROM pg_constraint WHERE contype = 'f'"
        " AND conrelid IN ('campaigns'::regclass, 'messages'::regclass, 'message_parts'::regclass)"
    )
    assert [r["conname"] for r in keys] == []
    triggers = {
        r["tgname"]
        for r in await db.fetch(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid IN ('messages'::regclass, 'message_parts'::regclass, 'campaigns'::regclass, 'api_keys'::regclass)"
        )
    }
    assert {
        "campaigns_references", "messages_references", "message_parts_references",
        "campaigns_still_referenced", "api_keys_still_referenced",
    } <= triggers  # fmt: skip


async def test_campaigns_naming_a_missing_account_or_key_are_refused(db: Database) -> None:
    account, _ = await _campaign(db)
    key = await db.fetchval(
        "INSERT INTO api_keys (account_id, name, prefix, hash) VALUES ($1, 'k', 'abcd1234', sha256('k')) RETURNING id",
        account,
    )
    insert = (
        "INSERT INTO campaigns (public_id, account_id, api_key_id, type, body)"
        " SELECT 'camp_n' || a || '_' || coalesce(k, 0), a, k, 'transactional', 'hi'"
        " FROM unnest($1::bigint[], $2::bigint[]) AS u(a, k)"
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=f"account {account + 99} "):
        await db.execute(insert, [account, account + 99], [key, None])
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=f"API key {key + 99} "):
        await db.execute(insert, [account, account], [None, key + 99])
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    await db.execute(insert, [account, account], [None, key])
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=r"api_keys .* still named"):
        await db.execute("DELETE FROM api_keys WHERE id = $1", key)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="cannot change"):
        await db.execute("UPDATE campaigns SET api_key_id = NULL WHERE api_key_id = $1", key)


async def test_messages_naming_a_missing_campaign_or_account_are_refused(db: Database) -> None:
    account, campaign = await _campaign(db)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=f"campaign {campaign + 99} "):
        await db.fetch(_MESSAGES, [campaign, campaign + 99], [account, account])
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=f"account {account + 99} "):
        await db.fetch(_MESSAGES, [campaign, campaign], [account, account + 99])
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert len(await db.fetch(_MESSAGES, [campaign, campaign], [account, account])) == 2


async def test_parts_naming_a_missing_message_are_refused(db: Database) -> None:
    account, campaign = await _campaign(db)
    (message,) = [r["id"] for r in await db.fetch(_MESSAGES, [campaign], [account])]
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=f"message {message + 1} "):
        await db.execute(_PARTS, [message, message + 1])
    assert await db.fetchval("SELECT count(*) FROM message_parts") == 0
    await db.execute(_PARTS, [message])
    assert await db.fetchval("SELECT count(*) FROM message_parts") == 1


async def test_parents_still_named_cannot_go_and_keys_cannot_change(db: Database) -> None:
    account, campaign = await _campaign(db)
    other, other_campaign = await _campaign(db, "other")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=r"accounts .* still named"):
        await db.execute("DELETE FROM accounts WHERE id = $1", other)  # named by its campaign
    await db.execute("DELETE FROM campaigns WHERE id = $1", other_campaign)  # no message names it
    (message,) = [r["id"] for r in await db.fetch(_MESSAGES, [campaign], [other])]
    await db.execute(_PARTS, [message])
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=r"campaigns .* still named"):
        await db.execute("DELETE FROM campaigns WHERE id = $1", campaign)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match=r"accounts .* still named"):
        await db.execute("DELETE FROM accounts WHERE id = $1", other)  # named by a message only
    for update in (
        "UPDATE messages SET campaign_id = campaign_id + 1 WHERE id = $1",
        "UPDATE messages SET account_id = $2 WHERE id = $1",
        "UPDATE message_parts SET message_id = message_id + 1 WHERE message_id = $1",
    ):
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="cannot change"):
            await db.execute(update, message, *([account] if "$2" in update else []))
    for update in ("UPDATE campaigns SET id = DEFAULT WHERE id = $1", "UPDATE campaigns SET account_id = $2 WHERE id = $1"):
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="cannot change"):
            await db.execute(update, campaign, *([other] if "$2" in update else []))
    # Their other columns still change.
    await db.execute("UPDATE messages SET state = 'delivered', final_at = now() WHERE id = $1", message)
    await db.execute("UPDATE message_parts SET attempts = 1 WHERE message_id = $1", message)


async def test_deleting_a_message_deletes_its_parts_unless_the_ledger_names_it(db: Database) -> None:
    account, campaign = await _campaign(db)
    free, charged = [r["id"] for r in await db.fetch(_MESSAGES, [campaign, campaign], [account, account])]
    await db.execute(_PARTS, [free, charged])
    await db.execute(
        "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, 'reservation', 1)", account, charged
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("DELETE FROM messages WHERE id = ANY ($1::bigint[])", [free, charged])
    assert await db.fetchval("SELECT count(*) FROM message_parts") == 2
    await db.execute("DELETE FROM messages WHERE id = $1", free)
    assert [r["message_id"] for r in await db.fetch("SELECT message_id FROM message_parts")] == [charged]


async def test_the_checks_probe_the_keys_instead_of_reading_the_tables(db: Database) -> None:
    """Each parent is looked up through its primary key, whatever the size of its table."""
    account, campaign = await _campaign(db)
    ids = [r["id"] for r in await db.fetch(_MESSAGES, [campaign] * 2000, [account] * 2000)]
    await db.execute("ANALYZE messages")
    async with logged_plans(db) as (conn, plans):
        await conn.execute(_PARTS, ids[:500])
    checks = [plan for plan in plans if "new_rows" in plan and "messages m" in plan]
    assert checks, plans
    assert "Seq Scan on messages" not in checks[0], checks[0]
    assert "using messages_pkey" in checks[0], checks[0]
