"""The I/O half of one ESME connection: reader, timer, coalesced writes, our deliver_sm.

Two tasks per connection and nothing per message:

- the reader takes whatever the socket has (up to 64 KiB, hundreds of PDUs when an
  ESME pipelines), feeds it to the Connection, handles the events and writes the
  answers ``ANSWER_SLICE`` requests per ``send_all`` (docs/design.md "Performance rules": one
  send per PDU caps a bind near 38k PDUs/s, coalesced sends go far beyond; a slice
  rather than the whole chunk so the ESME works on the first answers meanwhile). It
  reads again only after the chunk's last write, so an ESME that stops reading is
  slowed down by TCP, not buffered for.
- the timer sleeps until the earliest of: the next delivery due in this bind's heap
  (plus a few milliseconds of slack, so one wake-up serves many), the Connection's
  own timers (response timeouts of our deliver_sm, enquire_link); then it writes
  every due delivery, up to the receipt window, in one ``send_all``.

Writes go through one lock (house rule 6: one writer at a time, never interleaved).
Deliveries still held when the connection ends go back to the account, which routes
them to another bind of the same system_id or keeps them until one binds.

What the requests mean (bind, submit_sm & co) is :class:`~bridge.simulator.session.Session`.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import TYPE_CHECKING

import structlog
import trio

from bridge.simulator.deliveries import Account, Delivery
from bridge.simulator.delivering import TIMER_SLACK, DeliveryWindow
from bridge.simulator.ids import oversized_resp
from bridge.simulator.throttle import TpsWindow
from bridge.smpp.connection import Connection
from bridge.smpp.constants import RESPONSE_BIT
from bridge.smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    PduReceived,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseTimeout,
)
from bridge.smpp.pdus import DataSmResp, DeliverSmResp, Pdu, SubmitSm, Unbind
from bridge.smpp.state import BindMode, Role, State

if TYPE_CHECKING:
    from bridge.simulator.server import Simulator

log = structlog.get_logger("bridge.simulator")

RECEIVE_SIZE = 65536
# Requests answered per write within one received chunk. Answering a whole chunk
# (a window of 512 submit_sm) in one write makes ESME and simulator take turns:
# each waits while the other handles the whole window. Slices let both work at
# once (measured on the carrier bench, one bind: see the commit message).
ANSWER_SLICE = 32
# Responses whose body is a message_id the ESME must send even unused (NULL).
_NEEDS_MESSAGE_ID = (DeliverSmResp, DataSmResp)


class Dropped(Exception):
    """The disconnect fault fired: close the connection without answering."""


class MalformedDrop(Dropped):
    """Strict mode: the ESME sent a malformed response; close the connection."""


class Link(DeliveryWindow):
    """A connection's I/O and delivery window; subclasses answer the requests."""

    def __init__(self, sim: Simulator, stream: trio.abc.Stream) -> None:
        self.sim = sim
        self.stream = stream
        config = sim.config
        # The window of the Connection counts ESME operations only; our deliver_sm
        # window is ours to keep (``receipt_window``).
        self.conn = Connection(
            Role.SMSC,
            response_timeout=config.response_timeout,
            enquire_link_interval=config.enquire_link_interval,
        )
        self.account: Account | None = None
        self.throttle: TpsWindow | None = None  # set at bind: this bind's or the account's
        self.can_receive = False
        self._sendable: frozenset[State] = frozenset()
        self.deliveries = 0  # deliver_sm written on this bind (receipts, MO), retries included
        # Timed work: deliveries, and responses held back by the late_resp fault.
        self._heap: list[tuple[float, int, Delivery | Pdu]] = []
        self._ready: deque[Delivery] = deque()
        self._outstanding: dict[int, Delivery] = {}
        self._window = config.receipt_window
        self._send_lock = trio.Lock()
        self._raw = bytearray()  # frames bridge.smpp will not encode (send_response), in order
        self._wake = trio.Event()
        self._sleep_until = -math.inf  # when the timer task will wake up by itself
        self._in_reader = False  # the reader flushes on its own at the end of a chunk
        self._pump_pending = False  # deliveries became ready during this chunk
        self._more = False  # _drain stopped at its budget with events left
        self._urgent: list[Link] = []  # flush these before our own answers
        self._scope = trio.CancelScope()
        self._closed = False

    @property
    def mode(self) -> BindMode | None:
        return self.conn.mode

    @property
    def system_id(self) -> str | None:
        return None if self.account is None else self.account.system_id

    # --- lifetime ------------------------------------------------------------------
    async def run(self) -> None:
        sim = self.sim
        sim.sessions.add(self)
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._timer_loop, nursery.cancel_scope)
                    await self._read_loop()
                    nursery.cancel_scope.cancel()
        finally:
            sim.sessions.discard(self)
            self._release(trio.current_time())
            await trio.aclose_forcefully(self.stream)

    def abort(self) -> None:
        """Drop the connection now (no unbind): for tests of reconnects."""
        self._scope.cancel()

    def unbind(self) -> None:
        """SMSC-initiated unbind (SMPP 3.4 section 4.2); the ESME's unbind_resp ends it."""
        if self.conn.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX):
            self.conn.send(Unbind(), now=trio.current_time())
            self._wake.set()

    def _release(self, now: float) -> None:
        if self._closed:
            return
        self._closed = True
        account = self.account
        if account is None:
            return
        account.detach(self)
        self.sim.stats.bound -= 1
        # Written but never acknowledged: a real SMSC sends those again.
        for delivery in self._outstanding.values():
            account.retry(delivery, now)
        held = [(due, d) for due, _, d in self._heap if isinstance(d, Delivery)]
        held += [(now, d) for d in self._ready]
        log.info("bind closed", system_id=account.system_id, unacknowledged=len(self._outstanding),
                 rerouted=len(held))
        self._outstanding.clear()
        self._heap.clear()
        self._ready.clear()
        account.requeue(held, now)

    async def flush(self) -> None:
        """Write everything the Connection has queued, in one send_all."""
        async with self._send_lock:
            data = self.conn.data_to_send()
            if self._raw:
                data = bytes(self._raw) + data
                self._raw.clear()
            if data:
                await self.stream.send_all(data)

    # --- the two tasks -------------------------------------------------------------
    async def _read_loop(self) -> None:
        conn = self.conn
        receive_some = self.stream.receive_some
        while True:
            try:
                data = bytes(await receive_some(RECEIVE_SIZE))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            now = trio.current_time()
            conn.receive_data(data, now=now)
            self._in_reader = True
            try:
                # A chunk is answered ANSWER_SLICE requests at a time, each slice
                # written before the next is handled: the ESME works on the first
                # answers while we handle the rest (see ANSWER_SLICE).
                while True:
                    closed = self._drain(now, ANSWER_SLICE)
                    if closed or not self._more:
                        break
                    if not await self._write_answers():
                        return
                    now = trio.current_time()
            except Dropped as exc:
                if not isinstance(exc, MalformedDrop):
                    self.sim.stats.disconnects += 1
                await self._flush_quietly()
                return
            finally:
                self._in_reader = False
            # A bind, a deliver_sm awaiting its response: the Connection may have a
            # timer earlier than the one the timer task sleeps towards.
            timer = conn.next_deadline()
            if timer is not None and timer < self._sleep_until:
                self._wake.set()
            if not await self._write_answers():
                return
            if closed or not data:
                return

    async def _write_answers(self) -> bool:
        """Write what the handled requests queued (other binds' urgent receipts
        first); False when the stream is gone."""
        if self._urgent:
            urgent, self._urgent = self._urgent, []
            for session in urgent:
                await session._flush_quietly()
        try:
            await self.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def _timer_loop(self, scope: trio.CancelScope) -> None:
        conn = self.conn
        heap = self._heap
        while True:
            deadline = heap[0][0] + TIMER_SLACK if heap else math.inf
            timer = conn.next_deadline()
            if timer is not None and timer < deadline:
                deadline = timer
            if not self._wake.is_set():
                self._sleep_until = deadline
                with trio.move_on_at(deadline):
                    await self._wake.wait()
            self._wake = trio.Event()
            self._sleep_until = -math.inf  # awake: new work is seen at the loop top
            now = trio.current_time()
            conn.tick(now)
            try:
                # While the reader is between two slices of a chunk, the events
                # left (the chunk's requests among them) are its to handle.
                closed = False if self._in_reader else self._drain(now)
            except Dropped:  # strict mode (a submit_sm never comes from a timer)
                closed = True
            while heap and heap[0][0] <= now:
                item = heapq.heappop(heap)[2]
                if isinstance(item, Delivery):
                    self._ready.append(item)
                else:
                    self._send_late(item, now)
            self._pump(now)
            try:
                await self.flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                closed = True
            if closed:
                scope.cancel()
                return

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    # --- responses -----------------------------------------------------------------
    def _send_late(self, resp: Pdu, now: float) -> None:
        # Responses may still be written while unbinding (SMPP 3.4 section 4.2);
        # after the session closed there is nobody to answer.
        if self.conn.state is not State.CLOSED:
            self.send_response(resp, now)

    def send_response(self, resp: Pdu, now: float) -> None:
        """A successful submit_sm_resp / data_sm_resp; with the hex70 / hex255 id
        formats written raw after what the Connection queued so far (order kept)."""
        if self.sim.oversized_ids:
            self._raw += self.conn.data_to_send()
            self._raw += oversized_resp(resp)
        else:
            self.conn.send(resp, now=now)

    # --- events --------------------------------------------------------------------
    def _drain(self, now: float, budget: int = -1) -> bool:
        """Handle the pending events, or only the next ``budget`` requests when
        ``budget`` >= 0 (``self._more`` then says whether events are left);
        True when the connection is closed."""
        next_event = self.conn.next_event
        on_submit = self._on_submit
        stats = self.sim.stats
        strict = self.sim.config.strict
        settled = False
        self._more = False
        while True:
            if budget == 0:
                self._more = True
                break
            event = next_event()
            if isinstance(event, PduReceived):
                budget -= 1
                pdu = event.pdu
                if type(pdu) is SubmitSm:
                    on_submit(pdu, now)
                else:
                    self._on_request(pdu, now)
            elif event is NEED_DATA:
                break
            elif isinstance(event, ResponseReceived):
                response = event.pdu
                if strict and type(response) in _NEEDS_MESSAGE_ID and (
                    response.message_id is None  # type: ignore[attr-defined]
                ):
                    self._malformed(f"{type(response).__name__} without its message_id"
                                    " (SMPP 3.4 sections 4.6.2, 4.7.2)")
                self._settle(response.sequence_number, response.command_status == 0, now)
                settled = True
            elif isinstance(event, ResponseTimeout):
                self._settle(event.sequence_number, False, now)
                settled = True
            elif isinstance(event, ConnectionClosed):
                self._release(now)
                return True
            elif isinstance(event, ProtocolErrorAnswered):
                stats.protocol_errors += 1
                cid = event.error.command_id
                if strict and cid is not None and cid & RESPONSE_BIT:
                    self._malformed(str(event.error))
            # UnexpectedResponse: a stray answer changes nothing here.
        if settled or self._pump_pending:
            self._pump_pending = False
            self._pump(now)
        return False

    def _malformed(self, why: str) -> None:
        """Strict mode: drop the connection, as SMPPSim 2.6.11 does ("DELIVER_SM_RESP
        PDU is malformed. message_id is incorrect"); unacknowledged deliveries are
        sent again on the next bind."""
        self.sim.stats.malformed_responses += 1
        log.warning("malformed response: dropping the connection (strict)", reason=why,
                    system_id=self.system_id)
        raise MalformedDrop(why)

    # --- requests (the subclass) ---------------------------------------------------
    def _on_submit(self, pdu: SubmitSm, now: float) -> None:
        raise NotImplementedError

    def _on_request(self, pdu: Pdu, now: float) -> None:
        raise NotImplementedError
