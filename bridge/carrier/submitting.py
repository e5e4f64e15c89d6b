"""The submit path of a Carrier (pool.py): window places, tokens, writes, outcomes.

A mixin of ``Carrier``, kept apart because it is the per-message path and reads
on its own (pool.py keeps the binds: slots, their run loop, health, stop). It
uses the carrier's attributes declared below.

``submit`` takes a window place on a usable transmitting bind (at most
``window`` outstanding per bind), then a token from the throttle, then writes.
With every window full, submitters park in one FIFO queue and a freed place is
handed to the first of them directly (no barging, no polling): that is the
backpressure the dispatcher sees. Nothing is buffered here: a part waits in its
submitter's frame. ``submit_nowait`` is the same without a task when nothing
has to wait. Outcomes and retries follow policy.py; query_sm takes the same
places and tokens.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import outcome
import structlog
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from bridge.carrier.errors import CarrierClosed, NotWritten, TimedOut
from bridge.carrier.policy import Action, RetryPolicy
from bridge.carrier.session import Session
from bridge.carrier.session_loop import SubmitResult
from bridge.carrier.throttle import Throttle
from bridge.carrier.types import Accepted, Rejected, SubmitOutcome, Unknown, UnknownReason
from bridge.smpp.constants import CommandStatus, describe
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import GenericNack, Pdu, QuerySm, SubmitSm, SubmitSmResp

if TYPE_CHECKING:
    from bridge.carrier.pool import _Slot


class _Retry:
    """_judge's answer when the part is to be submitted again after ``delay``;
    ``throttled`` is 1 when this answer was a throttling one (policy.py)."""

    __slots__ = ("delay", "throttled")

    def __init__(self, delay: float, throttled: int) -> None:
        self.delay = delay
        self.throttled = throttled


class SubmitPath:
    """Mixin: the submit path of ``Carrier``."""

    # The carrier's attributes this mixin uses (set in Carrier.__init__).
    name: str
    policy: RetryPolicy
    throttle: Throttle
    unknown: int
    internal_errors: int
    log: structlog.stdlib.BoundLogger
    _rng: random.Random
    _transmitters: list[_Slot]
    _window: int
    _can_submit: bool
    _rr: int
    _waiters: deque[Task]
    _in_flight: int
    _drained: trio.Event
    _stopping: bool
    _stop_requested: trio.Event
    _nursery: trio.Nursery | None

    # --- window places -------------------------------------------------------------
    # A slot's places: ``reserved`` (submitters holding one) plus the session's
    # orphans_in_flight (written by a submitter that was cancelled; the PDU still
    # occupies the connection's window until answered or timed out).
    def _has_room(self, slot: _Slot, session: Session) -> bool:
        return slot.reserved + session.orphans_in_flight < self._window

    def _free_slot(self) -> _Slot | None:
        slots = self._transmitters
        n = len(slots)
        start = self._rr
        for k in range(n):
            slot = slots[(start + k) % n]
            session = slot.session
            # _has_room, inlined (once per part)
            if session is not None and session.usable and slot.reserved + session.orphans_in_flight < self._window:
                self._rr = (start + k + 1) % n
                slot.reserved += 1
                self._in_flight += 1
                return slot
        return None

    async def _take(self) -> _Slot:
        if self._stopping:
            raise CarrierClosed(self.name)
        if not self._waiters:
            slot = self._free_slot()
            if slot is not None:
                return slot
        task = current_task()
        self._waiters.append(task)

        def abort(_: Any) -> Abort:
            self._waiters.remove(task)
            return Abort.SUCCEEDED

        slot_: _Slot = await wait_task_rescheduled(abort)
        return slot_

    def _release(self, slot: _Slot) -> None:
        session = slot.session
        slot.reserved -= 1
        if (
            self._waiters
            and session is not None
            and session.usable
            and not self._stopping
            and self._has_room(slot, session)
        ):
            slot.reserved += 1
            reschedule(self._waiters.popleft(), outcome.Value(slot))  # hand the place over
            return
        self._in_flight -= 1
        if self._in_flight == 0 and self._stopping:
            self._drained.set()
        if self._waiters and not self._stopping:
            self._hand_out_any()

    def _hand_out(self, slot: _Slot) -> None:
        waiters = self._waiters
        session = slot.session
        if session is None or not session.usable:
            return
        while waiters and self._has_room(slot, session):
            slot.reserved += 1
            self._in_flight += 1
            reschedule(waiters.popleft(), outcome.Value(slot))

    def _hand_out_any(self) -> None:
        while self._waiters:
            slot = self._free_slot()
            if slot is None:
                return
            reschedule(self._waiters.popleft(), outcome.Value(slot))

    def _fail_waiters(self) -> None:
        waiters = self._waiters
        while waiters:
            reschedule(waiters.popleft(), outcome.Error(CarrierClosed(self.name)))

    # --- submit ------------------------------------------------------------------
    async def submit(self, pdu: SubmitSm) -> SubmitOutcome:
        """See docs/carrier.md. The body is kept across retries; each write gets a
        new sequence_number from its bind's connection."""
        if not self._can_submit:
            raise CarrierClosed(f"{self.name}: no bind here may submit (receiver only)")
        return await self._submit_from(pdu, 0, 0.0)

    async def _submit_from(
        self, pdu: SubmitSm, attempts: int, first_at: float, throttled: int = 0
    ) -> SubmitOutcome:
        """Submit until an outcome; ``throttled``: how many of ``attempts`` got a
        throttling answer (not counted toward max_attempts, policy.py)."""
        throttle = self.throttle
        while True:
            # Fast paths inlined (no coroutine per step when nothing has to wait):
            # a free place with nobody queued before us, a token due now.
            slot = None if self._waiters or self._stopping else self._free_slot()
            if slot is None:
                slot = await self._take()
            try:
                now = trio.current_time()
                due = throttle.reserve(now)
                if due > now:
                    now = await throttle.wait(due)
                session = slot.session
                if session is None:
                    throttle.give_back()  # nothing sent: the token is not spent
                    continue  # the bind went away while we waited for a token
                try:
                    result = await session.submit(pdu, now)
                except NotWritten:
                    throttle.give_back()
                    continue
                except LocalProtocolError as exc:  # does not encode: never will
                    return Rejected(status=int(exc.status), attempts=attempts + 1)
            finally:
                self._release(slot)
            if attempts == 0:
                first_at = now
            attempts += 1
            judged = self._judge(result, session, attempts, first_at, throttled, now)
            if not isinstance(judged, _Retry):
                return judged
            throttled += judged.throttled
            await self._back_off(judged.delay)

    def _judge(
        self, result: SubmitResult, session: Session, attempts: int, first_at: float, throttled: int,
        written_at: float,
    ) -> SubmitOutcome | _Retry:
        """The outcome of one write (made at ``written_at``), or the delay before the next
        attempt. ``throttled``: throttling answers among the ``attempts`` before this one."""
        if type(result) is SubmitSmResp and result.command_status == 0:
            self.throttle.on_success()
            return Accepted(message_id=result.message_id or "", attempts=attempts, written_at=written_at)
        if isinstance(result, UnknownReason):
            self.unknown += 1
            return Unknown(reason=result, attempts=attempts)
        if isinstance(result, TimedOut):
            self.unknown += 1
            return Unknown(reason=UnknownReason.TIMEOUT, attempts=attempts,
                           ref=f"{session.serial}:{result.sequence_number}")
        assert isinstance(result, Pdu)
        status = result.command_status
        if isinstance(result, GenericNack) and status == 0:
            status = CommandStatus.ESME_RSYSERR  # a nack that says OK is still a nack
        action = self.policy.classify(status)
        if action is Action.PERMANENT:
            return Rejected(status=status, attempts=attempts)
        now_throttled = action is Action.THROTTLE
        if now_throttled:
            self.throttle.on_throttled()
            throttled += 1
        elif action is Action.REBIND:
            session.request_rebind(describe(status))
        delay = self.policy.retry_delay(
            attempts, trio.current_time() - first_at, self._rng.random(), counted=attempts - throttled
        )
        if delay is None:
            return Rejected(status=status, attempts=attempts)
        return _Retry(float(delay), int(now_throttled))

    async def _back_off(self, delay: float) -> None:
        # The backoff ends early on stop(): the part is not in flight, so it
        # goes back to the daemon at once (CarrierClosed: requeue) rather than
        # holding the drain for up to the backoff cap and being cut off there,
        # which would leave it `submitting` for the next start's recovery.
        if self._stopping:
            raise CarrierClosed(self.name)
        with trio.move_on_after(delay):
            await self._stop_requested.wait()
        if self._stopping:
            raise CarrierClosed(self.name)

    def submit_nowait(
        self, pdu: SubmitSm, done: Callable[[SubmitOutcome | None], None], now: float | None = None
    ) -> bool:
        """``submit`` without a task per PDU, when nothing has to wait (docs/carrier.md).

        True: the PDU was written (or does not encode) and ``done`` will be called
        exactly once with its outcome, from the bind's reader or, after a retryable
        error, from a task of this carrier that goes on as ``submit`` would; with
        None when the carrier stopped before a retry was written (requeue it).
        False: it would have to wait (no window place, a TPS token not due yet,
        submitters already waiting, stopping); nothing was written and ``done``
        is not called: use ``submit``. ``now``: the caller's clock reading, if it has one.
        """
        nursery = self._nursery
        if not self._can_submit or self._stopping or self._waiters or nursery is None:
            return False
        slot = self._free_slot()
        if slot is None:
            return False
        throttle = self.throttle
        if now is None:
            now = trio.current_time()
        session = slot.session
        if session is None:  # _free_slot picks bound slots only; kept for the type
            self._release(slot)
            return False
        if throttle.reserve(now) > now:
            throttle.give_back()
            self._release(slot)
            return False

        def answered(result: SubmitResult) -> None:
            self._release(slot)
            if type(result) is SubmitSmResp and result.command_status == 0:  # _judge's first case, inlined
                throttle.on_success()
                done(Accepted(message_id=result.message_id or "", attempts=1, written_at=now))
                return
            judged = self._judge(result, session, 1, now, 0, now)
            if isinstance(judged, _Retry):
                nursery.start_soon(self._retry, pdu, done, judged.delay, now, judged.throttled)
            else:
                done(judged)

        try:
            session.submit_nowait(pdu, now, answered)
        except NotWritten:
            throttle.give_back()
            self._release(slot)
            return False
        except LocalProtocolError as exc:  # does not encode: never will
            self._release(slot)
            done(Rejected(status=int(exc.status), attempts=1))
        return True

    # --- query_sm --------------------------------------------------------------------
    def can_query(self) -> bool:
        """Whether query_sm may go at all: SMPP 3.4 section 2.3, only a bind that can
        transmit (tx, trx) sends it. The slots ``submit`` uses are those binds."""
        return self._can_submit

    async def query(self, pdu: QuerySm) -> SubmitResult:
        """One query_sm (SMPP 3.4 section 4.8.1), written once, never retried here.

        It takes a window place on a transmit-capable bind and a token from the
        carrier's TPS bucket, as a submit does: queries and submits together never
        go faster than ``tps``. Returns the query_sm_resp (or generic_nack),
        UnknownReason.DISCONNECTED or TimedOut; raises CarrierClosed when the
        carrier cannot take it (stopping, receiver binds only).
        """
        if not self.can_query():
            raise CarrierClosed(f"{self.name} binds as receiver only")
        throttle = self.throttle
        while True:
            slot = None if self._waiters or self._stopping else self._free_slot()
            if slot is None:
                slot = await self._take()
            try:
                now = trio.current_time()
                due = throttle.reserve(now)
                if due > now:
                    now = await throttle.wait(due)
                session = slot.session
                if session is None:
                    throttle.give_back()
                    continue
                try:
                    result = await session.submit(pdu, now)
                except NotWritten:
                    throttle.give_back()
                    continue
            finally:
                self._release(slot)
            if isinstance(result, Pdu) and self.policy.classify(result.command_status) is Action.THROTTLE:
                throttle.on_throttled()  # one budget: a throttled query slows the submits too
            return result

    async def _retry(
        self, pdu: SubmitSm, done: Callable[[SubmitOutcome | None], None], delay: float, first_at: float,
        throttled: int = 0,
    ) -> None:
        """A submit_nowait whose first write got a retryable error: the rest of ``submit``."""
        try:
            await self._back_off(delay)
            result = await self._submit_from(pdu, 1, first_at, throttled)
        except CarrierClosed:
            self._done(done, None)
        except BaseException:
            # Cancelled with the carrier (or a fault): written once already, so
            # whether the SMSC has it is not known.
            self._done(done, Unknown(reason=UnknownReason.DISCONNECTED, attempts=1))
            raise
        else:
            self._done(done, result)

    def _done(self, done: Callable[[SubmitOutcome | None], None], result: SubmitOutcome | None) -> None:
        try:
            done(result)
        except Exception as exc:  # the dispatcher's fault: logged, never raised into run()
            self.internal_errors += 1
            self.log.error("submit callback failed", error=repr(exc), exc_info=exc)
