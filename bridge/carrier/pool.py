"""A carrier: N bind slots sharing one token bucket and one submit path.

Slots. Each configured bind is a slot task that connects, binds, serves and, when
the bind ends, reconnects after a capped jittered backoff. The loop is
sequential, so a slot never has two live binds (gosmpp's duplicate-bind bug):
the next connect starts only after the previous session's nursery ended and its
stream was closed.

Modes. Each slot has its bind mode (config ``binds``, SMPP 3.4 section 2.2):
submits go only to tx and trx slots (``submit_slots``; a receiver may not submit,
section 2.2.2), and receipts and MO come in on rx and trx slots
(``receive_slots``), all of them the carrier's. Every window place handed out
(``_free_slot``, ``_take``) is on a tx or trx slot, so anything written through
the submit path (query_sm too) goes to a bind that may transmit.

Submit path. ``submit`` takes a window slot on a usable bind (at most ``window``
outstanding per bind), then a token from the throttle, then writes. With every
window full, submitters park in one FIFO queue and a freed slot is handed to the
first of them directly (no barging, no polling): that is the backpressure the
dispatcher sees. Nothing is buffered here: a part waits in its submitter's frame.

Outcomes and retries follow policy.py; a part that was written and not answered
is Unknown (the daemon decides), and a part that was never written raises
CarrierClosed during a stop (requeue it).

Faults. No exception from one bind ends the carrier: a bind whose tasks raise
is logged (error, with the traceback), counted in ``internal_errors`` and
closed, and its slot reconnects after the backoff like after any disconnect
(session.py handles what its peer's PDUs trigger; the slot loop is the net
under it). A dispatcher callback that raises from a retry task is logged and
counted, never raised into this nursery.
"""

from __future__ import annotations

import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import outcome
import structlog
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from bridge.carrier.backoff import Backoff, BackoffPolicy
from bridge.carrier.errors import BindLost, BindRefused, NotWritten, TimedOut
from bridge.carrier.policy import Action, RetryPolicy
from bridge.carrier.session import Session, SubmitResult
from bridge.carrier.throttle import Throttle
from bridge.carrier.types import (
    Accepted,
    BindHealth,
    CarrierHealth,
    Inbound,
    LateResponse,
    Rejected,
    SubmitOutcome,
    Unknown,
    UnknownReason,
)
from bridge.ops.counters import CarrierMetrics
from bridge.smpp.constants import CommandStatus, describe
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import GenericNack, Pdu, QuerySm, SubmitSm, SubmitSmResp
from config.schema import BindMode as ConfigBindMode
from config.schema import Carrier as CarrierConfig

log = structlog.get_logger("bridge.carrier")

Connect = Callable[[str, int], Awaitable[trio.abc.Stream]]
RECONNECT_BACKOFF = BackoffPolicy(base=1.0, factor=2.0, cap=60.0)


class _Retry:
    """_judge's answer when the part is to be submitted again after ``delay``;
    ``throttled`` is 1 when this answer was a throttling one (policy.py)."""

    __slots__ = ("delay", "throttled")

    def __init__(self, delay: float, throttled: int) -> None:
        self.delay = delay
        self.throttled = throttled


def _last_answer(session: Session | None) -> tuple[float | None, float | None]:
    """When the SMSC last answered this bind and the round trip: its last response
    (enquire_link included), else its bind_resp (no round trip)."""
    if session is None:
        return None, None
    last = session.last_answer()
    return (session.bound_at, None) if last is None else last


class CarrierClosed(Exception):
    """The carrier is stopping (or stopped) and the part was NOT written (or its
    last answer was a temporary refusal): requeue it."""


class _Slot:
    __slots__ = (
        "bind_failures",
        "binds",
        "connect_failures",
        "index",
        "mode",
        "reserved",
        "session",
        "started",
        "state",
    )

    def __init__(self, index: int, mode: ConfigBindMode) -> None:
        self.index = index
        self.mode = mode
        self.session: Session | None = None  # set while bound (a tx or trx one may submit)
        self.reserved = 0  # submits holding a window place on this slot
        self.state = "down"
        self.binds = 0
        self.bind_failures = 0
        self.connect_failures = 0
        self.started = False


