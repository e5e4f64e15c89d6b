"""Claimers: queued parts -> ``submitting`` (write ahead), with a LISTEN wake-up and polling.

One statement claims a batch: the inner SELECT takes the oldest due queued
parts of the routes this daemon can serve now, ``FOR UPDATE SKIP LOCKED`` so
several daemons (and claimers) never take the same row and never wait for each
other; the UPDATE marks them ``submitting`` with our instance id and counts the
attempt, and RETURNING brings back what the submit_sm needs. The part is
``submitting`` in the database before its submit_sm is written (docs/design.md
"Reliability rules": write ahead), so a crash leaves it visible to recovery.
``submitted_at`` is the claim's time until the response sets it: a part whose
outcome stays unknown is matched to a receipt by its minute (docs/pipeline.md).

Routes whose profile is ``concat = "payload"`` send a long message as ONE
submit_sm (the whole text in message_payload, the SMSC splits it): only part 1
of such a message is claimed; its other parts ("riders", billed as parts)
follow part 1 in the writer (apply.py).

Backpressure (docs/design.md "Performance rules"): at most ``max_inflight`` parts are
claimed and not yet resolved by the writer; the claimer waits for room, so a
slow carrier window slows the claims instead of growing a buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import thread_time
from typing import Protocol

import structlog
import trio

from bridge import logs
from bridge.dispatch.instances import Lease
from bridge.dispatch.parts import ClaimedPart
from bridge.dispatch.stats import DaemonStats
from bridge.logs import Outage
from bridge.store.db import Database, db_errors
from bridge.store.enqueue import NOTIFY_CHANNEL

__all__ = ["CLAIM_SQL", "ClaimBook", "ClaimRoutes", "Claimer", "Pipeline"]

log = structlog.get_logger("bridge.dispatch.claim")

# The statement is the SQL function claim_parts: its plan is
# pinned to the claim index and nested loops by its SET clauses, as apply_flush's
# are, so a fresh database whose statistics still say "empty" does not make the
# claim scan every part until autovacuum analyses the table. The owner is joined,
# not only named: parts are claimed only under this daemon's instance row while it
# is live in PostgreSQL's eyes (not stopped, lease not expired).
CLAIM_SQL = "SELECT * FROM claim_parts($1::bigint, $2::int, $3::text[], $4::text[])"
# The function's columns are ClaimedPart's fields in their order (queued_for
# last): a row becomes a part by position, ``ClaimedPart(*row)``, without a
# lookup by name per field (two thirds of the claim's Python time).


class ClaimRoutes(Protocol):
    """The routes the claimer may take parts of now (running.RunningCarriers)."""

    def ready_routes(self) -> Sequence[str]: ...
    def payload_routes(self) -> Sequence[str]: ...


class Pipeline(Protocol):
    """Where claimed parts go (dispatcher.Dispatcher)."""

    def max_inflight(self) -> int: ...
    async def dispatch(self, parts: list[ClaimedPart]) -> None: ...


class ClaimBook:
    """Parts claimed and not yet resolved by the writer, per owner row.

    The claimer adds to it, the writer's commits take away (``resolved``), the
    drain waits for it to empty. Its count bounds the claims (backpressure), less
    the accepted outcomes the writer holds for one cut (``holding``): those wait
    for their receipt to share a flush, not for a carrier, and are at most one
    flush's worth, so the bound grows by that much at most."""

    def __init__(self) -> None:
        self.count = 0
        self.held = 0
        self._by_owner: dict[int, int] = {}
        self._room = trio.Event()

    def claimed(self, owner: int, n: int) -> None:
        self._by_owner[owner] = self._by_owner.get(owner, 0) + n
        self.count += n

    def resolved(self, owners: Sequence[int]) -> None:
        """The writer committed outcomes of parts claimed under ``owners``: room for more claims."""
        for owner in owners:
            self._by_owner[owner] -= 1
        self.count -= len(owners)
        self._room.set()

    def holding(self, n: int) -> None:
        """The writer now holds ``n`` accepted outcomes back for their receipts (writer.py ``_cut``)."""
        room_grew = n > self.held
        self.held = n
        if room_grew:
            self._room.set()

    def unheld(self) -> int:
        """Parts claimed and not yet resolved, less those the writer holds: what the bound counts."""
        return self.count - self.held

    def of_owner(self, owner: int) -> int:
        return self._by_owner.get(owner, 0)

    def forget(self, owner: int) -> None:
        self._by_owner.pop(owner, None)

    def wake(self) -> None:
        """Let a waiter look again (carriers started or stopped, the claimer stopping)."""
        self._room.set()

    async def wait_room(self) -> None:
        self._room = trio.Event()
        await self._room.wait()

    async def wait_resolved(self) -> None:
        """Until every claimed part has been resolved by the writer."""
        while self.count > 0:
            await self.wait_room()


