"""One bind: a trio task group driving a sans-I/O :class:`Connection` over a stream.

Its tasks, a reader, ONE writer (coalescing every PDU queued since its last
send) and a timer, all in the nursery of :meth:`Session.run`, which lives
exactly as long as the bind (docs/design.md house rule 5), are in session_loop.py
with the handling of the connection's events.

The per-message path is: ``conn.send`` (one encode, one dict insert in the
connection's window), one dict insert here (sequence_number -> parked task), and
the task parks with ``wait_task_rescheduled``; the reader reschedules it with the
response. No Event object, no per-message task.

enquire_link is the connection's (SMPP 3.4 section 4.11, docs/smpp-connection.md
"Liveness"): sent when no whole PDU arrived for the interval; unanswered within
response_timeout with nothing else from the peer meanwhile, the connection closes
with LINK_LOST and so does the bind. Its round trip (``conn.enquire_link_rtt``)
goes into the health snapshot. When the connection suspends the window
(``max_consecutive_timeouts`` submits unanswered in a row) the bind takes no
submit (``usable`` False, the pool waits or goes elsewhere) until the
connection's probe is answered; an unanswered probe closes the bind.

Nothing the peer sends ends more than this bind. An exception while handling
its PDUs (in a callback of the pool or the dispatcher, or a fault here) is an
incident of this bind: logged once with its traceback, counted
(``internal_errors``), and the bind closes like any disconnect (in-flight
submits end ``Unknown(DISCONNECTED)``); the pool binds the slot again after its
backoff. Every close of a bound session is logged at warning with its cause and
the number of submits it left in flight (info only for our own unbind at stop).
Lines a peer can trigger at will go through a per-bind ``LogLimiter``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import outcome
import structlog
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from bridge.carrier.errors import BindLost, BindRefused, NotWritten
from bridge.carrier.session_loop import SessionLoop, SubmitResult, error_fields
from bridge.carrier.types import Inbound, UnknownReason
from bridge.logs import LogLimiter
from bridge.ops.counters import CarrierMetrics
from bridge.smpp.connection import Connection
from bridge.smpp.errors import LocalProtocolError, RemoteProtocolError
from bridge.smpp.events import (
    BindFailed,
    Bound,
    ResponseReceived,
)
from bridge.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSmResp,
    DeliverSmResp,
    Pdu,
    Unbind,
)
from bridge.smpp.state import Role, State
from config.schema import BindMode as ConfigBindMode
from config.schema import Carrier as CarrierConfig

log = structlog.get_logger("bridge.carrier")


_BIND_PDUS: dict[ConfigBindMode, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    ConfigBindMode.TX: BindTransmitter,
    ConfigBindMode.RX: BindReceiver,
    ConfigBindMode.TRX: BindTransceiver,
}


class Session(SessionLoop):
    """One bind. ``await run(on_bound=...)`` binds, serves, and returns when the
    bind is over (raising BindRefused / BindLost if it never got bound)."""

    def __init__(
        self,
        cfg: CarrierConfig,
        stream: trio.abc.Stream,
        *,
        password: str,
        inbound: trio.MemorySendChannel[Inbound] | None,
        on_late: Callable[[Session, Pdu], None] | None = None,
        on_orphan_done: Callable[[], None] | None = None,
        slot: int = 0,
        serial: int = 0,
        mode: ConfigBindMode | None = None,
        metrics: CarrierMetrics | None = None,
    ) -> None:
        self.cfg = cfg
        self.metrics = metrics if metrics is not None else CarrierMetrics()
        # SMPP 3.4 section 2.2: this bind's mode (the pool gives each slot its own).
        self.mode = mode if mode is not None else cfg.slot_modes[0]
        self.stream = stream
        self._password = password
        self._inbound = inbound
        self._on_late = on_late
        self._on_orphan_done = on_orphan_done
        self.serial = serial  # unique per carrier: late responses are keyed by it
        self.log = log.bind(carrier=cfg.name, slot=slot)
        # Lines a peer can trigger with every PDU it sends (SMSC floods happen).
        self.limits = LogLimiter(self.log, clock=trio.current_time)
        self.conn = Connection(
            Role.ESME,
            window=cfg.window,
            response_timeout=cfg.response_timeout.seconds,
            enquire_link_interval=cfg.enquire_link_interval.seconds or None,
            max_frame_length=cfg.max_pdu_size,
            frame_timeout=cfg.frame_timeout.seconds or None,
            max_consecutive_timeouts=cfg.max_consecutive_timeouts or cfg.window,
        )
        self._rt = cfg.response_timeout.seconds
        # Outstanding requests: the submitter task waiting for each, or the callback
        # of a submit_nowait (pool.py), by sequence_number.
        self._waiters: dict[int, Task | Callable[[SubmitResult], None]] = {}
        self._writer_parked: Task | None = None
        self._timer_scope = trio.CancelScope()
        self._timer_due = math.inf  # _timer_scope.deadline, kept here: a property read per submit
        self._closed = trio.Event()
        self._writer_done = trio.Event()
        self._bind_result: Bound | BindFailed | None = None
        self._bind_waiter = trio.Event()
        self._suspended = False  # the connection's window is suspended (WindowSuspended)
        self.bound = False
        self.usable = False  # bound, may submit, not leaving
        self.close_reason: str | None = None
        # The last response the SMSC sent us to a request the caller made; with the
        # connection's enquire_link answers: the bind's last heartbeat (last_answer).
        self.last_response: ResponseReceived | None = None
        self.bound_at: float | None = None
        self.orphans = 0  # responses whose submit was cancelled meanwhile
        # Written submits whose caller was cancelled before the answer: they still
        # hold a place in the connection's window until answered or timed out, so
        # the pool counts them (or its next submit would overrun the window).
        self._orphaned: set[int] = set()
        self.protocol_errors = 0
        self.internal_errors = 0  # exceptions handling this bind's PDUs (the first one closes it)
        self._leaving: str | None = None  # why we sent unbind: "stop" or "rebind: ..."

    # --- public ------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """Bound and not closed (may be unbinding)."""
        return self.bound and not self._closed.is_set()

    @property
    def window_used(self) -> int:
        return self.conn.window_used

    @property
    def enquire_link_rtt(self) -> float | None:
        """Seconds, the round trip of the connection's latest answered enquire_link."""
        return self.conn.enquire_link_rtt

    def last_answer(self) -> tuple[float, float] | None:
        """(when, round trip) of the SMSC's latest response to any request of ours,
        enquire_link included: the bind's last heartbeat (bridge/ops)."""
        last = self.last_response
        answer = None if last is None else (last.sent_at + last.rtt, last.rtt)
        at, rtt = self.conn.enquire_link_answered_at, self.conn.enquire_link_rtt
        if at is not None and rtt is not None and (answer is None or at > answer[0]):
            answer = (at, rtt)
        return answer

    @property
    def orphans_in_flight(self) -> int:
        """Window places held by written submits whose caller was cancelled."""
        return len(self._orphaned)

    async def submit(self, pdu: Pdu, now: float) -> SubmitResult:
        """Write one windowed request. Returns its response PDU (or generic_nack),
        UnknownReason.DISCONNECTED, or TimedOut. Raises NotWritten when this bind
        cannot take it (the caller may go elsewhere) and LocalProtocolError when
        the PDU does not encode. The window is the caller's business (pool.py)."""
        seq = self._write(pdu, now)
        task = current_task()
        self._waiters[seq] = task

        def abort(_: Any) -> Abort:
            # Cancelled: the PDU stays in flight; its response will be an orphan,
            # and its window place stays taken until then (orphans_in_flight).
            if self._waiters.pop(seq, None) is not None and not self._closed.is_set():
                self._orphaned.add(seq)
            return Abort.SUCCEEDED

        result: SubmitResult = await wait_task_rescheduled(abort)
        return result

    def submit_nowait(self, pdu: Pdu, now: float, on_result: Callable[[SubmitResult], None]) -> None:
        """As ``submit``, without a task waiting: ``on_result`` gets what ``submit``
        would return, once, from this bind's reader (response, timeout) or its
        close (UnknownReason.DISCONNECTED). Raises as ``submit`` does."""
        self._waiters[self._write(pdu, now)] = on_result

    def _write(self, pdu: Pdu, now: float) -> int:
        if not self.usable:
            raise NotWritten("window suspended" if self._suspended
                             else self.close_reason or "not bound")
        seq = self.conn.send(pdu, now=now)
        writer = self._writer_parked
        if writer is not None:
            self._writer_parked = None
            reschedule(writer)
        deadline = now + self._rt
        if deadline < self._timer_due:  # only when the window was idle
            self._timer_scope.deadline = self._timer_due = deadline
        return seq

    def _answer(self, waiter: Task | Callable[[SubmitResult], None], result: SubmitResult) -> None:
        if type(waiter) is Task:
            reschedule(waiter, outcome.Value(result))
            return
        try:
            waiter(result)
        except Exception as exc:
            self._incident("submit callback", exc)

    def ack(self, seq: int, response: type[DeliverSmResp | DataSmResp], status: int) -> None:
        """Queue the *_resp to an inbound deliver_sm/data_sm; a no-op once gone."""
        if self._closed.is_set():
            return
        conn = self.conn
        try:
            # message_id NULL (SMPP 3.4 sections 4.6.2, 4.7.2): 17 octets, error or not;
            # written without a PDU object when nothing but the octets is at stake.
            if not conn.send_null_id_response(response.command_id, seq, status):
                if conn.state is State.CLOSED:
                    return
                conn.send(response(sequence_number=seq, command_status=status, message_id=""),
                          now=trio.current_time())
        except LocalProtocolError as exc:
            self.limits.warning("ack_refused", error=str(exc))
            return
        writer = self._writer_parked  # _wake_writer, inlined (one ack per receipt)
        if writer is not None:
            self._writer_parked = None
            reschedule(writer)

    def request_rebind(self, why: str) -> None:
        """Leave this bind (ESME_RINVBNDSTS: the SMSC thinks we are unbound): the
        pool binds the slot again. Outstanding submits end as disconnected."""
        if not self.usable:
            return
        self.usable = False
        self._leaving = f"rebind: {why}"
        self.log.warning("rebind", reason=why)
        try:
            self.conn.send(Unbind(), now=trio.current_time())
        except LocalProtocolError:
            self._finish("rebind")
            return
        self._wake_writer()

    async def unbind(self) -> None:
        """SMPP 3.4 section 4.2: send unbind and wait for the session to end.
        The caller bounds the wait (a shielded move_on_after, house rule 5)."""
        self.usable = False
        self._leaving = self._leaving or "stop"
        if self.conn.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX):
            self.conn.send(Unbind(), now=trio.current_time())
            self._wake_writer()
        elif self.conn.state is not State.UNBINDING:
            self._finish("closed")
        await self._closed.wait()

    # --- the task group ----------------------------------------------------------
    async def run(self, *, on_bound: Callable[[Session], None]) -> None:
        bind_error: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._guarded, self._reader, "reader")
                nursery.start_soon(self._writer)
                nursery.start_soon(self._guarded, self._timer, "timer")
                bind_error = await self._bind()
                if bind_error is None:
                    self.bound = self.usable = True
                    self.bound_at = trio.current_time()  # the bind_resp: the SMSC's first answer
                    on_bound(self)
                await self._closed.wait()
                self.usable = False
                # Let the writer flush what the close queued (an unbind_resp).
                with trio.move_on_after(1.0):
                    await self._writer_done.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.usable = False
            self._closed.set()
            self._resolve_all(UnknownReason.DISCONNECTED)
            await trio.aclose_forcefully(self.stream)
        if bind_error is not None:
            raise bind_error

    async def _bind(self) -> Exception | None:
        cfg = self.cfg
        bind = _BIND_PDUS[self.mode](
            system_id=cfg.system_id,
            password=self._password,
            system_type=cfg.system_type,
            interface_version=cfg.interface_version,
            address_range=cfg.address_range,
        )
        try:
            self.conn.send(bind, now=trio.current_time())
        except LocalProtocolError:
            # A credential the config check let through that does not encode (a
            # password outside Latin-1): a failed bind, logged and retried with
            # backoff, not an exception that ends the carrier. The error text is
            # not kept: it may quote the password.
            self._finish("bind does not encode")
            return BindLost("bind_* does not encode: check system_id, password,"
                            " system_type and address_range (SMPP 3.4 section 4.1.1)")
        self._set_timer(trio.current_time() + self._rt)
        self._wake_writer()
        await self._bind_waiter.wait()
        result = self._bind_result
        if isinstance(result, Bound):
            self.log.info("bound", mode=result.mode.value, smsc=result.system_id)
            self._set_timer(trio.current_time())
            return None
        self._finish("bind failed")
        if isinstance(result, BindFailed):
            return BindRefused(result.status)
        return BindLost(self.close_reason or "closed before the bind_resp")

    # --- ending ------------------------------------------------------------------
    def _incident(self, where: str, exc: Exception) -> None:
        """An exception while handling what the peer sent: the end of this bind,
        never of the carrier or the daemon. Logged with its traceback once per
        bind, counted; the pool binds the slot again after its backoff."""
        self.internal_errors += 1
        if self.internal_errors == 1:
            self.log.error("bind_internal_error", where=where, error=repr(exc), exc_info=exc)
        self._finish(f"internal error in {where}: {type(exc).__name__}")

    def _finish(self, reason: str, error: RemoteProtocolError | None = None) -> None:
        if self._closed.is_set():
            return
        in_flight = len(self._waiters) + len(self._orphaned)  # written, unanswered, now unknown
        self.close_reason = reason
        self.usable = False
        self._closed.set()
        self._bind_waiter.set()
        if self.bound:
            fields = {} if error is None else error_fields(error)
            if self._leaving is not None:
                fields["leaving"] = self._leaving
            # Our own unbind at stop is no loss; anything else is (a peer's
            # unbind, EOF, a protocol error, a lost link, a rebind, a fault).
            stop = self._leaving == "stop" and reason in ("unbound", "closed")
            (self.log.info if stop else self.log.warning)(
                "bind_closed", reason=reason, in_flight=in_flight, **fields)
        self.limits.flush()
        self._resolve_all(UnknownReason.DISCONNECTED)
        self._wake_writer()

    def _resolve_all(self, reason: UnknownReason) -> None:
        # Cleared in place: a reader suspended in _handle_events holds this dict.
        waiters = list(self._waiters.values())
        self._waiters.clear()
        self._orphaned.clear()  # the connection's window is gone with it
        for waiter in waiters:
            self._answer(waiter, reason)
