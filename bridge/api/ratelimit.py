"""Requests per minute per key, held across API processes on one database.

Algorithm (a token lease on a fixed window): the database keeps, per key, the
current one-minute window (the database's clock, ``date_trunc('minute',
now())``) and how many requests of it have been handed out
(``api_take_tokens``, migration). A process takes a *batch* of
``max(1, limit // 50)`` tokens at a time and spends them locally; only when its
batch is spent does it go back to the database. When the database answers 0,
the window is used up for every process, so this process refuses every
request of that key until the window ends (``Retry-After`` = the seconds left,
rounded up) without asking again.

Error bound, per key and window, with P processes:
- never more than ``limit`` requests admitted (tokens are granted under a row
  lock and never exceed the limit);
- at least ``limit - P * (batch - 1)`` admitted before refusals start (tokens
  stranded in other processes' batches are lost when the window ends): 2% of
  the limit per process at most, and none for limits under 100 (batch 1);
- fixed windows: a client may use ``limit`` at the end of one minute and
  ``limit`` again at the start of the next, so any 60 s may see up to twice
  the limit, never more.

Database cost: one statement per batch, i.e. ``limit / batch`` per key and
minute per process at most (50 for a large limit, the limit itself under 100),
none while a window is refused.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.store.executor import Executor

__all__ = ["RateLimiter", "batch_size"]


def batch_size(limit: int) -> int:
    return max(1, limit // 50)


@dataclass(slots=True)
class _Lease:
    tokens: int
    ends: float  # monotonic time the window ends
    exhausted: bool  # the database granted 0: refuse until ``ends``


class RateLimiter:
    __slots__ = ("_clock", "_db", "_leases", "_locks")

    def __init__(self, db: Executor, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._leases: dict[int, _Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def admit(self, key_id: int, limit: int | None) -> float | None:
        """None when admitted, else the seconds to wait (``Retry-After``)."""
        if limit is None:
            return None
        lease = self._leases.get(key_id)
        if lease is not None and self._clock() < lease.ends:
            if lease.tokens > 0:
                lease.tokens -= 1
                return None
            if lease.exhausted:
                return self._retry_after(lease)
        lock = self._locks.setdefault(key_id, asyncio.Lock())
        async with lock:
            lease = self._leases.get(key_id)
            now = self._clock()
            if lease is None or now >= lease.ends or (lease.tokens == 0 and not lease.exhausted):
                row = await self._db.fetchrow(
                    "SELECT granted, seconds_left FROM api_take_tokens($1, $2, $3)",
                    key_id, batch_size(limit), limit,
                )  # fmt: skip
                assert row is not None
                granted = int(row["granted"])
                lease = _Lease(granted, now + float(row["seconds_left"]), exhausted=granted == 0)
                self._leases[key_id] = lease
            if lease.tokens > 0:
                lease.tokens -= 1
                return None
            return self._retry_after(lease)

    def _retry_after(self, lease: _Lease) -> float:
        return max(1.0, float(math.ceil(lease.ends - self._clock())))
