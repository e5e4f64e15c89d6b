"""Concurrent GET /sms/{id} share one statement: read coalescing without a timer.

Each status read alone is a pool borrow and a statement, and on both sides
of the connection the per-statement work (protocol, planning a prepared
statement's execution, waking the backend) costs more than the index lookups
themselves. So reads queue here (``Drain``), and each of ``workers`` tasks
takes every read waiting at that moment (up to ``max_batch``) into one
statement (``get_messages``: one indexed lookup per id). A lone read goes at
once; under load the batches grow by themselves. Each request then gets
its own message, or None when it is unknown or another account's (never
which).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bridge.api.drain import Drain
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
        self._drain: Drain[_Read] = Drain(
            self._read, workers=workers, max_batch=max_batch, max_queue=max_queue, what="reads"
        )

    def start(self) -> None:
        self._drain.start()

    async def stop(self) -> None:
        await self._drain.stop()

    async def get(self, public_id: str, account_id: int) -> MessageView | None:
        """The message if it exists and is ``account_id``'s, else None."""
        read = _Read(public_id, account_id)
        self._drain.put(read)
        return await read.done

    async def _read(self, batch: list[_Read]) -> None:
        found = await get_messages(self._db, sorted({r.public_id for r in batch}))
        for read in batch:
            if read.done.done():  # its request was cancelled
                continue
            owner, view = found.get(read.public_id, (None, None))
            read.done.set_result(view if owner == read.account_id else None)
