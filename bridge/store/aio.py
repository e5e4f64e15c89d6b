"""asyncpg on plain asyncio: the API process's executor of the store's rules.

The same surface as ``bridge.store.db`` (the trio executor), minus what only
the daemon needs, so ``enqueue_many``, ``get_message``, ``balance`` and the
key functions run unchanged under uvicorn's asyncio loop (see
``bridge.store.executor``). Time limits are asyncio's (``asyncio.timeout``)
plus the pool's ``command_timeout`` as a server-side backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import asyncpg
from asyncpg import Record

from bridge.store.codecs import SERVER_SETTINGS, init_connection, no_reset

__all__ = ["AioConnection", "AioDatabase", "open_aio_database"]

# The API's backends are told apart from the daemon's in pg_stat_activity.
_SETTINGS = {**SERVER_SETTINGS, "application_name": "smpp-bridge-api"}


class AioConnection:
    """One asyncpg connection."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, *args: Any) -> str:
        result: str = await self.raw.execute(sql, *args)
        return result

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        result: list[Record] = await self.raw.fetch(sql, *args)
        return result

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        result: Record | None = await self.raw.fetchrow(sql, *args)
        return result

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.raw.fetchval(sql, *args)

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AsyncIterator[AioConnection]:
        # asyncpg's transaction: commit on exit, rollback on an exception
        # (cancellation included); nested, it is a savepoint.
        async with self.raw.transaction(isolation=isolation, readonly=readonly):
            yield self


class AioDatabase:
    """A pool: each helper borrows one connection for one call."""

    __slots__ = ("_pool", "dsn")

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self.dsn = dsn

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[AioConnection]:
        async with self._pool.acquire() as raw:
            yield AioConnection(raw)

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AsyncIterator[AioConnection]:
        async with self.acquire() as conn, conn.transaction(isolation=isolation, readonly=readonly):
            yield conn

    async def execute(self, sql: str, *args: Any) -> str:
        result: str = await self._pool.execute(sql, *args)
        return result

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._pool.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        result: list[Record] = await self._pool.fetch(sql, *args)
        return result

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        result: Record | None = await self._pool.fetchrow(sql, *args)
        return result

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._pool.fetchval(sql, *args)

    @contextlib.asynccontextmanager
    async def listen(self, channel: str, callback: Callable[[str], None]) -> AsyncIterator[asyncio.Event]:
        """Call ``callback(payload)`` for each NOTIFY on ``channel`` while the body runs.

        A dedicated connection. The event yielded is set when that connection
        is lost: no more callbacks come, listen again.
        """
        raw = await asyncpg.connect(self.dsn, server_settings=_SETTINGS)
        lost = asyncio.Event()

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            callback(payload)

        try:
            raw.add_termination_listener(lambda _conn: lost.set())
            await raw.add_listener(channel, on_notify)
            yield lost
        finally:
            with contextlib.suppress(Exception):
                await raw.close()

    async def close(self) -> None:
        await self._pool.close()


@contextlib.asynccontextmanager
async def open_aio_database(
    dsn: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float | None = 60.0
) -> AsyncIterator[AioDatabase]:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection,
        command_timeout=command_timeout, server_settings=_SETTINGS, reset=no_reset,
    )  # fmt: skip
    db = AioDatabase(pool, dsn)
    try:
        yield db
    finally:
        await db.close()
