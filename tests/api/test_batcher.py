"""The send batcher in-process on asyncio, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from bridge.api.batcher import SendBatcher
from bridge.api.errors import ApiError
from bridge.api.reads import ReadBatcher
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


def _keys(dsn: str, credits: dict[str, str]) -> dict[str, KeyRecord]:
    async def make() -> dict[str, KeyRecord]:
        out = {}
        async with open_database(dsn, min_size=1, max_size=1) as db:
            for name, amount in credits.items():
                await create_account(db, name, credits=Decimal(amount))
                _, token = await create_key(db, name, "k")
                record = await lookup_key(db, token[9:17])
                assert record is not None
                out[name] = record
        return out

    return trio.run(make)


def test_an_account_short_in_a_batch_of_several_gets_answers_as_if_each_send_were_alone(
    pg_dsn_sync: str, tmp_path: Path
) -> None:
    """One statement for the batch fails on the short account; the others' sends go
    together again and the short account's one by one, in arrival order."""
    config = load_config(write_config(tmp_path / "c.toml", pg_dsn_sync)).config
    keys = _keys(pg_dsn_sync, {"thin": "0.10", "rich": "10", "other": "10"})  # 0.05 a send
    order = ["thin", "rich", "thin", "other", "thin", "rich", "thin"]

    async def main() -> tuple[list[object], list[object], dict[str, Decimal]]:
        async with open_aio_database(pg_dsn_sync, max_size=2) as db:
            batcher = SendBatcher(db, config, workers=1)
            routes = RouteTable(config)
            tasks = [asyncio.create_task(batcher.send(keys[name], routes, SEND)) for name in order]
            await asyncio.sleep(0)  # all queued before the worker starts: one batch
            batcher.start()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            # Right after, the short account's sends go alone: still refused, the others pass.
            later = await asyncio.gather(
                batcher.send(keys["thin"], routes, SEND), batcher.send(keys["rich"], routes, SEND),
                return_exceptions=True,
            )  # fmt: skip
            await batcher.stop()
            rows = await db.fetch("SELECT name, committed AS reserved FROM accounts ORDER BY name")
        return list(results), list(later), {r["name"]: r["reserved"] for r in rows}

    results, later, reserved = asyncio.run(main())
    assert _codes(results) == ["ok", "ok", "ok", "ok", "insufficient_balance", "ok", "insufficient_balance"]
    assert _codes(later) == ["insufficient_balance", "ok"]
    assert reserved == {"other": Decimal("0.0500"), "rich": Decimal("0.1500"), "thin": Decimal("0.1000")}


def _codes(results: list[object]) -> list[str]:
    return ["ok" if getattr(r, "ok", False) else str(getattr(r, "code", r)) for r in results]


def test_coalesced_status_reads_answer_each_account_only_its_own(pg_dsn_sync: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c.toml", pg_dsn_sync)).config
    keys = _keys(pg_dsn_sync, {"one": "10", "two": "10"})

    async def main() -> list[object]:
        async with open_aio_database(pg_dsn_sync, max_size=2) as db:
            batcher = SendBatcher(db, config, workers=1)
            batcher.start()
            routes = RouteTable(config)
            mine = await batcher.send(keys["one"], routes, SEND)
            await batcher.stop()
            message = mine.recipients[0].id
            reads = ReadBatcher(db, workers=1)
            wanted = [(message, "one"), (message, "two"), ("msg_" + "0" * 26, "one"), (message, "one")]
            tasks = [asyncio.create_task(reads.get(m, keys[a].account_id)) for m, a in wanted]
            await asyncio.sleep(0)  # all four queued before the worker starts: one statement
            reads.start()
            views = await asyncio.gather(*tasks)
            await reads.stop()
            return [v.id if v is not None else None for v in views]

    views = asyncio.run(main())
    assert views[0] is not None and views == [views[0], None, None, views[0]]


def test_a_send_counts_its_recipients_towards_a_second_statement() -> None:
    from bridge.api.batcher import _Pending, _recipients

    def pending(to: str | list[str] | None) -> _Pending:
        return _Pending(None, None, SendRequest(to=to, message="Hi"), None)  # type: ignore[arg-type]

    assert _recipients(pending("+60123456789")) == 1
    assert _recipients(pending(None)) == 1
    assert _recipients(pending([f"+6012345{i:04d}" for i in range(100)])) == 100
