"""The send batcher in-process on asyncio, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from bridge.api.batcher import SendBatcher
from bridge.api.errors import ApiError
from bridge.store.accounts import create_account
from bridge.store.aio import open_aio_database
from bridge.store.db import open_database
from bridge.store.keys import KeyRecord, create_key, lookup_key
from bridge.store.plan import SendRequest
from bridge.store.routing import RouteTable
from config.load import load_config
from tests.api.harness import write_config

SEND = SendRequest(to="+60123456789", message="Hello")


def _key(dsn: str) -> KeyRecord:
    async def make() -> KeyRecord:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            await create_account(db, "acme", credits=Decimal(10))
            _, token = await create_key(db, "acme", "k")
            record = await lookup_key(db, token[9:17])
            assert record is not None
            return record

    return trio.run(make)


def test_a_cancelled_request_does_not_take_the_batch_with_it(pg_dsn_sync: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c.toml", pg_dsn_sync)).config
    key = _key(pg_dsn_sync)

    async def main() -> tuple[list[object], int]:
        async with open_aio_database(pg_dsn_sync, max_size=2) as db:
            batcher = SendBatcher(db, config, workers=1)
            routes = RouteTable(config)
            tasks = [asyncio.create_task(batcher.send(key, routes, SEND)) for _ in range(6)]
            await asyncio.sleep(0)  # all six queued before the worker starts: one batch
            batcher.start()
            tasks[2].cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await batcher.stop()
            count = await db.fetchval("SELECT count(*) FROM campaigns")
        return results, count

    results, campaigns = asyncio.run(main())
    assert isinstance(results[2], asyncio.CancelledError)
    assert all(getattr(r, "ok", False) for i, r in enumerate(results) if i != 2), results
    assert campaigns == 6  # the cancelled request's send was committed with the others


def test_the_queue_is_bounded(pg_dsn_sync: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c.toml", pg_dsn_sync)).config
    key = _key(pg_dsn_sync)

    async def main() -> None:
        async with open_aio_database(pg_dsn_sync, max_size=1) as db:
            batcher = SendBatcher(db, config, workers=1, max_queue=2)  # not started: nothing drains
            routes = RouteTable(config)
            waiting = [asyncio.create_task(batcher.send(key, routes, SEND)) for _ in range(2)]
            await asyncio.sleep(0)
            with pytest.raises(ApiError) as refused:
                await batcher.send(key, routes, SEND)
            assert refused.value.code == "unavailable" and refused.value.headers == {"Retry-After": "1"}
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    asyncio.run(main())
