"""Concurrent GET /sms/{id} share one statement: read coalescing without a timer.

Each status read alone is a pool borrow and a statement, and on both sides
of the connection the per-statement work (protocol, planning a prepared
statement's execution, waking the backend) costs more than the index lookups
themselves. So reads queue here, and each of ``workers`` tasks takes every
read waiting at that moment (up to ``max_batch``) into one
``WHERE public_id = ANY(...)`` statement (``get_messages``). A lone read goes
at once; under load the batches grow by themselves. Each request then gets
its own message, or None when it is unknown or another account's (never
which).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bridge.api.errors import ApiError
from bridge.store.aio import AioDatabase
from bridge.store.models import MessageView
from bridge.store.queries import get_messages

__all__ = ["ReadBatcher"]


@dataclass(slots=True)
class _Read:
    public_id: str
    account_id: int
    done: asyncio.Future[MessageView | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ReadBatcher:
    def __init__(self, db: AioDatabase, *, workers: int = 2, max_batch: int = 256, max_queue: int = 8192) -> None:
        self._db = db
        self._queue: asyncio.Queue[_Read] = asyncio.Queue(maxsize=max_queue)
        self._max_batch = max_batch
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def get(self, public_id: str, account_id: int) -> MessageView | None:
        """The message if it exists and is ``account_id``'s, else None."""
        read = _Read(public_id, account_id)
        try:
            self._queue.put_nowait(read)
        except asyncio.QueueFull:
            raise ApiError(
                "unavailable", "Too many reads in flight: retry shortly.", headers={"Retry-After": "1"}
            ) from None
        return await read.done

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                found = await get_messages(self._db, sorted({r.public_id for r in batch}))
            except Exception as exc:
                for read in batch:
                    if not read.done.done():
                        read.done.set_exception(exc)
                continue
            for read in batch:
                if read.done.done():  # its request was cancelled
                    continue
                owner, view = found.get(read.public_id, (None, None))
                read.done.set_result(view if owner == read.account_id else None)
