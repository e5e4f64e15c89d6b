"""The tasks of one bind (session.py) and the connection events they handle.

A mixin of ``Session``, kept apart from the bind's interface and life cycle
(session.py: submit, ack, rebind, unbind, run, the bind handshake, the end):
this is the loop that moves bytes and turns the sans-I/O connection's events
into answers for the waiting submitters. It uses the session's attributes
declared below.

- the reader feeds ``receive_some`` into ``conn.receive_data`` and handles events;
- ONE writer sends ``conn.data_to_send()``: every PDU queued since its last send
  goes out in one ``send_all`` (docs/design.md "Performance rules": one send per PDU caps a
  bind near 38k PDUs/s, coalescing goes far past that);
- the timer calls ``conn.tick`` at ``conn.next_deadline()`` (response timeouts,
  and the connection's enquire_link when the link was idle).

Nothing the peer sends ends more than this bind: a fault while handling its PDUs
is the bind's incident (``_guarded``, ``Session._incident``).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import structlog
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from bridge.carrier.errors import TimedOut
from bridge.carrier.types import Inbound, UnknownReason
from bridge.logs import LogLimiter
from bridge.ops.counters import CarrierMetrics
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId, CommandStatus
from bridge.smpp.errors import RemoteProtocolError
from bridge.smpp.events import (
    NEED_DATA,
    BindFailed,
    Bound,
    CloseReason,
    ConnectionClosed,
    MalformedResponse,
    PduReceived,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseTimeout,
    UnexpectedReason,
    UnexpectedResponse,
    WindowResumed,
    WindowSuspended,
)
from bridge.smpp.pdus import DataSm, DataSmResp, DeliverSm, DeliverSmResp, Pdu
from bridge.smpp.state import State
from config.schema import Carrier as CarrierConfig

_RECEIVE_SIZE = 256 * 1024  # a full window of 512 resps is ~15 KiB; deliver_sm bursts more
_CLOSED_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
_BOUND_STATES = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
_SUBMIT_SM = int(CommandId.SUBMIT_SM)

#: What a windowed request comes to: its response (or generic_nack), the bind
#: closing with it outstanding, or no response within response_timeout.
SubmitResult = Pdu | UnknownReason | TimedOut


def error_fields(error: RemoteProtocolError) -> dict[str, Any]:
    """The peer's error and the offending header's fields, as far as known (for the log)."""
    fields: dict[str, Any] = {"error": str(error), "answered_status": f"0x{int(error.status):08X}"}
    if error.command_length is not None:
        fields["command_length"] = error.command_length
    if error.command_id is not None:
        fields["command_id"] = f"0x{error.command_id:08X}"
    if error.command_status is not None:
        fields["command_status"] = f"0x{error.command_status:08X}"
    if error.sequence_number is not None:
        fields["sequence_number"] = error.sequence_number
    return fields


class SessionLoop:
    """Mixin: the reader, writer and timer tasks of ``Session`` and its event handlers."""

    # The session's attributes this mixin uses (set in Session.__init__).
    cfg: CarrierConfig
    conn: Connection
    stream: trio.abc.Stream
    log: structlog.stdlib.BoundLogger
    limits: LogLimiter
    metrics: CarrierMetrics
    bound: bool
    usable: bool
    close_reason: str | None
    last_response: ResponseReceived | None
    orphans: int
    protocol_errors: int
    _rt: float
    _inbound: trio.MemorySendChannel[Inbound] | None
    _on_late: Callable[[Any, Pdu], None] | None
    _on_orphan_done: Callable[[], None] | None
    _waiters: dict[int, Task | Callable[[SubmitResult], None]]
    _orphaned: set[int]
    _writer_parked: Task | None
    _timer_scope: trio.CancelScope
    _timer_due: float  # _timer_scope's deadline
    _closed: trio.Event
    _writer_done: trio.Event
    _bind_result: Bound | BindFailed | None
    _bind_waiter: trio.Event
    _suspended: bool

    def _answer(self, waiter: Task | Callable[[SubmitResult], None], result: SubmitResult) -> None:
        raise NotImplementedError  # Session's

    def ack(self, seq: int, response: type[DeliverSmResp | DataSmResp], status: int) -> None:
        raise NotImplementedError  # Session's

    def _incident(self, where: str, exc: Exception) -> None:
        raise NotImplementedError  # Session's

    def _finish(self, reason: str, error: RemoteProtocolError | None = None) -> None:
        raise NotImplementedError  # Session's

    async def _guarded(self, task: Callable[[], Awaitable[None]], where: str) -> None:
        # What the peer sends is handled in these tasks: a fault there is this
        # bind's incident, not an exception into the carrier's nursery.
        try:
            await task()
        except Exception as exc:
            self._incident(where, exc)

    async def _reader(self) -> None:
        conn = self.conn
        receive = self.stream.receive_some
        while conn.state is not State.CLOSED:
            try:
                data = await receive(_RECEIVE_SIZE)
            except _CLOSED_ERRORS:
                data = b""
            now = trio.current_time()
            conn.receive_data(data, now=now)  # type: ignore[arg-type]  # bytearray works too
            await self._handle_events()
            if not data:
                break
            deadline = conn.next_deadline()  # a frame begun and not finished has one
            if deadline is not None:
                self._set_timer(deadline)
        self._finish(self.close_reason or "peer closed")

    async def _writer(self) -> None:
        conn = self.conn
        send_all = self.stream.send_all
        try:
            while True:
                data = conn.data_to_send()
                if data:
                    # Not shielded: a cancel here only comes with the session's end,
                    # and the stream is closed right after, so a half-written PDU
                    # never reaches a peer that would read it as a frame.
                    await send_all(data)
                    continue
                if self._closed.is_set():
                    return
                self._writer_parked = current_task()
                await wait_task_rescheduled(self._abort_writer)
                # One more scheduling round: tasks woken in the same batch as us
                # (a window's worth of submitters) queue their PDUs first.
                await trio.lowlevel.cancel_shielded_checkpoint()
        except _CLOSED_ERRORS as exc:
            self._finish(f"write failed: {exc!r}")
        finally:
            self._writer_done.set()

    def _abort_writer(self, _: Any) -> Abort:
        self._writer_parked = None
        return Abort.SUCCEEDED

    async def _timer(self) -> None:
        conn = self.conn
        while True:
            with self._timer_scope:
                await trio.sleep_forever()
            now = trio.current_time()
            self._timer_scope = trio.CancelScope()
            self._timer_due = math.inf
            conn.tick(now)
            await self._handle_events()
            deadline = conn.next_deadline()
            self._set_timer(math.inf if deadline is None else deadline)

    def _set_timer(self, when: float) -> None:
        if when < self._timer_due:
            self._timer_scope.deadline = self._timer_due = when

    # --- events ------------------------------------------------------------------
    async def _handle_events(self) -> None:
        next_event = self.conn.next_event
        waiters = self._waiters
        metrics = self.metrics
        resp = metrics.resp
        while True:
            event = next_event()
            kind = type(event)
            if kind is ResponseReceived:
                assert isinstance(event, ResponseReceived)
                pdu = event.pdu
                self.last_response = event
                if event.request_command_id == _SUBMIT_SM and pdu.command_status == 0:
                    # CarrierMetrics.on_response's common case, inlined (once per message)
                    metrics.last_sent_at = event.sent_at
                    rtt = event.rtt
                    resp.counts[bisect_left(resp.bounds, rtt)] += 1
                    resp.sum += rtt
                    metrics.submit_ok += 1
                else:
                    metrics.on_response(event.request_command_id, pdu.command_status, event.sent_at, event.rtt)
                waiter = waiters.pop(pdu.sequence_number, None)
                if waiter is not None:
                    # Session._answer, inlined (one call less per response)
                    if type(waiter) is Task:
                        reschedule(waiter, outcome.Value(pdu))
                    else:
                        try:
                            waiter(pdu)  # a submit_nowait callback
                        except Exception as exc:
                            self._incident("submit callback", exc)
                elif event.request_command_id != CommandId.UNBIND:
                    self.orphans += 1
                    self._orphan_done(pdu.sequence_number)
            elif event is NEED_DATA:
                break
            elif kind is PduReceived:
                assert isinstance(event, PduReceived)
                waiting = self._on_request(event.pdu)
                if waiting is not None:  # the inbound channel is full
                    await self._send_inbound(waiting)
            elif kind is ResponseTimeout:
                assert isinstance(event, ResponseTimeout)
                self._on_timeout(event)
            elif kind is UnexpectedResponse:
                assert isinstance(event, UnexpectedResponse)
                if event.reason is UnexpectedReason.LATE and self._on_late is not None:
                    try:
                        self._on_late(self, event.pdu)
                    except Exception as exc:
                        self._incident("late response callback", exc)
                else:
                    pdu = event.pdu
                    self.limits.warning("unexpected_response", reason=event.reason.value,
                                        command_id=f"0x{pdu.command_id:08X}",
                                        command_status=f"0x{pdu.command_status:08X}",
                                        sequence_number=pdu.sequence_number)
            elif kind is Bound or kind is BindFailed:
                assert isinstance(event, Bound | BindFailed)
                self._bind_result = event
                self._bind_waiter.set()
            elif kind is ProtocolErrorAnswered:
                assert isinstance(event, ProtocolErrorAnswered)
                self.protocol_errors += 1
                answered = event.answered_with
                self.limits.warning("protocol_error", **error_fields(event.error),
                                    answered_with=None if answered is None else f"0x{answered:08X}")
            elif kind is MalformedResponse:
                assert isinstance(event, MalformedResponse)
                self._on_malformed(event)
            elif kind is WindowSuspended or kind is WindowResumed:
                self._on_window(event)
            elif kind is ConnectionClosed:
                assert isinstance(event, ConnectionClosed)
                if event.reason is CloseReason.LINK_LOST:
                    self.log.warning("link_lost", after=self._rt)
                self._finish(event.reason.value, event.error)
        self._wake_writer()

    def _on_request(self, pdu: Pdu) -> Inbound | None:
        """Hand a deliver_sm / data_sm on; the item when the channel is full (the
        reader then waits: ``_send_inbound``). A plain call, not a coroutine: one
        of these per receipt."""
        kind = type(pdu)
        if kind is DeliverSm or kind is DataSm:
            assert isinstance(pdu, DeliverSm | DataSm)
            response = DeliverSmResp if kind is DeliverSm else DataSmResp
            if self._inbound is None:  # nobody takes them: make the SMSC retry later
                self.ack(pdu.sequence_number, response, CommandStatus.ESME_RX_T_APPN)
                return None
            item = Inbound(carrier=self.cfg.name, pdu=pdu, ack=functools.partial(self.ack, pdu.sequence_number, response))
            try:
                # send_nowait first: `await send` is a scheduling round per
                # receipt, which would cap the reader at one PDU per round.
                self._inbound.send_nowait(item)
            except trio.WouldBlock:
                return item
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                item.ack(CommandStatus.ESME_RX_T_APPN)  # nobody listens: SMSC, try later
        else:  # outbind, alert_notification: nothing to answer (section 4.1.7, 4.12)
            self.limits.info("request_ignored", command_id=f"0x{pdu.command_id:08X}")
        return None

    async def _send_inbound(self, item: Inbound) -> None:
        # Bounded channel: when the daemon is behind, this reader waits, and so
        # does the SMSC (backpressure, docs/design.md "Performance rules").
        # The channel may close while we wait: same answer as a closed one.
        assert self._inbound is not None
        try:
            await self._inbound.send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            item.ack(CommandStatus.ESME_RX_T_APPN)

    def _on_timeout(self, event: ResponseTimeout) -> None:
        seq = event.sequence_number
        waiter = self._waiters.pop(seq, None)
        if waiter is not None:
            # Its outcome is unknown now (the pool says Unknown(TIMEOUT)).
            self.limits.warning("response_timeout", sequence_number=seq, after=self._rt)
            self._answer(waiter, TimedOut(seq))
        else:
            self._orphan_done(seq)

    def _on_malformed(self, event: MalformedResponse) -> None:
        # The SMSC answered this submit, but we cannot read how: unknown outcome, now.
        self.protocol_errors += 1
        seq = event.sequence_number
        self.log.warning("malformed_response", sequence_number=seq, error=str(event.error))
        waiter = self._waiters.pop(seq, None)
        if waiter is not None:
            self._answer(waiter, UnknownReason.MALFORMED)
        else:
            self._orphan_done(seq)

    def _on_window(self, event: object) -> None:
        if isinstance(event, WindowSuspended):
            # Suspended before the timed-out submits' callers run: none of them (nor
            # the pool's waiters) can write on this bind until the probe is answered.
            self._suspended = True
            self.usable = False
            self.log.warning("window_suspended", timeouts=event.timeouts)
            return
        if not self._suspended:
            return
        self._suspended = False
        if self.bound and not self._closed.is_set() and self.conn.state in _BOUND_STATES:
            self.usable = True
            self.log.info("window_resumed")
            if self._on_orphan_done is not None:
                self._on_orphan_done()  # the pool hands this bind's places out again

    def _orphan_done(self, seq: int) -> None:
        if seq in self._orphaned:
            self._orphaned.discard(seq)
            if self._on_orphan_done is not None:
                self._on_orphan_done()

    def _wake_writer(self) -> None:
        writer = self._writer_parked
        if writer is not None:
            self._writer_parked = None
            reschedule(writer)
