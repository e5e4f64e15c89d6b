"""PostgreSQL fixtures: a real server, one migrated template per session, one database per test.

Server: ``SMPP_BRIDGE_TEST_DSN`` (an admin DSN) when set; else 127.0.0.1:5432
as user ``postgres`` (trust) when it answers; else (or when
``SMPP_BRIDGE_TEST_EMBEDDED=1``) the embedded pgserver in a shared temporary
data directory. The shared server is never stopped or
reconfigured; only databases named ``sbt_<pid>_<hex>`` are created and dropped.

Per session, ``pg_template`` migrates one database; per test, ``pg_dsn``
clones it with ``CREATE DATABASE ... TEMPLATE`` (a file copy, ~tens of ms) and
drops it afterwards (``WITH (FORCE)`` so a connection a test leaked cannot
keep it alive). Databases left by a crashed session (dead pid) are removed at
the next session start.

Use from another test directory's conftest.py:

    from tests.store.pg import aio_loop, db, pg_dsn, pg_dsn_sync, pg_server, pg_template  # noqa: F401
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import trio
import trio_asyncio

from bridge.store.aio_timers import forget_cancelled_timers
from bridge.store.db import Database, log_unawaited_asyncio_errors, open_connection, open_database
from bridge.store.embedded import server_reachable, start_embedded
from bridge.store.migrate import migrate

_PREFIX = "sbt_"
_LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class PgServer:
    admin_dsn: str
    embedded: bool

    def dsn_for(self, database: str) -> str:
        parts = urlsplit(self.admin_dsn)
        return urlunsplit(parts._replace(path="/" + database))


def _new_name() -> str:
    return f"{_PREFIX}{os.getpid()}_{secrets.token_hex(6)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _admin(dsn: str, *statements: str) -> list[Any]:
    out: list[Any] = []
    async with open_connection(dsn) as conn:
        for statement in statements:
            out.append(await conn.fetch(statement))
    return out


async def _drop_stale(dsn: str) -> None:
    async with open_connection(dsn) as conn:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'sbt\\_%'")
        for row in rows:
            match = re.match(rf"^{_PREFIX}(\d+)_", row["datname"])
            if match and not _pid_alive(int(match.group(1))):
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


def _can_login(dsn: str) -> bool:
    try:
        trio.run(_admin, dsn, "SELECT 1")
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    explicit = os.environ.get("SMPP_BRIDGE_TEST_DSN")
    force_embedded = os.environ.get("SMPP_BRIDGE_TEST_EMBEDDED", "") not in ("", "0")
    if explicit and not force_embedded:
        server = PgServer(explicit, embedded=False)
    elif not force_embedded and server_reachable("127.0.0.1", 5432) and _can_login(_LOCAL):
        server = PgServer(_LOCAL, embedded=False)
    else:
        data_dir = Path(tempfile.gettempdir()) / f"smpp-bridge-test-pgdata-{os.getuid()}"
        embedded = start_embedded(data_dir)
        try:
            yield PgServer(embedded.dsn, embedded=True)
        finally:
            embedded.stop()
        return
    trio.run(_drop_stale, server.admin_dsn)
    yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> Iterator[str]:
    """Name of a database migrated to the latest version (do not connect to it)."""
    name = _new_name() + "_tpl"

    async def build() -> None:
        await _admin(pg_server.admin_dsn, f'CREATE DATABASE "{name}"')
        await migrate(pg_server.dsn_for(name))

    trio.run(build)
    try:
        yield name
    finally:
        trio.run(_admin, pg_server.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_dsn_sync(pg_server: PgServer, pg_template: str) -> Iterator[str]:
    """Like ``pg_dsn`` for synchronous tests of code that calls ``trio.run`` itself (commands)."""
    name = _new_name()
    trio.run(_admin, pg_server.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield pg_server.dsn_for(name)
    finally:
        trio.run(_admin, pg_server.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def aio_loop() -> AsyncIterator[trio_asyncio.TrioEventLoop]:
    """The trio-asyncio loop asyncpg runs on, for the whole test."""
    async with trio_asyncio.open_loop() as loop:
        log_unawaited_asyncio_errors(loop)  # as the daemon's loop (bridge.store.db)
        forget_cancelled_timers(loop)
        yield loop


@contextlib.asynccontextmanager
async def _scratch_database(server: PgServer, template: str | None = None) -> AsyncIterator[str]:
    """A database of one test only, copied from ``template`` if given; dropped afterwards."""
    name = _new_name()
    copy = f' TEMPLATE "{template}"' if template else ""
    await _admin(server.admin_dsn, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield server.dsn_for(name)
    finally:
        with trio.CancelScope(shield=True):
            await _admin(server.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_dsn(
    aio_loop: trio_asyncio.TrioEventLoop, pg_server: PgServer, pg_template: str
) -> AsyncIterator[str]:
    """DSN of a fresh, migrated database of this test only (dropped afterwards)."""
    async with _scratch_database(pg_server, pg_template) as dsn:
        yield dsn


@pytest.fixture
async def empty_dsn(aio_loop: trio_asyncio.TrioEventLoop, pg_server: PgServer) -> AsyncIterator[str]:
    """DSN of a fresh database of this test only, not migrated (dropped afterwards)."""
    async with _scratch_database(pg_server) as dsn:
        yield dsn


@pytest.fixture
async def db(pg_dsn: str) -> AsyncIterator[Database]:
    """A pool on this test's database."""
    async with open_database(pg_dsn, min_size=1, max_size=4) as database:
        yield database
