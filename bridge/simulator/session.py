"""One ESME connection to the simulator: the SMSC side of a bridge.smpp Connection on trio.

Two tasks per connection and nothing per message:

- the reader takes whatever the socket has (up to 64 KiB, hundreds of PDUs when an
  ESME pipelines), feeds it to the Connection, handles every event, then writes all
  the answers in one ``send_all`` (DESIGN.md performance rules: one send per PDU caps
  a bind near 38k PDUs/s, coalesced sends go far beyond). It reads again only after
  that write, so an ESME that stops reading is slowed down by TCP, not buffered for.
- the timer sleeps until the earliest of: the next receipt due in this bind's heap,
  the Connection's own timers (response timeouts of our deliver_sm, enquire_link);
  then it writes every due receipt (up to the receipt window) in one ``send_all``.

Writes go through one lock (house rule 6: one writer at a time, never interleaved).
Deliveries still held when the connection ends go back to the account, which routes
them to another bind of the same system_id or keeps them until one binds.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from typing import TYPE_CHECKING

import trio

from bridge.simulator.deliveries import Account, Delivery
from bridge.simulator.receipts import Verdict
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandStatus, Tag
from bridge.smpp.events import (
    NEED_DATA,
    ConnectionClosed,
    PduReceived,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseTimeout,
)
from bridge.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    DataSm,
    DataSmResp,
    Pdu,
    QuerySm,
    ReplaceSm,
    Request,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from bridge.smpp.state import BindMode, Role, State

if TYPE_CHECKING:
    from bridge.simulator.server import Simulator

RECEIVE_SIZE = 65536
# Timer slack: a receipt is written up to this much after its due time, so that one
# wake-up (and one send_all) serves every receipt falling due in that interval
# rather than one wake-up per receipt at 30k receipts/s.
TIMER_SLACK = 0.005
_ORDER = itertools.count()  # heap tie-breaker: deliveries never compare
_THROTTLED = CommandStatus.ESME_RTHROTTLED
_QUEUE_FULL = CommandStatus.ESME_RMSGQFUL
_BIND_TYPES = (BindTransmitter, BindReceiver, BindTransceiver)
# section 5.3.2.25: the SMSC's interface version in bind_resp
_SC_INTERFACE_VERSION = ((Tag.SC_INTERFACE_VERSION, b"\x34"),)
# Requests we accept but do not implement: answered with their section 5.1.3 failure.
_REFUSED: dict[type[Pdu], int] = {
    QuerySm: CommandStatus.ESME_RQUERYFAIL,
    CancelSm: CommandStatus.ESME_RCANCELFAIL,
    ReplaceSm: CommandStatus.ESME_RREPLACEFAIL,
}


class _Dropped(Exception):
    """The disconnect fault fired: close the connection without answering."""


class Session:
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
        self.can_receive = False
        self._sendable: frozenset[State] = frozenset()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._ready: deque[Delivery] = deque()
        self._outstanding: dict[int, Delivery] = {}
        self._window = config.receipt_window
        self._send_lock = trio.Lock()
        self._wake = trio.Event()
        self._sleep_until = -math.inf  # when the timer task will wake up by itself
        self._in_reader = False  # the reader flushes on its own at the end of a chunk
        self._urgent: list[Session] = []  # flush these before our own answers
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
        held = [(due, d) for due, _, d in self._heap] + [(now, d) for d in self._ready]
        self._outstanding.clear()
        self._heap.clear()
        self._ready.clear()
        account.requeue(held, now)

    async def flush(self) -> None:
        """Write everything the Connection has queued, in one send_all."""
        async with self._send_lock:
            data = self.conn.data_to_send()
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
                closed = self._drain(now)
            except _Dropped:
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
            if self._urgent:
                urgent, self._urgent = self._urgent, []
                for session in urgent:
                    await session._flush_quietly()
            try:
                await self.flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if closed or not data:
                return

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
                closed = self._drain(now)
            except _Dropped:  # cannot happen: timers never carry a submit_sm
                closed = True
            while heap and heap[0][0] <= now:
                self._ready.append(heapq.heappop(heap)[2])
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

    # --- deliveries ----------------------------------------------------------------
    def schedule(self, delivery: Delivery, due: float, now: float) -> None:
        """Take ``delivery`` to write at ``due`` (at once when it is due already)."""
        if due <= now:
            self._ready.append(delivery)
            self._pump(now)
            if not self._in_reader:
                self._wake.set()
            return
        heapq.heappush(self._heap, (due, next(_ORDER), delivery))
        if due + TIMER_SLACK < self._sleep_until:
            self._wake.set()

    def _pump(self, now: float) -> None:
        """Write ready deliveries while our deliver_sm window has room."""
        ready = self._ready
        if not ready or self.conn.state not in self._sendable:
            return
        outstanding = self._outstanding
        window = self._window
        if len(outstanding) >= window:
            return
        sim = self.sim
        stats = sim.stats
        send = self.conn.send
        done_date = sim.clock.now()
        tlvs = sim.config.receipt_tlvs
        while ready and len(outstanding) < window:
            delivery = ready.popleft()
            outstanding[send(delivery.pdu(done_date, tlvs), now=now)] = delivery
            if delivery.mo is None:
                stats.receipts_sent += 1
            else:
                stats.mo_sent += 1

    def _settle(self, sequence_number: int, ok: bool, now: float) -> None:
        delivery = self._outstanding.pop(sequence_number, None)
        if delivery is None:
            return
        stats = self.sim.stats
        if ok:
            if delivery.mo is None:
                stats.receipts_acked += 1
            else:
                stats.mo_acked += 1
            return
        stats.receipts_nacked += 1
        assert self.account is not None
        self.account.retry(delivery, now)

    # --- events --------------------------------------------------------------------
    def _drain(self, now: float) -> bool:
        """Handle every pending event; True when the connection is closed."""
        next_event = self.conn.next_event
        on_submit = self._on_submit
        stats = self.sim.stats
        settled = False
        while True:
            event = next_event()
            if isinstance(event, PduReceived):
                pdu = event.pdu
                if type(pdu) is SubmitSm:
                    on_submit(pdu, now)
                else:
                    self._on_request(pdu, now)
            elif event is NEED_DATA:
                break
            elif isinstance(event, ResponseReceived):
                response = event.pdu
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
            # UnexpectedResponse: a stray answer changes nothing here.
        if settled:
            self._pump(now)
        return False

    def _on_request(self, pdu: Pdu, now: float) -> None:
        if isinstance(pdu, _BIND_TYPES):
            self._on_bind(pdu, now)
        elif type(pdu) is DataSm:
            self._on_data_sm(pdu, now)
        elif type(pdu) is SubmitMulti:
            self._on_submit_multi(pdu, now)
        elif isinstance(pdu, Request):
            status = _REFUSED.get(type(pdu), CommandStatus.ESME_RSYSERR)
            self.conn.send(
                pdu.response_type(sequence_number=pdu.sequence_number, command_status=status),
                now=now,
            )

    def _on_bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver, now: float) -> None:
        sim = self.sim
        stats = sim.stats
        status = sim.bind_status(pdu.system_id, pdu.password)
        account = None
        if status == 0:
            account = sim.account(pdu.system_id)
            limit = sim.config.max_binds
            if limit and len(account.sessions) >= limit:
                status = CommandStatus.ESME_RBINDFAIL
        seq = pdu.sequence_number
        if status or account is None:
            self.conn.send(pdu.response_type(sequence_number=seq, command_status=status), now=now)
            stats.binds_rejected += 1
            return
        resp = pdu.response_type(
            sequence_number=seq, system_id=sim.config.system_id, tlvs=_SC_INTERFACE_VERSION
        )
        self.conn.send(resp, now=now)
        mode = self.conn.mode
        self.can_receive = mode in (BindMode.RECEIVER, BindMode.TRANSCEIVER)
        sendable = {State.BOUND_RX, State.BOUND_TRX}
        if sim.config.receipts_on_transmitter:
            sendable.add(State.BOUND_TX)
        self._sendable = frozenset(sendable)
        self.account = account
        stats.binds += 1
        stats.bound += 1
        account.attach(self, now)

    def _admit(self, now: float) -> int:
        """The fault checks every message submission goes through: 0 or an error status."""
        sim = self.sim
        if sim.disconnect_p and sim.rng.random() < sim.disconnect_p:
            raise _Dropped
        account = self.account
        assert account is not None
        if account.throttle is not None and not account.throttle.allow(now):
            sim.stats.throttled += 1
            return _THROTTLED
        if sim.queue_full_p and sim.rng.random() < sim.queue_full_p:
            sim.stats.queue_full += 1
            return _QUEUE_FULL
        return 0

    def _on_submit(self, pdu: SubmitSm, now: float) -> None:
        """submit_sm (SMPP 3.4 section 4.4): the hot path."""
        sim = self.sim
        stats = sim.stats
        stats.submits += 1
        seq = pdu.sequence_number
        status = self._admit(now)
        if not status:
            verdict = sim.picker.pick(pdu.destination_addr)
            status = verdict.submit_status
        if status:
            self.conn.send(SubmitSmResp(sequence_number=seq, command_status=status), now=now)
            stats.resps[status] += 1
            return
        message_id = sim.next_id()
        resp = SubmitSmResp(sequence_number=seq, message_id=message_id)
        sim.record_handset(pdu, message_id)
        wanted = pdu.registered_delivery & 0x03  # section 5.2.17
        if not wanted or (wanted == 0x02 and verdict.delivered):
            self.conn.send(resp, now=now)
            stats.resps[0] += 1
            return
        delivery = Delivery(
            submit=pdu, message_id=message_id, verdict=verdict, submit_date=sim.clock.now()
        )
        stats.receipts_scheduled += 1
        account = self.account
        assert account is not None
        if sim.before_resp_p and sim.rng.random() < sim.before_resp_p:
            target = account.route(delivery, due=now, now=now)
            if target is not None and target is not self:
                self._urgent.append(target)
            self.conn.send(resp, now=now)
        else:
            self.conn.send(resp, now=now)
            account.route(delivery, due=now + sim.receipt_delay(), now=now)
        stats.resps[0] += 1

    def _on_data_sm(self, pdu: DataSm, now: float) -> None:
        """data_sm (section 4.7) from the ESME: handled as a submit_sm of its payload."""
        payload = pdu.tlv(Tag.MESSAGE_PAYLOAD)
        as_submit = SubmitSm(
            sequence_number=pdu.sequence_number,
            source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr[:20],
            dest_addr_ton=pdu.dest_addr_ton, dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr[:20],
            esm_class=pdu.esm_class, registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding,
            short_message=payload[:254] if isinstance(payload, bytes) else b"",
        )  # fmt: skip
        self._answer_as(as_submit, DataSmResp, now)

    def _on_submit_multi(self, pdu: SubmitMulti, now: float) -> None:
        """submit_multi (section 4.5): one message id, one receipt per SME address."""
        dests = [d for d in pdu.dest_address if isinstance(d, SmeAddress)]
        if not dests:
            self.conn.send(
                SubmitMultiResp(
                    sequence_number=pdu.sequence_number,
                    command_status=CommandStatus.ESME_RINVNUMDESTS,
                ),
                now=now,
            )
            return
        first, *rest = (
            SubmitSm(
                sequence_number=pdu.sequence_number,
                source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
                source_addr=pdu.source_addr, dest_addr_ton=d.dest_addr_ton,
                dest_addr_npi=d.dest_addr_npi, destination_addr=d.destination_addr,
                esm_class=pdu.esm_class, registered_delivery=pdu.registered_delivery,
                data_coding=pdu.data_coding, short_message=pdu.short_message,
            )
            for d in dests
        )
        message_id = self._answer_as(first, SubmitMultiResp, now)
        if message_id is None:
            return
        for extra in rest:
            self._receipt_for(extra, message_id, now)

    def _answer_as(self, submit: SubmitSm, resp_type: type[Pdu], now: float) -> str | None:
        """Admit, answer with ``resp_type`` and schedule the receipt; the id or None."""
        stats = self.sim.stats
        stats.submits += 1
        seq = submit.sequence_number
        status = self._admit(now)
        verdict = self.sim.picker.pick(submit.destination_addr)
        status = status or verdict.submit_status
        if status:
            self.conn.send(resp_type(sequence_number=seq, command_status=status), now=now)
            stats.resps[status] += 1
            return None
        message_id = self.sim.next_id()
        self.conn.send(resp_type(sequence_number=seq, message_id=message_id), now=now)  # type: ignore[call-arg]
        stats.resps[0] += 1
        self.sim.record_handset(submit, message_id)
        self._receipt_for(submit, message_id, now, verdict)
        return message_id

    def _receipt_for(
        self, submit: SubmitSm, message_id: str, now: float, verdict: Verdict | None = None
    ) -> None:
        sim = self.sim
        if verdict is None:
            verdict = sim.picker.pick(submit.destination_addr)
        wanted = submit.registered_delivery & 0x03
        if not wanted or (wanted == 0x02 and verdict.delivered):
            return
        sim.stats.receipts_scheduled += 1
        delivery = Delivery(
            submit=submit, message_id=message_id, verdict=verdict, submit_date=sim.clock.now()
        )
        assert self.account is not None
        self.account.route(delivery, due=now + sim.receipt_delay(), now=now)