class Claimer:
    def __init__(
        self,
        db: Database,
        *,
        lease: Lease,
        stats: DaemonStats,
        batch: int,
        poll: float,
        db_timeout: float,
        routes: ClaimRoutes,
        book: ClaimBook,
        pipeline: Pipeline,
    ) -> None:
        self._db = db
        self._lease = lease
        self._stats = stats
        self._outage = Outage(log)  # housekeeping while the database is away: two lines, not one a poll
        self.batch = batch
        self.poll = poll
        self.db_timeout = db_timeout
        self._routes = routes
        self._book = book
        self._pipeline = pipeline
        self._wake = trio.Event()
        self.stopped = False

    def wake(self) -> None:
        self._wake.set()

    async def _housekeeping(self) -> None:
        """A new owner row after an unanswered claim; retire old rows with nothing in flight."""
        lease = self._lease
        if lease.needs_rotation:
            await lease.rotate()
        for old in sorted(lease.retiring):
            if self._book.of_owner(old) == 0:
                await lease.retire(old)
                self._book.forget(old)

    def stop(self) -> None:
        self.stopped = True
        self._wake.set()
        self._book.wake()

    async def _sleep(self) -> None:
        with trio.move_on_after(self.poll):
            await self._wake.wait()
        self._wake = trio.Event()

    async def claim(self, limit: int) -> list[ClaimedPart]:
        routes = list(self._routes.ready_routes())
        if not routes or limit <= 0:
            return []
        owner = self._lease.id
        with trio.fail_after(self.db_timeout):
            rows = await self._db.fetch(CLAIM_SQL, owner, limit, routes, list(self._routes.payload_routes()))
        return [ClaimedPart(*row) for row in rows]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        book, pipeline = self._book, self._pipeline
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen)
            task_status.started()
            while not self.stopped:
                room = pipeline.max_inflight() - book.unheld()
                if room <= 0:
                    waited = trio.current_time()
                    await book.wait_room()
                    log.debug("claim room", waited_ms=round((trio.current_time() - waited) * 1000, 1))
                    continue
                if not self._lease.valid():
                    # Another daemon may be recovering our parts: claim nothing
                    # until a heartbeat succeeds again.
                    await self._sleep()
                    continue
                try:
                    await self._housekeeping()
                    self._outage.ok()
                except db_errors() as exc:
                    self._outage.failed("instance housekeeping failed", error=repr(exc))
                    await self._sleep()
                    continue
                try:
                    started, cpu = trio.current_time(), thread_time()
                    parts = await self.claim(min(self.batch, room))
                    claimed_at, claim_cpu = trio.current_time(), thread_time()
                except Exception as exc:
                    # No (usable) answer: the claim may have been committed all the same.
                    log.warning("claim failed; claiming under a new instance row", error=repr(exc))
                    self._lease.needs_rotation = True
                    await self._sleep()
                    continue
                if parts:
                    book.claimed(parts[0].owner, len(parts))
                    self._stats.claimed += len(parts)
                    await pipeline.dispatch(parts)
                if logs.DEBUG:
                    # A timeline of the claims (bench/README.md): ms is the claim's wall
                    # time, busy_ms the CPU time of the daemon's thread meanwhile (mostly its
                    # other tasks, which the answer waits behind), dispatch_ms the batch's
                    # submit_sm PDUs built and written; the next claim waits for both.
                    done, done_cpu = trio.current_time(), thread_time()
                    log.debug("claimed", parts=len(parts), room=room, ms=round((claimed_at - started) * 1000, 1),
                              busy_ms=round((claim_cpu - cpu) * 1000, 1),
                              dispatch_ms=round((done - claimed_at) * 1000, 1),
                              dispatch_cpu_ms=round((done_cpu - claim_cpu) * 1000, 1))  # fmt: skip
                if len(parts) < min(self.batch, room):
                    await self._sleep()  # the queue is (nearly) empty: wait for NOTIFY or the poll
            nursery.cancel_scope.cancel()

    async def _listen(self) -> None:
        # NOTIFY is a wake-up only (docs/store.md): the poll catches anything missed.
        while True:
            try:
                async with self._db.listen(NOTIFY_CHANNEL, buffer=8) as channel:
                    async for _ in channel:
                        self._wake.set()
            except db_errors() as exc:
                log.debug("listen connection lost", error=repr(exc))
            await trio.sleep(self.poll)
