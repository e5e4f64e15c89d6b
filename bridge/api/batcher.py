"""Concurrent sends share one transaction: micro-batching without a timer.

A single-recipient send alone is about ten statements and a commit (BEGIN,
the account, four inserts, the reservation, NOTIFY, COMMIT); the commit's WAL
flush and NOTIFY's commit-time lock serialise such transactions. So sends
queue here, and each of ``workers`` tasks takes every send waiting at that
moment (up to ``max_batch``) into one transaction: no timer, a lone request
goes at once, and under load batches grow by themselves while the previous
ones commit.

Inside the transaction the sends are grouped by (account, key, route table)
and each group is one ``enqueue_many`` call (a savepoint: its statements do
not grow with the group), in account order so that concurrent batches lock
account rows in the same order (as the daemon's ``settle_messages`` does). A
group that fails as a whole (one request invalid, or the balance short for
the group's total) is retried one send at a time, so every request gets its
own answer, as if it had been alone: the 402 race stays exact. Answers are
released only after the commit (201 after commit); when the commit fails,
every send of the batch gets the error.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
import structlog

from bridge.api.errors import ApiError
from bridge.store.aio import AioDatabase
from bridge.store.enqueue import EnqueueError, enqueue_many
from bridge.store.executor import Executor
from bridge.store.keys import KeyRecord
from bridge.store.models import SendResult
from bridge.store.plan import SendRequest
from bridge.store.routing import RouteTable
from config.schema import Config

__all__ = ["SendBatcher"]

log = structlog.get_logger("bridge.api")


@dataclass(slots=True)
class _Pending:
    account_id: int
    api_key_id: int
    max_recipients: int
    routes: RouteTable
    request: SendRequest
    done: asyncio.Future[SendResult] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SendBatcher:
    def __init__(
        self, db: AioDatabase, config: Config, *, workers: int = 4, max_batch: int = 64, max_queue: int = 4096
    ) -> None:
        self._db = db
        self._config = config
        # Bounded (docs/design.md "every queue is bounded"): past it a send is
        # answered 503 `unavailable` at once instead of waiting behind thousands
        # of others.
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queue)
        self._max_batch = max_batch
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, key: KeyRecord, routes: RouteTable, request: SendRequest) -> SendResult:
        """The send's 201 body once committed; raises its ``EnqueueError`` or the batch's error."""
        pending = _Pending(key.account_id, key.id, key.max_recipients, routes, request)
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise ApiError(
                "unavailable", "Too many sends in flight: retry shortly.", headers={"Retry-After": "1"}
            ) from None
        return await pending.done

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                try:
                    await self._commit(batch)
                except asyncpg.DeadlockDetectedError:
                    # Two batches took concatenation references (multipart
                    # sends to the same numbers) of several accounts in
                    # opposite orders; PostgreSQL aborted this one. Again, one
                    # send per transaction: that order cannot deadlock.
                    log.info("batch deadlocked, sending its sends one by one", sends=len(batch))
                    for pending in batch:
                        await self._commit([pending])
            except Exception as exc:
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(exc)

    async def _commit(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[int, int, int], list[_Pending]] = defaultdict(list)
        for pending in batch:
            groups[(pending.account_id, pending.api_key_id, id(pending.routes))].append(pending)
        outcomes: list[tuple[_Pending, SendResult | EnqueueError]] = []
        async with self._db.transaction() as tx:
            for key in sorted(groups):
                outcomes += await self._group(tx, groups[key])
        for pending, outcome in outcomes:  # after the commit
            if pending.done.done():  # its request was cancelled: the send stands all the same
                continue
            if isinstance(outcome, EnqueueError):
                pending.done.set_exception(outcome)
            else:
                pending.done.set_result(outcome)

    async def _group(self, tx: Executor, group: list[_Pending]) -> list[tuple[_Pending, SendResult | EnqueueError]]:
        first = group[0]
        try:
            results = await enqueue_many(
                tx, self._config, first.account_id, [p.request for p in group],
                routes=first.routes, api_key_id=first.api_key_id, max_recipients=first.max_recipients,
            )  # fmt: skip
            return list(zip(group, results, strict=True))
        except EnqueueError as exc:
            if len(group) == 1:
                return [(first, exc)]
        out: list[tuple[_Pending, SendResult | EnqueueError]] = []
        for pending in group:  # one at a time: each its own answer
            out += await self._group(tx, [pending])
        return out
