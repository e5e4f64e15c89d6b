"""Migrations and the schema's guarantees, on a real server."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
import trio

from bridge.cli import main
from bridge.store.db import Database, open_connection
from bridge.store.migrate import Migration, MigrationError, load_migrations, migrate
from tests.store.pg import PgServer, _admin, _new_name


def test_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert "sql" not in repr(migrations[0])


async def test_rerun_is_a_no_op(pg_dsn: str) -> None:
    done = await migrate(pg_dsn)
    assert done.migrations == [] and not done.functions


async def test_two_migrators_race_safely(empty_dsn: str) -> None:
    results: list[list[Migration]] = []

    async def one() -> None:
        results.append((await migrate(empty_dsn)).migrations)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one)
        nursery.start_soon(one)
    assert sorted(len(r) for r in results) == [0, len(load_migrations())]
    async with open_connection(empty_dsn) as conn:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())


async def test_failed_migration_leaves_nothing(pg_dsn: str) -> None:
    bad = [*load_migrations(), Migration(len(load_migrations()) + 1, "bad", "CREATE TABLE t_x (a int); SELECT 1/0;")]
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(pg_dsn, bad)
    async with open_connection(pg_dsn) as conn:
        assert await conn.fetchval("SELECT to_regclass('t_x')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == len(load_migrations())


async def test_edited_or_unknown_migrations_are_refused(pg_dsn: str) -> None:
    edited = load_migrations()
    edited[0] = Migration(1, edited[0].name, edited[0].sql + "\n-- edited")
    with pytest.raises(MigrationError, match="changed after"):
        await migrate(pg_dsn, edited)
    with pytest.raises(MigrationError, match="newer smpp-bridge"):
        await migrate(pg_dsn, [])


def test_migrate_command(pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    name = _new_name()
    trio.run(_admin, pg_server.admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        assert main(["migrate", "--dsn", pg_server.dsn_for(name)]) == 0
        assert "applied 0001_initial" in capsys.readouterr().out
        assert main(["migrate", "--dsn", pg_server.dsn_for(name)]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        trio.run(_admin, pg_server.admin_dsn, f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrate_refuses_without_a_database(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    cfg = Path(str(tmp_path)) / "c.toml"
    cfg.write_text("[logging]\nlevel = 'info'\n")
    assert main(["migrate", "-c", str(cfg)]) == 2
    assert "no database configured" in capsys.readouterr().err
    assert main(["migrate"]) == 2


# --- constraints --------------------------------------------------------------


async def _message(db: Database, state: str = "queued") -> int:
    account = await db.fetchval(
        "INSERT INTO accounts (name, credits) VALUES ($1, 10) RETURNING id", _new_name()
    )
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ($1, $2, 'otp', 'x') RETURNING id",
        _new_name(), account,
    )  # fmt: skip
    message: int = await db.fetchval(
        "INSERT INTO messages (public_id, campaign_id, account_id, destination, state, segments, cost)"
        " VALUES ($1, $2, $3, '+60123456789', $4, 1, 0.05) RETURNING id",
        _new_name(), campaign, account, state,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO message_parts (message_id, seq, total, body) VALUES ($1, 1, 1, 'x')", message
    )
    return message


@pytest.mark.parametrize("final", ["delivered", "failed"])
async def test_final_state_cannot_go_back(db: Database, final: str) -> None:
    message = await _message(db)
    await db.execute("UPDATE messages SET state = $2 WHERE id = $1", message, final)
    await db.execute("UPDATE messages SET state = $2 WHERE id = $1", message, final)  # idempotent
    for target in ("queued", "delivered", "failed"):
        if target == final:
            continue
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="is final"):
            await db.execute("UPDATE messages SET state = $2 WHERE id = $1", message, target)
    await db.execute("UPDATE message_parts SET state = $2 WHERE message_id = $1", message, final)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="is final"):
        await db.execute("UPDATE message_parts SET state = 'queued' WHERE message_id = $1", message)
    # Other columns of a final row may still change (e.g. a late receipt's details).
    await db.execute("UPDATE message_parts SET receipt_stat = 'DELIVRD' WHERE message_id = $1", message)


async def test_invalid_is_final_and_free(db: Database) -> None:
    message = await _message(db, "queued")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE messages SET state = 'invalid' WHERE id = $1", message)
    await db.execute("UPDATE messages SET state = 'invalid', cost = 0 WHERE id = $1", message)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await db.execute("UPDATE messages SET state = 'queued' WHERE id = $1", message)


@pytest.mark.parametrize(
    ("first", "second"),
    [("charge", "charge"), ("refund", "refund"), ("charge", "refund"), ("refund", "charge")],
)
async def test_a_message_is_settled_once(db: Database, first: str, second: str) -> None:
    message = await _message(db)
    account = await db.fetchval("SELECT account_id FROM messages WHERE id = $1", message)
    insert = "INSERT INTO ledger (account_id, message_id, kind, amount) VALUES ($1, $2, $3, 0.05)"
    await db.execute(insert, account, message, "reservation")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, account, message, "reservation")
    await db.execute(insert, account, message, first)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, account, message, second)
    # In one batch too: the whole batch fails.
    other = await _message(db)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.executemany(insert, [(account, other, first), (account, other, second)])
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE message_id = $1", other) == 0


async def test_ledger_is_append_only_and_accounts_cannot_overdraw(db: Database) -> None:
    message = await _message(db)
    account = await db.fetchval("SELECT account_id FROM messages WHERE id = $1", message)
    row = await db.fetchval(
        "INSERT INTO ledger (account_id, kind, amount) VALUES ($1, 'credit', 10) RETURNING id", account
    )
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await db.execute("UPDATE ledger SET amount = 0 WHERE id = $1", row)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await db.execute("DELETE FROM ledger WHERE id = $1", row)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE accounts SET committed = credits + 0.0001 WHERE id = $1", account)
    with pytest.raises(asyncpg.CheckViolationError):  # a credit has no message; others need one
        await db.execute("INSERT INTO ledger (account_id, kind, amount) VALUES ($1, 'charge', 1)", account)
    assert await db.fetchval("SELECT credits FROM accounts WHERE id = $1", account) == Decimal("10.0000")


@pytest.mark.parametrize(
    ("table", "checks"),
    [
        ("messages", {"messages_final_state", "messages_id_fixed", "messages_keys_fixed"}),
        ("message_parts", {"message_parts_final_state", "message_parts_keys_fixed"}),
        ("webhook_outbox", {"webhook_outbox_keys_fixed"}),
    ],
)
async def test_no_before_update_row_trigger(db: Database, table: str, checks: set[str]) -> None:
    # A BEFORE UPDATE row trigger makes PostgreSQL lock every row an UPDATE changes
    # before the update (a tuple lock and its WAL record), whatever the trigger's
    # columns or WHEN clause; finalize_messages moves one-part messages without a
    # lock on purpose (migration 0025), and a part is updated three times in its life
    # (migration 0026), an outbox row twice (migration 0027). The checks are AFTER row
    # triggers instead.
    rows = await db.fetch(
        "SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal", table
    )
    row_before_update = [r["tgname"] for r in rows if r["tgtype"] & 1 and r["tgtype"] & 2 and r["tgtype"] & 16]
    assert row_before_update == []
    after_update = {r["tgname"] for r in rows if r["tgtype"] & 1 and not r["tgtype"] & 2 and r["tgtype"] & 16}
    assert after_update == checks


async def test_message_keys_cannot_change(db: Database) -> None:
    message = await _message(db)
    other = await _message(db)
    campaign = await db.fetchval("SELECT campaign_id FROM messages WHERE id = $1", other)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="cannot change"):
        await db.execute("UPDATE messages SET campaign_id = $2 WHERE id = $1", message, campaign)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="cannot change"):
        await db.execute("UPDATE messages SET id = $2 WHERE id = $1", message, other + 1000)
    # The same value again is no change.
    await db.execute("UPDATE messages SET campaign_id = campaign_id, state = state WHERE id = $1", message)
