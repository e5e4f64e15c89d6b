"""A bounded queue drained in batches by a few tasks: the batching of sends and of reads.

Each of ``workers`` tasks waits for one item, then takes every item waiting at
that moment (up to ``max_batch``) and hands the batch to ``handle``. No timer:
a lone item goes at once; under load batches grow by themselves while the
previous ones are in the database. A worker starts a batch while another is in
the database only when the items waiting weigh ``overlap_from`` or more (each
item weighs ``weight(item)``, 1 by default): with the default 1 any item
does, so ``workers`` batches overlap; with more, small items wait for the
batch in flight and go together in the next one (fewer, larger batches), and
heavy ones still overlap. Each item carries the future its request
awaits; when ``handle`` raises, every item of the batch not answered yet gets
the exception. The queue is bounded (docs/design.md "Reliability rules"): past ``max_queue`` an item is
refused at once with 503 ``unavailable`` instead of waiting behind thousands
of others.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from bridge.api.errors import ApiError

__all__ = ["Drain", "Item"]


class Item(Protocol):
    @property
    def done(self) -> asyncio.Future[Any]: ...


T = TypeVar("T", bound=Item)


class Drain(Generic[T]):
    def __init__(
        self, handle: Callable[[list[T]], Awaitable[None]], *, workers: int, max_batch: int, max_queue: int,
        what: str, weight: Callable[[T], int] | None = None, overlap_from: int = 1,
    ) -> None:  # fmt: skip
        self._handle = handle
        self._waiting: deque[tuple[T, int]] = deque()
        self._waiting_weight = 0
        self._max_queue = max_queue
        self._workers = workers
        self._max_batch = max_batch
        self._what = what
        self._weight = weight
        self._overlap_from = overlap_from
        self._busy = 0  # workers with a batch in ``handle``
        self._wake = asyncio.Event()  # set when a worker may take: a put, a batch's end
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def put(self, item: T) -> None:
        if len(self._waiting) >= self._max_queue:
            raise ApiError(
                "unavailable", f"Too many {self._what} in flight: retry shortly.", headers={"Retry-After": "1"}
            )
        weight = 1 if self._weight is None else self._weight(item)
        self._waiting.append((item, weight))
        self._waiting_weight += weight
        if self._may_take():  # else no worker would take it now: do not wake them for nothing
            self._wake.set()

    def _may_take(self) -> bool:
        return bool(self._waiting) and (self._busy == 0 or self._waiting_weight >= self._overlap_from)

    async def _work(self) -> None:
        while True:
            # Idle workers wake on a put that one of them may take and at each
            # batch's end, and look again: one takes, the others clear and wait.
            while not self._may_take():
                self._wake.clear()
                await self._wake.wait()
            batch: list[T] = []
            while self._waiting and len(batch) < self._max_batch:
                item, weight = self._waiting.popleft()
                self._waiting_weight -= weight
                batch.append(item)
            self._busy += 1
            try:
                await self._handle(batch)
            except Exception as exc:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
            finally:
                self._busy -= 1
                self._wake.set()  # what waited behind this batch may go now
