"""asyncpg on trio, through trio-asyncio, behind a small typed wrapper.

The daemon is a trio program; asyncpg is an asyncio library. trio-asyncio runs
an asyncio loop inside the trio run, in the same thread (measured faster than a
separate asyncio thread: docs/design.md "Performance rules"), and ``aio_as_trio`` turns each
asyncpg coroutine into a trio-awaitable one. This module does that wrapping once
so the rest of the code awaits plain trio coroutines and never sees asyncio:

    async with open_database(dsn) as db:          # opens the trio-asyncio loop if needed
        await db.executemany("INSERT ...", rows)   # batch: one round trip per pipeline
        async with db.transaction() as tx:         # commit on success, rollback on error
            await tx.fetch("SELECT ... FOR UPDATE SKIP LOCKED LIMIT $1", 500)

Every statement helper takes arguments the asyncpg way ($1, $2 ...); time
limits are trio's (``trio.fail_after``), plus the pool's ``command_timeout``
as a server-side backstop. Batches go
through ``executemany`` (asyncpg pipelines it) or ``unnest($1::type[])``
arrays.

Cancellation: a trio cancel cancels the asyncpg call; connection release and
rollback run shielded so a cancelled task never leaks a pooled connection or
leaves one inside a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import asyncpg
import structlog
import trio
import trio_asyncio
from asyncpg import Record
from trio_asyncio import aio_as_trio

from bridge.store.aio_timers import forget_cancelled_timers
from bridge.store.codecs import SERVER_SETTINGS, init_connection, no_reset

__all__ = [
    "Connection",
    "Database",
    "Record",
    "db_errors",
    "ensure_aio_loop",
    "log_unawaited_asyncio_errors",
    "open_connection",
    "open_database",
]

log = structlog.get_logger("bridge.store.db")

# One connection setup for both executors (this one and bridge.store.aio).
_init_connection = init_connection
_SERVER_SETTINGS = SERVER_SETTINGS


def db_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the database is unreachable right now" (retry later)."""
    return (
        OSError,
        trio.TooSlowError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        asyncpg.DeadlockDetectedError,
        asyncpg.SerializationError,
        ConnectionError,
        EOFError,
    )