class Carrier:
    """See the module docstring and docs/carrier.md."""

    def __init__(
        self,
        cfg: CarrierConfig,
        *,
        password: str,
        inbound: trio.MemorySendChannel[Inbound] | None,
        connect: Connect | None = None,
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        reconnect: BackoffPolicy = RECONNECT_BACKOFF,
        ssl_context: ssl.SSLContext | None = None,
        on_late: Callable[[LateResponse], None] | None = None,
        connect_timeout: float | None = None,
        slots: Sequence[int] | None = None,
        metrics: CarrierMetrics | None = None,
    ) -> None:
        """``slots``: the indices of the configured bind slots this pool runs (all by
        default; a daemon runs those whose lease it holds, bridge/dispatch/instances.py)."""
        self.cfg = cfg
        self.name = cfg.name
        self._password = password
        self._inbound = inbound
        self._connect = connect or self._open_stream
        self._rng = rng or random.Random()
        self.policy = policy or RetryPolicy.from_config(cfg)
        self.throttle = throttle or Throttle(cfg.tps)
        self._reconnect = reconnect
        self._ssl_context = ssl_context
        self._late_callback = on_late
        # TCP + TLS handshake (name lookup too); the carrier's config unless a test overrides it
        self._connect_timeout = cfg.connect_timeout.seconds if connect_timeout is None else connect_timeout
        self._serial = 0
        modes = cfg.slot_modes
        self._slots = [_Slot(i, modes[i]) for i in (range(len(modes)) if slots is None else slots)]
        # The slots a submit may take a window place on: tx and trx binds only.
        self._transmitters = [s for s in self._slots if s.mode.transmits]
        self._window = cfg.window
        self._can_submit = bool(self._transmitters)
        self._rr = 0
        self._waiters: deque[Task] = deque()  # submitters parked for a window place
        self._in_flight = 0  # window places taken, all slots
        self._drained = trio.Event()
        self._stopping = False
        self._stop_requested = trio.Event()  # wakes parts sleeping between retries
        self._stopped = trio.Event()
        self._cancel: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None  # run()'s: retries of submit_nowait
        self.log = log.bind(carrier=cfg.name)
        # counters (health, metrics)
        self.late_responses = 0
        self.unknown = 0
        self.throttled = 0
        self.internal_errors = 0  # exceptions caught at a bind or callback (logged, never raised)
        self.metrics = metrics if metrics is not None else CarrierMetrics()  # bridge/ops

    # --- status ------------------------------------------------------------------
    @property
    def up(self) -> bool:
        """At least one bind is bound, of any mode."""
        return any(s.session is not None and s.session.alive for s in self._slots)

    @property
    def submit_slots(self) -> tuple[int, ...]:
        """The slots whose binds may submit (tx, trx), bound or not."""
        return tuple(s.index for s in self._transmitters)

    @property
    def receive_slots(self) -> tuple[int, ...]:
        """The slots whose binds get deliver_sm, receipts and MO (rx, trx)."""
        return tuple(s.index for s in self._slots if s.mode.receives)

    @property
    def can_submit(self) -> bool:
        """A bind that may submit is bound now (the router fails over when False)."""
        return any(s.session is not None and s.session.usable for s in self._transmitters)

    def health(self) -> CarrierHealth:
        binds = []
        for slot in self._slots:
            session = slot.session
            last_at, last_rtt = _last_answer(session)
            binds.append(BindHealth(
                slot=slot.index,
                mode=slot.mode.value,
                state=session.conn.state.value if session is not None else slot.state,
                bound=session is not None and session.usable,
                enquire_link_rtt=session.enquire_link_rtt if session is not None else None,
                window_used=session.window_used if session is not None else 0,
                window_size=self._window,
                binds=slot.binds,
                bind_failures=slot.bind_failures,
                connect_failures=slot.connect_failures,
                last_response_at=last_at,
                last_response_rtt=last_rtt,
            ))
        return CarrierHealth(
            carrier=self.name, up=self.up, can_submit=self.can_submit, binds=tuple(binds),
            throttle_rate=self.throttle.rate, max_rate=self.throttle.max_rate,
            throttled=self.throttle.throttled, late_responses=self.late_responses,
            unknown=self.unknown, internal_errors=self.internal_errors + sum(
                s.session.internal_errors for s in self._slots if s.session is not None),
        )

    # --- running -----------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the binds up until stop(). Reports started once every slot's
        first bind attempt finished, bound or not."""
        pending = len(self._slots)
        first_done = trio.Event()

        def slot_started(slot: _Slot) -> None:
            nonlocal pending
            if not slot.started:
                slot.started = True
                pending -= 1
                if pending == 0:
                    first_done.set()

        try:
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope
                self._nursery = nursery
                for slot in self._slots:
                    nursery.start_soon(self._run_slot, slot, slot_started)
                await first_done.wait()
                task_status.started()
        finally:
            self._nursery = None
            self._stopping = True
            self._stop_requested.set()
            self._fail_waiters()
            self._stopped.set()

    async def _run_slot(self, slot: _Slot, started: Callable[[_Slot], None]) -> None:
        backoff = Backoff(self._reconnect, self._rng)
        slog = self.log.bind(slot=slot.index)
        cfg = self.cfg
        # One warning when the slot fails to come up (or back), the retries after it at
        # debug with their count; "bound" (info) and "bind_closed" (warning) mark the changes.
        streak = 0
        while not self._stopping:
            slot.state = "connecting"
            try:
                with trio.fail_after(self._connect_timeout):
                    stream = await self._connect(cfg.host, cfg.port)
            except (OSError, trio.TooSlowError, trio.BrokenResourceError) as exc:
                slot.connect_failures += 1
                (slog.debug if streak else slog.warning)("connect_failed", error=repr(exc),
                                                         failures=slot.connect_failures)
                streak += 1
            except Exception as exc:  # a fault, not the network: logged, and tried again
                slot.connect_failures += 1
                self.internal_errors += 1
                slog.error("connect_failed", error=repr(exc), failures=slot.connect_failures,
                           exc_info=exc)
            else:
                self._serial += 1
                session = Session(cfg, stream, password=self._password, inbound=self._inbound,
                                  on_late=self._on_late,
                                  on_orphan_done=lambda: self._orphan_done(slot),
                                  slot=slot.index, serial=self._serial, mode=slot.mode,
                                  metrics=self.metrics)
                try:
                    await session.run(on_bound=lambda s: self._on_bound(slot, s, started))
                except BindRefused as exc:
                    slot.bind_failures += 1
                    (slog.debug if streak else slog.warning)("bind_refused", status=describe(exc.status),
                                                             failures=slot.bind_failures)
                    streak += 1
                except BindLost as exc:
                    slot.bind_failures += 1
                    (slog.debug if streak else slog.warning)("bind_lost", reason=str(exc),
                                                             failures=slot.bind_failures)
                    streak += 1
                except Exception as exc:
                    # A task of this bind raised past session.py's own handling:
                    # the bind is over (its stream closed, its submits resolved),
                    # the carrier and the daemon go on, the slot reconnects.
                    self.internal_errors += 1
                    slog.error("bind_failed_internally", error=repr(exc), exc_info=exc)
                finally:
                    if slot.session is session:
                        slot.session = None
                    self.internal_errors += session.internal_errors
                if session.bound:
                    backoff.reset()
                    streak = 0
            slot.state = "down"
            started(slot)
            if self._stopping:
                break
            await trio.sleep(backoff.next())

    def _on_bound(self, slot: _Slot, session: Session,
                  started: Callable[[_Slot], None]) -> None:
        slot.binds += 1
        slot.state = "bound"
        slot.session = session
        if slot.mode.transmits:
            self._hand_out(slot)
        started(slot)  # a bound slot has finished its first attempt

    def _on_late(self, session: Session, pdu: Pdu) -> None:
        self.late_responses += 1
        ref = f"{session.serial}:{pdu.sequence_number}"
        session.limits.warning("late_response", ref=ref, status=pdu.command_status,
                               late_responses=self.late_responses)
        if self._late_callback is not None:
            message_id = getattr(pdu, "message_id", None) if pdu.command_status == 0 else None
            self._late_callback(LateResponse(carrier=self.name, ref=ref,
                                             status=pdu.command_status, message_id=message_id))

    def _orphan_done(self, slot: _Slot) -> None:
        # A cancelled submit's PDU was answered or timed out: its place in the
        # bind's window is free again.
        if self._waiters and not self._stopping:
            self._hand_out(slot)

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
            if session is not None and session.usable and self._has_room(slot, session):
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
            judged = self._judge(result, session, attempts, first_at, throttled)
            if not isinstance(judged, _Retry):
                return judged
            throttled += judged.throttled
            await self._back_off(judged.delay)

    def _judge(
        self, result: SubmitResult, session: Session, attempts: int, first_at: float, throttled: int = 0
    ) -> SubmitOutcome | _Retry:
        """The outcome of one write, or the delay before the next attempt.
        ``throttled``: throttling answers among the ``attempts`` before this one."""
        if type(result) is SubmitSmResp and result.command_status == 0:
            self.throttle.on_success()
            return Accepted(message_id=result.message_id or "", attempts=attempts)
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

    def submit_nowait(self, pdu: SubmitSm, done: Callable[[SubmitOutcome | None], None]) -> bool:
        """``submit`` without a task per PDU, when nothing has to wait (docs/carrier.md).

        True: the PDU was written (or does not encode) and ``done`` will be called
        exactly once with its outcome, from the bind's reader or, after a retryable
        error, from a task of this carrier that goes on as ``submit`` would; with
        None when the carrier stopped before a retry was written (requeue it).
        False: it would have to wait (no window place, a TPS token not due yet,
        submitters already waiting, stopping); nothing was written and ``done``
        is not called: use ``submit``.
        """
        nursery = self._nursery
        if not self._can_submit or self._stopping or self._waiters or nursery is None:
            return False
        slot = self._free_slot()
        if slot is None:
            return False
        throttle = self.throttle
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
            judged = self._judge(result, session, 1, now)
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

    # --- stopping ------------------------------------------------------------------
    async def stop(self, timeout: float, *, unbind_timeout: float = 2.0) -> None:  # noqa: ASYNC109 (contract)
        """No new submits; wait for the windows to drain until ``timeout``; unbind
        every bind under a shielded timeout (house rule 5); close."""
        self._stopping = True
        self._stop_requested.set()
        self._fail_waiters()
        with trio.move_on_after(timeout):
            if self._in_flight:
                await self._drained.wait()
        with trio.move_on_after(unbind_timeout, shield=True):
            async with trio.open_nursery() as nursery:
                for slot in self._slots:
                    if slot.session is not None:
                        nursery.start_soon(slot.session.unbind)
        if self._cancel is not None:
            self._cancel.cancel()
            await self._stopped.wait()

    # --- transport -------------------------------------------------------------------
    async def _open_stream(self, host: str, port: int) -> trio.abc.Stream:
        tcp = await trio.open_tcp_stream(host, port)  # trio sets TCP_NODELAY
        if not self.cfg.tls:
            return tcp
        context = self._ssl_context or self._default_ssl_context()
        stream = trio.SSLStream(tcp, context, server_hostname=host)
        try:
            await stream.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return stream

    def _default_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cfg.tls_ca_file)
        if not self.cfg.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
