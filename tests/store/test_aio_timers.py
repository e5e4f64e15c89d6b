"""Cancelled asyncio timers do not pile up in the daemon's trio-asyncio loop (bridge/store/aio_timers.py)."""

from __future__ import annotations

import asyncio

import trio
import trio.testing
import trio_asyncio

from bridge.store.aio_timers import MIN_CANCELLED
from bridge.store.db import Database, ensure_aio_loop


def _heap(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    return loop._timers  # type: ignore[attr-defined,no-any-return]


async def test_cancelled_timers_leave_the_heap_and_live_ones_still_fire() -> None:
    with trio.fail_after(10):
        async with ensure_aio_loop():
            loop = trio_asyncio.current_loop.get()
            assert loop is not None
            fired = trio.Event()
            live = loop.call_later(0.2, fired.set)
            handles = [loop.call_later(300, lambda: None) for _ in range(2_000)]
            await trio.testing.wait_all_tasks_blocked()  # the loop moves them from its queue to its heap
            assert len(_heap(loop)) >= 2_001
            for handle in handles:
                handle.cancel()
            # asyncio's rule: rebuilt once the cancelled are more than half the heap.
            assert len(_heap(loop)) <= 2 * MIN_CANCELLED + 2
            assert live in _heap(loop)
            await fired.wait()


async def test_statements_leave_no_timers_behind(db: Database) -> None:
    """asyncpg arms a timer per statement (command_timeout) and per connection given
    back to the pool (its inactivity limit) and cancels it: 1,000 statements left
    about 2,000 timers in the heap before the fix."""
    with trio.fail_after(60):
        loop = trio_asyncio.current_loop.get()
        assert loop is not None
        for i in range(1_000):
            assert await db.fetchval("SELECT $1::int", i) == i
        assert len(_heap(loop)) <= 2 * MIN_CANCELLED + 20