def _log_unawaited(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context.get("exception")
    log.warning("asyncio error nobody awaited", message=context.get("message"),
                error=repr(error) if error is not None else None)  # fmt: skip


def log_unawaited_asyncio_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log errors of asyncio tasks that nobody awaits, instead of raising them.

    trio-asyncio's default handler raises such an error in the loop's nursery,
    which ends the whole trio run. asyncpg leaves one behind during a database
    outage: ``Pool.release`` runs inside ``asyncio.shield``, and when the
    connection died meanwhile its reset fails in the shielded task (the pool
    drops that connection itself). An outage must not stop the daemon.
    """
    loop.set_exception_handler(_log_unawaited)


@contextlib.asynccontextmanager
async def ensure_aio_loop() -> AsyncIterator[None]:
    """Run the body with a trio-asyncio loop, opening one only if none is running."""
    if trio_asyncio.current_loop.get() is not None:
        yield
        return
    try:
        async with trio_asyncio.open_loop() as loop:
            log_unawaited_asyncio_errors(loop)
            forget_cancelled_timers(loop)  # else asyncpg's timers pile up (aio_timers.py)
            yield
    except BaseExceptionGroup as group:
        # open_loop runs the body inside its own nursery, which wraps whatever
        # the body raises in an ExceptionGroup. Callers expect the error they
        # raised (EnqueueError, a UniqueViolationError ...): unwrap a lone one.
        inner = lone_exception(group)
        if inner is group:
            raise
        raise inner from None


def lone_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside (nested) groups of one, else the group itself."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    return inner


class Connection:
    """One asyncpg connection, awaited from trio."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, *args: Any) -> str:
        result: str = await aio_as_trio(self.raw.execute)(sql, *args)
        return result

    async def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]]
    ) -> None:
        await aio_as_trio(self.raw.executemany)(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        result: list[Record] = await aio_as_trio(self.raw.fetch)(sql, *args)
        return result

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        result: Record | None = await aio_as_trio(self.raw.fetchrow)(sql, *args)
        return result

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await aio_as_trio(self.raw.fetchval)(sql, *args)

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AsyncIterator[Connection]:
        """Commit when the body returns, roll back when it raises (or is cancelled)."""
        tx = self.raw.transaction(isolation=isolation, readonly=readonly)
        await aio_as_trio(tx.start)()
        try:
            yield self
        except BaseException:
            with trio.CancelScope(shield=True), contextlib.suppress(Exception):
                # A broken connection cannot roll back; the pool discards it.
                await aio_as_trio(tx.rollback)()
            raise
        await aio_as_trio(tx.commit)()

    async def close(self) -> None:
        with trio.CancelScope(shield=True):
            await aio_as_trio(self.raw.close)()


class Database:
    """A pool of connections. Each helper borrows one connection for one call."""

    __slots__ = ("_pool", "dsn")

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self.dsn = dsn

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        raw = await aio_as_trio(self._pool.acquire)()
        try:
            yield Connection(raw)
        finally:
            with trio.CancelScope(shield=True):
                await aio_as_trio(self._pool.release)(raw)

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AsyncIterator[Connection]:
        async with self.acquire() as conn, conn.transaction(isolation=isolation, readonly=readonly):
            yield conn

    async def execute(self, sql: str, *args: Any) -> str:
        result: str = await aio_as_trio(self._pool.execute)(sql, *args)
        return result

    async def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]]
    ) -> None:
        # asyncpg runs executemany in one implicit transaction, pipelined.
        await aio_as_trio(self._pool.executemany)(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        result: list[Record] = await aio_as_trio(self._pool.fetch)(sql, *args)
        return result

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        result: Record | None = await aio_as_trio(self._pool.fetchrow)(sql, *args)
        return result

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await aio_as_trio(self._pool.fetchval)(sql, *args)

    @contextlib.asynccontextmanager
    async def listen(
        self, channel: str, *, buffer: int = 64
    ) -> AsyncIterator[trio.MemoryReceiveChannel[str]]:
        """NOTIFY payloads of ``channel`` as a bounded trio channel, on a dedicated connection.

        Notifications are wake-ups: when the buffer is full, more are dropped
        (the consumer will look at the table anyway and also polls), so a burst
        of NOTIFY never grows memory. If the connection is lost the channel
        ends (``receive`` raises ``trio.EndOfChannel``, ``async for`` stops):
        the consumer keeps polling and opens a new ``listen`` when it can.
        """
        send, receive = trio.open_memory_channel[str](buffer)

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError):
                send.send_nowait(payload)

        def on_lost(_conn: object) -> None:
            send.close()

        async with open_connection(self.dsn) as conn:
            conn.raw.add_termination_listener(on_lost)
            await aio_as_trio(conn.raw.add_listener)(channel, on_notify)
            try:
                yield receive
            finally:
                send.close()
                with trio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await aio_as_trio(conn.raw.remove_listener)(channel, on_notify)

    async def close(self) -> None:
        with trio.CancelScope(shield=True):
            await aio_as_trio(self._pool.close)()


@contextlib.asynccontextmanager
async def open_database(
    dsn: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float | None = 60.0,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Database]:
    """A connection pool for the body; opens the trio-asyncio loop when needed.

    ``settings``: more server settings for the pool's sessions (the webhook sender's
    ``plan_cache_mode``, bridge/webhooks/service.py)."""
    async with ensure_aio_loop():
        pool = await aio_as_trio(asyncpg.create_pool)(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            command_timeout=command_timeout,
            server_settings={**_SERVER_SETTINGS, **(settings or {})},
            reset=no_reset,  # one round trip less per call (codecs.no_reset)
        )
        db = Database(pool, dsn)
        try:
            yield db
        finally:
            await db.close()


@contextlib.asynccontextmanager
async def open_connection(dsn: str, *, connect_timeout: float = 10.0) -> AsyncIterator[Connection]:
    """One unpooled connection: LISTEN, advisory locks held for a session, admin work."""
    async with ensure_aio_loop():
        raw = await aio_as_trio(asyncpg.connect)(
            dsn, timeout=connect_timeout, server_settings=_SERVER_SETTINGS
        )
        conn = Connection(raw)
        try:
            await _init_connection_trio(conn)
            yield conn
        finally:
            await conn.close()


async def _init_connection_trio(conn: Connection) -> None:
    await aio_as_trio(_init_connection)(conn.raw)
