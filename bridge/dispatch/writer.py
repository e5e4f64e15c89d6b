"""The one batching writer: submit outcomes, receipts and MO -> PostgreSQL -> acks.

Rows are collected from the submitters (``put``) and the carriers' inbound
channel (``run_inbound``, intake.py) and flushed by ONE call of the SQL function
``apply_flush`` (apply.py; it commits on its own) when ``batch`` rows are waiting or ``delay`` seconds after the first row arrived, whichever comes
first (config ``daemon.writer_batch`` / ``daemon.writer_delay``: 500 rows /
20 ms, docs/design.md "Performance rules").

Receipts and MO are acknowledged (deliver_sm_resp / data_sm_resp ESME_ROK)
only after that call committed (and the parking of receipts whose id is not
known yet, and the MO rows, each a statement of their own), so an SMSC never
forgets a receipt we have not stored (docs/design.md "Reliability rules"). While the database is
unreachable they are answered ESME_RX_T_APPN (0x64, SMPP 3.4 section 5.1.3:
"ESME receiver temporary app error"), the SMSC retries later, and the binds
stay up. Submit outcomes are never answered to anyone: they stay in memory and
the flush is retried until it succeeds (their number is bounded by the
claimers' in-flight limit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import structlog
import trio

from bridge.carrier import Inbound
from bridge.dispatch.apply import Applied, apply_flush
from bridge.dispatch.inbound import MoRow, ReceiptRow
from bridge.dispatch.intake import InboundIntake
from bridge.dispatch.pacing import LOOP_SLICE
from bridge.dispatch.parts import Resolution, Result
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.stats import DaemonStats, ParkedWatch
from bridge.smpp import CommandStatus
from bridge.store.db import Database, db_errors

__all__ = ["Writer"]

log = structlog.get_logger("bridge.dispatch.writer")

ESME_ROK = int(CommandStatus.ESME_ROK)
ESME_RX_T_APPN = int(CommandStatus.ESME_RX_T_APPN)

# A flush takes at most this many times ``batch`` rows (what accumulated while the
# previous flush committed). Measured with bench e2e (writer_batch 1000): 4 x is
# worth about 20% (fewer statements and commits per message); the inbound buffer is
# 4 x batch too, so one flush can empty it.
BATCH_GROWTH = 4

# Flush transactions in flight at once. One flush's wall time is mostly its
# PostgreSQL backend's CPU, so with one writer a single backend (one core) was
# the pipeline's limit; a second flush lets PostgreSQL use the other core while
# the first one commits (bench e2e --quick, alternating runs: median 5,700 msg/s
# with one, 6,700 with two; three were no better). Rows whose (carrier, id_key)
# is in a flush in flight wait for it (see _cut).
FLUSHES_IN_FLIGHT = 2

Key = tuple[str, str]  # (carrier, id_key)
# Outcomes that give a part its carrier id (its key "lands"): receipts of that key wait for them.
_ACCEPTED, _LATE_ACCEPT = Resolution.ACCEPTED, Resolution.LATE_ACCEPT
# Outcomes, receipts / MO, and the (carrier, id_key) of the accepted outcomes and receipts among them.
Batch = tuple[list[Result], list[tuple[Inbound, "ReceiptRow | MoRow"]], list[Key]]


class RulesLookup(Protocol):
    """A carrier's rules by name, None once a reload removed it (running.RunningCarriers)."""

    def rules_of(self, carrier: str) -> CarrierRules | None: ...


class Claims(Protocol):
    """Who learns that claimed parts were resolved, or are held (claim.ClaimBook)."""

    def resolved(self, owners: Sequence[int]) -> None: ...
    def holding(self, n: int) -> None: ...


