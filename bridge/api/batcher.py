"""Concurrent sends share one statement: micro-batching without a timer.

A single-recipient send alone is a statement and a commit (``store_sends``);
the commit's WAL flush, NOTIFY's commit-time lock and the round trips
serialise such sends. So sends queue here, and a worker task takes every send
waiting at that moment (up to ``max_batch``), plans each one
(validation, routing, segments, price: ``prepare``) and stores them all, of
every account, with one ``store_sends`` statement, which is its own
transaction: one round trip and one commit for the batch. No timer: a lone
request goes at once, and under load batches grow by themselves while the
previous ones commit. While one batch is in the database, a second of the
``workers`` starts another only when the sends waiting carry ``overlap_from``
recipients or more (``bridge/api/drain.py``): single sends wait for the commit
in flight and go together in the next batch (fewer, larger batches: less
PostgreSQL per send), while 100-recipient calls, whose statements take a few
milliseconds each, keep two statements overlapping.

The 402 stays exact, each request answered as if it had been alone: a batch in
which an account cannot cover its total stores nothing (``BalanceShort``);
then the accounts' balances are read, the sends of the accounts that can
cover theirs go again together, and those of the others one at a time, in
arrival order, each refused only if the balance cannot cover it then. Such an
account's sends go one at a time for the next second, so that it does not
make every batch fail. Answers are released only after the commit (201 after
commit); when the statement fails otherwise, every send of the batch gets the
error.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import structlog

from bridge.api.drain import Drain
from bridge.store.aio import AioDatabase
from bridge.store.enqueue import (
    BalanceShort,
    EnqueueError,
    PlannedSend,
    prepare,
    short_of,
    store_sends,
)
from bridge.store.keys import KeyRecord
from bridge.store.models import SendResult
from bridge.store.plan import SendRequest
from bridge.store.routing import RouteTable
from config.schema import Config

__all__ = ["SendBatcher"]

log = structlog.get_logger("bridge.api")

_SHORT_FOR = 1.0  # seconds an account found short sends one send at a time


@dataclass(slots=True)
class _Pending:
    key: KeyRecord
    routes: RouteTable
    request: SendRequest
    done: asyncio.Future[SendResult]


_Planned = tuple[_Pending, PlannedSend]


class SendBatcher:
    def __init__(
        self,
        db: AioDatabase,
        config: Config,
        *,
        workers: int = 4,
        max_batch: int = 64,
        max_queue: int = 4096,
        overlap_from: int = 1,
    ) -> None:
        self._db = db
        self._config = config
        self._drain: Drain[_Pending] = Drain(
            self._commit, workers=workers, max_batch=max_batch, max_queue=max_queue, what="sends",
            weight=_recipients, overlap_from=overlap_from,
        )  # fmt: skip
        self._short: dict[int, float] = {}  # account id -> until when its sends go alone
        # The loop, looked up once: on Python 3.11 each asyncio.get_running_loop()
        # is a getpid system call (the loop's process check).
        self._loop = asyncio.get_running_loop()

    def start(self) -> None:
        self._drain.start()

    async def stop(self) -> None:
        await self._drain.stop()

    async def send(self, key: KeyRecord, routes: RouteTable, request: SendRequest) -> SendResult:
        """The send's 201 body once committed; raises its ``EnqueueError`` or the batch's error."""
        pending = _Pending(key, routes, request, self._loop.create_future())
        self._drain.put(pending)
        return await pending.done

    async def _commit(self, batch: list[_Pending]) -> None:
        planned: list[_Planned] = []
        for pending in batch:
            key = pending.key
            try:
                send = prepare(
                    self._config, pending.routes, key.account_id, pending.request,
                    default_sender_id=key.default_sender_id, api_key_id=key.id, max_recipients=key.max_recipients,
                )  # fmt: skip
            except EnqueueError as exc:
                _answer(pending, exc)
                continue
            planned.append((pending, send))
        now = self._loop.time()
        alone = [p for p in planned if self._short.get(p[1].account_id, 0.0) > now]
        together = [p for p in planned if self._short.get(p[1].account_id, 0.0) <= now]
        try:
            await self._together(together)
        except asyncpg.DeadlockDetectedError:
            # Two batches took concatenation references (multipart sends to
            # the same numbers) in opposite orders; PostgreSQL aborted this
            # one. One send per statement cannot deadlock that way.
            log.info("batch deadlocked, sending its sends one by one", sends=len(together))
            alone = together + alone
        for item in sorted(alone, key=lambda p: batch.index(p[0])):
            await self._alone(item)

    async def _together(self, planned: list[_Planned]) -> None:
        if not planned:
            return
        try:
            await store_sends(self._db, [send for _, send in planned])
        except BalanceShort:
            await self._split(planned)
            return
        for pending, send in planned:
            _answer(pending, send.result())

    async def _split(self, planned: list[_Planned]) -> None:
        """An account could not cover its share: the others together again, its sends one by one."""
        totals: dict[int, Decimal] = defaultdict(Decimal)
        for _, send in planned:
            totals[send.account_id] += send.total
        rows = await self._db.fetch(
            "SELECT id, credits - committed AS balance FROM accounts WHERE id = ANY($1::bigint[])",
            sorted(totals),
        )  # fmt: skip
        balances = {row["id"]: row["balance"] for row in rows}
        short = {a for a, total in totals.items() if total > balances.get(a, Decimal(0))}
        now = self._loop.time()
        self._short = {a: t for a, t in self._short.items() if t > now} | dict.fromkeys(
            short, now + _SHORT_FOR
        )
        fits = [p for p in planned if p[1].account_id not in short]
        if fits and short:  # else the same batch would fail again (a race): one by one
            try:
                await store_sends(self._db, [send for _, send in fits])
            except BalanceShort:
                pass
            else:
                for pending, send in fits:
                    _answer(pending, send.result())
                planned = [p for p in planned if p[1].account_id in short]
        for item in planned:
            await self._alone(item)

    async def _alone(self, item: _Planned) -> None:
        pending, send = item
        try:
            await store_sends(self._db, [send])
        except BalanceShort:
            _answer(pending, short_of(send.total))
        else:
            _answer(pending, send.result())


def _recipients(pending: _Pending) -> int:
    """The send's recipients as the request lists them (``prepare`` checks them later)."""
    to = pending.request.to
    return len(to) if isinstance(to, list) else 1


def _answer(pending: _Pending, outcome: SendResult | EnqueueError) -> None:
    if pending.done.done():  # its request was cancelled: the send stands all the same
        return
    if isinstance(outcome, EnqueueError):
        pending.done.set_exception(outcome)
    else:
        pending.done.set_result(outcome)
