"""The key cache on asyncio against a real PostgreSQL: one read per prefix at a time."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import trio

from bridge.api.auth import KeyCache
from bridge.store.accounts import create_account
from bridge.store.aio import AioDatabase, open_aio_database
from bridge.store.db import open_database
from bridge.store.keys import create_key


class _Counting:
    """The real pool, counting the statements that go through it."""

    def __init__(self, db: AioDatabase) -> None:
        self.db = db
        self.reads = 0

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.reads += 1
        await asyncio.sleep(0.05)  # a slow read: the other requests come while it runs
        return await self.db.fetchrow(sql, *args)


def _token(dsn: str) -> str:
    async def make() -> str:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            await create_account(db, "acme", credits=Decimal(10))
            _, token = await create_key(db, "acme", "k")
            return token

    return trio.run(make)


def test_requests_that_find_the_entry_stale_share_one_read(pg_dsn_sync: str) -> None:
    token = _token(pg_dsn_sync)
    header = f"Bearer {token}"

    async def main() -> tuple[int, int, int, list[int]]:
        async with open_aio_database(pg_dsn_sync, max_size=2) as db:
            counting = _Counting(db)
            clock = [0.0]
            cache = KeyCache(counting, ttl=0.5, clock=lambda: clock[0])  # type: ignore[arg-type]
            first = await asyncio.gather(*[cache.authenticate(header) for _ in range(20)])
            after_first = counting.reads
            clock[0] = 1.0  # expired: the next twenty share one read again
            waiter = asyncio.create_task(cache.authenticate(header))
            await asyncio.sleep(0.01)
            waiter.cancel()  # a waiter that goes does not take the read with it
            second = await asyncio.gather(*[cache.authenticate(header) for _ in range(20)])
            after_second = counting.reads
            # A revocation NOTIFY while a read runs: that read's row is not kept.
            clock[0] = 2.0
            reading = asyncio.create_task(cache.authenticate(header))
            await asyncio.sleep(0.01)
            cache.forget(token[9:17])
            await reading
            await cache.authenticate(header)
            ids = [k.id for k in first + second]
            return after_first, after_second, counting.reads, ids

    after_first, after_second, total, ids = asyncio.run(main())
    assert len(set(ids)) == 1 and len(ids) == 40
    assert (after_first, after_second, total) == (1, 2, 4)