class Writer(InboundIntake):
    """Flushes outcomes, receipts and MO in batches.

    What it hands on after a commit: the owners of the parts resolved go to
    ``claims`` (room for more claims); committed Unknown(timeout) outcomes go to
    ``late_refs`` (when given) so that their late responses may now be applied
    (dispatcher.Dispatcher.run_late). Sent with ``send_nowait``: a full channel
    drops the newest, which costs what a missing late response costs (late.py)."""

    def __init__(
        self,
        db: Database,
        *,
        stats: DaemonStats,
        rules: RulesLookup,
        batch: int,
        delay: float,
        db_timeout: float,
        webhooks: bool,
        default_url: str | None,
        claims: Claims,
        late_refs: trio.MemorySendChannel[Result] | None = None,
    ) -> None:
        self._db = db
        self._stats = stats
        self._rules = rules.rules_of
        self.batch = batch
        self.delay = delay
        self.db_timeout = db_timeout
        self._webhooks = webhooks
        self._default_url = default_url
        self._claims = claims
        self._late_refs = late_refs
        self._results: list[Result] = []
        # Accepted outcomes the last cut held for their receipt; the next one takes them (see _cut).
        self._held: list[Result] = []
        self._inbound: list[tuple[Inbound, ReceiptRow | MoRow]] = []
        self._first_at: float | None = None
        self._more = trio.Event()
        self._room = trio.Event()
        self.db_up = True
        self._in_flight = 0
        self._slots = trio.Semaphore(FLUSHES_IN_FLIGHT)
        # (carrier, id_key) of the accepted outcomes and receipts in flushes not yet
        # committed: a row with such a key waits for that flush (see _cut).
        self._busy: Counter[Key] = Counter()
        self._attempts: trio.Nursery | None = None
        self._progress = trio.Event()  # set (and replaced) after every flush attempt
        self.parked_watch = ParkedWatch(stats, trio.current_time)

    def set_webhooks(self, enabled: bool, default_url: str | None) -> None:
        """After a reload: outbox rows follow the new [webhooks] settings."""
        self._webhooks, self._default_url = enabled, default_url

    # --- input -------------------------------------------------------------------------

    def _arrived(self) -> None:
        if self._first_at is None:
            self._first_at = trio.current_time()
        self._more.set()

    def put(self, result: Result) -> None:
        """A submit outcome (never blocks: their number is bounded by the in-flight limit)."""
        self._results.append(result)
        if self._first_at is None:  # _arrived, inlined: one of these per part
            self._first_at = trio.current_time()
        self._more.set()

    # --- flushing ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._results) + len(self._held) + len(self._inbound)

    async def wait_idle(self) -> None:
        """Until every row handed in so far is committed (or acked 0x64)."""
        while self.pending or self._in_flight:
            await self._progress.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as attempts:
            self._attempts = attempts
            task_status.started()
            await self._loop()

    async def _loop(self) -> None:
        backoff = 0.1
        while True:
            if not self.pending:
                self._more = trio.Event()
                if self.db_up:
                    await self._more.wait()
                else:
                    with trio.move_on_after(backoff):
                        await self._more.wait()
            if self.db_up and self.pending < self.batch and self._first_at is not None:
                with trio.move_on_at(self._first_at + self.delay):
                    while self.pending < self.batch:
                        self._more = trio.Event()
                        await self._more.wait()
            if self.db_up:
                await self._slots.acquire()
                batch = self._cut()
                if batch is None:  # nothing, or all of it waits for flushes in flight
                    self._slots.release()
                    if self._in_flight:
                        await self._progress.wait()
                    continue
                assert self._attempts is not None, "Writer.run is not running"
                self._attempts.start_soon(self._flush_task, batch)
                continue
            # Database down: one attempt at a time (a probe when nothing waits), with back-off.
            while self._in_flight:
                await self._progress.wait()
            await self._slots.acquire()
            ok = await self._flush_task(self._cut() or ([], [], []))
            if ok:
                backoff = 0.1
            else:
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _cut(self) -> Batch | None:
        """The next batch, leaving back rows whose (carrier, id_key) is in a flush in flight.

        A receipt matched in one transaction while the response it belongs to is in another one not
        committed yet finds nothing and is parked, and the unparking of that other transaction does
        not see the parked row either (it is not committed yet): the receipt would wait for the
        sweeper. Holding such rows back until the other flush has committed keeps the order one
        writer has: response, then receipt (or parked receipt, then the response that unparks it).

        A flush takes all that waits, up to BATCH_GROWTH x batch: under load fewer,
        larger transactions (statements, COMMIT and account lock are per flush).

        While another flush is in flight, an accepted outcome whose key has no
        receipt waiting is held for one cut, so that its receipt shares its flush
        and folds into its UPDATE (apply.py ``_folds``); held outcomes take no claim
        room (``Claims.holding``). docs/flush.md "The writer".
        """
        cap = self.batch * BATCH_GROWTH
        busy = self._busy
        held, self._held = self._held, []
        waiting = held + self._results if held else self._results
        # Share the batch when both kinds wait: outcomes alone could otherwise fill
        # every flush and starve receipts (whose buffer then stops the binds' readers).
        take_results = min(len(waiting), max(cap - len(self._inbound), cap // 2))
        # Positions from hold_from on may be held: none unless a flush is in flight, never the last cut's.
        n_held, hold_from, receipt_keys = len(held), len(waiting), set[Key]()
        if self._in_flight and self.db_up:
            hold_from = n_held
            receipt_keys = {(row.carrier, row.id_key) for _, row in self._inbound if type(row) is ReceiptRow}
        results: list[Result] = []
        kept_results: list[Result] = []
        hold: list[Result] = []  # held by this cut
        left_held: list[Result] = []  # held by the last cut, not taken: first in line next time
        keys: list[Key] = []  # built once here, for _flush_task's _busy
        for n, r in enumerate(waiting):
            if len(results) >= take_results:
                (left_held if n < n_held else kept_results).append(r)
                continue
            id_key = r.id_key
            if id_key is not None and (r.resolution is _ACCEPTED or r.resolution is _LATE_ACCEPT):
                key = (r.carrier or "", id_key)
                if busy and key in busy:
                    (left_held if n < n_held else kept_results).append(r)
                    continue
                if n >= hold_from and r.resolution is _ACCEPTED and not r.riders and key not in receipt_keys:
                    hold.append(r)
                    continue
                keys.append(key)
            results.append(r)
        inbound: list[tuple[Inbound, ReceiptRow | MoRow]] = []
        kept_inbound: list[tuple[Inbound, ReceiptRow | MoRow]] = []
        room = cap - len(results)
        for entry in self._inbound:
            if len(inbound) >= room:
                kept_inbound.append(entry)
                continue
            row = entry[1]
            if type(row) is ReceiptRow:
                key = (row.carrier, row.id_key)
                if busy and key in busy:
                    kept_inbound.append(entry)
                    continue
                keys.append(key)
            inbound.append(entry)
        self._results, self._inbound = kept_results, kept_inbound
        self._held = left_held + hold if left_held else hold
        if hold or n_held:
            self._claims.holding(len(hold))
        self._first_at = trio.current_time() if self.pending else None
        self._room.set()
        if not results and not inbound:
            return None
        return results, inbound, keys

    async def _flush_task(self, batch: Batch) -> bool:
        results, inbound, keys = batch
        self._busy.update(keys)
        self._in_flight += 1
        try:
            return await self._flush_rows(results, inbound)
        finally:
            busy = self._busy
            for key in keys:  # one pass (Counter.subtract, then dropping the zeros, was two)
                left = busy[key] - 1
                if left > 0:
                    busy[key] = left
                else:
                    busy.pop(key)  # dict's own (Counter's __delitem__ is a Python call)
            self._in_flight -= 1
            self._slots.release()
            self._progress.set()
            self._progress = trio.Event()
            self._more.set()  # rows held back by this flush may go now

    async def _flush_rows(self, results: list[Result], inbound: list[tuple[Inbound, ReceiptRow | MoRow]]) -> bool:
        receipts = [row for _, row in inbound if type(row) is ReceiptRow]
        mos = [row for _, row in inbound if type(row) is MoRow]
        started = trio.current_time()
        try:
            applied = await self._attempt(results, receipts, mos)
        except Exception as exc:
            # Unreachable database (db_errors()), or a batch PostgreSQL refused: in
            # both cases nothing was committed. Receipts / MO get 0x64 (the SMSC
            # sends them again), outcomes are retried; the daemon keeps running.
            if not isinstance(exc, db_errors()):
                log.error("writer flush refused", error=repr(exc), exc_info=True)
            elif self.db_up:
                log.warning("database unreachable; receipts answered ESME_RX_T_APPN", error=repr(exc))
            self.db_up = self._stats.db_up = False
            self._stats.writer_errors += 1
            for item, _ in inbound:
                item.ack(ESME_RX_T_APPN)
            self._stats.nacked_db_down += len(inbound)
            self._results[:0] = results  # outcomes are retried, never dropped
            if self._results and self._first_at is None:
                self._first_at = trio.current_time()
            return False
        elapsed = trio.current_time() - started
        self._stats.flush_rows.observe(len(results) + len(inbound))
        self._stats.flush_seconds.observe(elapsed)
        # A timeline of the writer at level "debug" (docs/operations.md "Benchmark").
        log.debug("flush committed", outcomes=len(results), receipts=len(receipts), mo=len(mos),
                  ms=round((trio.current_time() - started) * 1000, 1), in_flight=self._in_flight,
                  waiting=self.pending)  # fmt: skip
        if not self.db_up:
            log.info("database reachable again")
        self.db_up = self._stats.db_up = True
        for i, (item, _) in enumerate(inbound):
            if i % LOOP_SLICE == LOOP_SLICE - 1:
                await trio.lowlevel.checkpoint()  # thousands of acks: see LOOP_SLICE
            item.ack(ESME_ROK)
        self._stats.add_flush(applied)
        self.parked_watch.check()
        # A late response is no claim of ours in flight: its claim was resolved
        # when the submit ended Unknown.
        owners = [r.part.owner for r in results if r.resolution is not _LATE_ACCEPT]
        if owners:
            self._claims.resolved(owners)
        late_refs = self._late_refs
        if late_refs is not None:
            # Only now that the Unknown outcome is committed may a late response
            # change the part (an earlier one is ignored: the part is still submitting).
            for r in results:
                if r.late_ref is not None:
                    try:
                        late_refs.send_nowait(r)
                    except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                        self._stats.late_dropped += 1
        return True

    async def _attempt(
        self, results: list[Result], receipts: list[ReceiptRow], mos: list[MoRow]
    ) -> Applied:
        """One ``apply_flush``, in its own task, given up after ``db_timeout``.

        A black-holed connection does not fail, it hangs; and the rollback after a
        cancellation runs shielded (bridge.store.db), so it can hang as long. The
        writer must answer receipts (0x64) meanwhile, so it does not wait for that
        clean-up: the attempt is cancelled and left to finish on its own. If its
        COMMIT did get through after all, retrying the same rows is a no-op
        (every statement is guarded by the state it expects).
        """
        outcome: list[Applied | Exception] = []
        done = trio.Event()

        async def attempt() -> None:
            try:
                with scope:
                    if results or receipts or mos:
                        # Each statement of apply_flush commits on its own; it returns
                        # only once all of them did. A COMMIT that fails (connection
                        # reset, a deferred constraint) raises here, so its receipts
                        # are not acknowledged: the SMSC sends them again.
                        applied = await apply_flush(
                            self._db, results, receipts, mos,
                            webhooks=self._webhooks, default_url=self._default_url,
                        )  # fmt: skip
                        outcome.append(applied)
                    else:
                        await self._db.fetchval("SELECT 1")  # probing while the database is down
                        outcome.append(Applied())
            except Exception as exc:
                outcome.append(exc)
            finally:
                done.set()

        scope = trio.CancelScope()
        assert self._attempts is not None, "Writer.run is not running"
        self._attempts.start_soon(attempt)
        with trio.move_on_after(self.db_timeout):
            await done.wait()
        if not outcome:
            scope.cancel()
            raise trio.TooSlowError
        result = outcome[0]
        if isinstance(result, Exception):
            raise result
        return result
