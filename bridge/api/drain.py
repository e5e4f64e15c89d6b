"""A bounded queue drained in batches by a few tasks: the batching of sends and of reads.

Each of ``workers`` tasks waits for one item, then takes every item waiting at
that moment (up to ``max_batch``) and hands the batch to ``handle``. No timer:
a lone item goes at once; under load batches grow by themselves while the
previous ones are in the database. Each item carries the future its request
awaits; when ``handle`` raises, every item of the batch not answered yet gets
the exception. The queue is bounded (DESIGN.md): past ``max_queue`` an item is
refused at once with 503 ``unavailable`` instead of waiting behind thousands
of others.
"""

from __future__ import annotations

import asyncio
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
        what: str,
    ) -> None:  # fmt: skip
        self._handle = handle
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=max_queue)
        self._workers = workers
        self._max_batch = max_batch
        self._what = what
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def put(self, item: T) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise ApiError(
                "unavailable", f"Too many {self._what} in flight: retry shortly.", headers={"Retry-After": "1"}
            ) from None

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._handle(batch)
            except Exception as exc:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
