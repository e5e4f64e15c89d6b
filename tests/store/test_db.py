"""The trio + trio-asyncio + asyncpg plumbing, on a real server."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import asyncpg
import pytest
import trio

from bridge.store.db import Database, open_connection, open_database


async def test_fixture_database_is_migrated_and_private(db: Database, pg_dsn: str) -> None:
    assert await db.fetchval("SELECT current_database()") == urlsplit(pg_dsn).path.lstrip("/")
    assert await db.fetchval("SELECT max(version) FROM schema_migrations") >= 1
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0


async def test_many_trio_tasks_share_the_pool(db: Database) -> None:
    results: list[int] = []

    async def one(i: int) -> None:
        results.append(await db.fetchval("SELECT $1::int * 2", i))

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(one, i)
    assert sorted(results) == [i * 2 for i in range(50)]


async def test_transaction_commits_and_rolls_back(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO accounts (name) VALUES ('a')")
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO accounts (name) VALUES ('b')")
            raise RuntimeError("boom")
    names = [r["name"] for r in await db.fetch("SELECT name FROM accounts ORDER BY name")]
    assert names == ["a"]


async def test_cancelled_transaction_rolls_back_and_returns_the_connection(db: Database) -> None:
    with trio.move_on_after(0.2):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO accounts (name) VALUES ('c')")
            await tx.execute("SELECT pg_sleep(5)")
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0
    # The pool (max 4) still hands out connections.
    for _ in range(8):
        async with db.acquire() as conn:
            assert await conn.fetchval("SELECT 1") == 1


async def test_executemany_and_unnest_batches(db: Database) -> None:
    await db.executemany(
        "INSERT INTO accounts (name, credits) VALUES ($1, $2)",
        [(f"acc{i}", Decimal(i) / 4) for i in range(100)],
    )
    await db.execute(
        "INSERT INTO accounts (name, credits) SELECT * FROM unnest($1::text[], $2::numeric[])",
        [f"u{i}" for i in range(100)], [Decimal("0.0001")] * 100,
    )  # fmt: skip
    total = await db.fetchval("SELECT sum(credits) FROM accounts")
    assert total == sum(Decimal(i) / 4 for i in range(100)) + Decimal("0.0100")


async def test_json_codec_and_errors_are_asyncpg_errors(db: Database) -> None:
    assert await db.fetchval("SELECT $1::jsonb", {"a": [1, "x"]}) == {"a": [1, "x"]}
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.executemany("INSERT INTO accounts (name) VALUES ($1)", [("x",), ("x",)])
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0  # executemany is atomic


async def test_listen_delivers_notifications_after_commit(db: Database) -> None:
    async with db.listen("smpp_test") as channel:
        async with db.transaction() as tx:
            await tx.execute("SELECT pg_notify('smpp_test', 'one')")
            with trio.move_on_after(0.1):
                await channel.receive()
                pytest.fail("NOTIFY delivered before commit")
        with trio.fail_after(5):
            assert await channel.receive() == "one"


async def test_listen_buffer_is_bounded(db: Database) -> None:
    async with db.listen("smpp_flood", buffer=4) as channel:
        await db.execute("SELECT pg_notify('smpp_flood', i::text) FROM generate_series(1, 50) i")
        with trio.fail_after(5):
            first = await channel.receive()
        await trio.sleep(0.2)
        rest = []
        while True:
            try:
                rest.append(channel.receive_nowait())
            except trio.WouldBlock:
                break
        assert first == "1"
        assert len(rest) <= 4


async def test_unpooled_connection_holds_a_session_advisory_lock(pg_dsn: str) -> None:
    async with open_connection(pg_dsn) as one, open_connection(pg_dsn) as two:
        assert await one.fetchval("SELECT pg_try_advisory_lock(42)")
        assert not await two.fetchval("SELECT pg_try_advisory_lock(42)")
    async with open_connection(pg_dsn) as three:
        assert await three.fetchval("SELECT pg_try_advisory_lock(42)")


def test_errors_leave_open_database_unwrapped(pg_dsn_sync: str) -> None:
    # Outside any trio-asyncio loop, open_database opens one whose nursery
    # would wrap errors in an ExceptionGroup; callers get their own error.
    async def main() -> None:
        async with open_database(pg_dsn_sync) as db:
            await db.execute("INSERT INTO accounts (name) VALUES ('x')")
            await db.execute("INSERT INTO accounts (name) VALUES ('x')")

    with pytest.raises(asyncpg.UniqueViolationError):
        trio.run(main)

    async def raises() -> None:
        async with open_database(pg_dsn_sync):
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        trio.run(raises)


async def test_listen_channel_ends_when_its_connection_is_lost(db: Database) -> None:
    async with db.listen("smpp_lost") as channel:
        await db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        with trio.fail_after(5), pytest.raises(trio.EndOfChannel):
            while True:
                await channel.receive()


def test_an_asyncio_error_nobody_awaits_is_logged_not_raised() -> None:
    """asyncpg leaves one behind in an outage (Pool.release in asyncio.shield on a dead
    connection); trio-asyncio's default handler would raise it and end the trio run."""
    import structlog.testing
    import trio_asyncio

    from bridge.store.db import ensure_aio_loop

    async def main() -> None:
        async with ensure_aio_loop():
            loop = trio_asyncio.current_loop.get()
            loop.call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": ConnectionResetError(104, "reset")}
            )
            await trio.sleep(0.05)  # a raised error would end this block with it

    with structlog.testing.capture_logs() as logs:
        trio.run(main)
    assert [e["event"] for e in logs] == ["asyncio error nobody awaited"]
    assert "ConnectionResetError" in logs[0]["error"]


async def test_a_connection_goes_back_to_the_pool_without_a_reset_round_trip(pg_dsn: str) -> None:
    """No reset statement after each call (bridge.store.codecs.no_reset): session state
    set on a pooled connection stays, so none may be left there (docs/store.md)."""
    with trio.fail_after(30):
        async with open_database(pg_dsn, min_size=1, max_size=1) as db:
            await db.fetchval("SELECT set_config('application_name', 'left-behind', false)")
            assert await db.fetchval("SELECT current_setting('application_name')") == "left-behind"
            async with db.transaction() as tx:  # an open transaction is still ended at release
                await tx.execute("CREATE TEMP TABLE t (x int) ON COMMIT DROP")
            assert await db.fetchval("SELECT 1") == 1
