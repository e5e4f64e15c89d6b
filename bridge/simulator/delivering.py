"""Our deliver_sm on one simulator bind (link.py): scheduled, windowed, settled.

A mixin of ``Link``, kept apart from the connection's I/O: receipts and MO are
scheduled on a heap by due time (``schedule``; ``hold_response`` puts a
response there for the late_resp fault), written while our deliver_sm window
(``receipt_window``) has room (``_pump``), and settled by the ESME's
deliver_sm_resp (``_settle``: a refusal goes back to the account for a retry).
The ready queue is bounded (``receipt_queue_limit``): an ESME that does not
acknowledge loses the oldest, counted. Uses the link's attributes declared below.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import TYPE_CHECKING

import structlog
import trio

from bridge.simulator.deliveries import Account, Delivery
from bridge.smpp.connection import Connection
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import Pdu
from bridge.smpp.state import State

if TYPE_CHECKING:
    from bridge.simulator.server import Simulator

log = structlog.get_logger("bridge.simulator")

# Timer slack: a receipt is written up to this much after its due time, so that one
# wake-up (and one send_all) serves every receipt falling due in that interval
# rather than one wake-up per receipt at 30k receipts/s.
TIMER_SLACK = 0.005
_ORDER = itertools.count()  # heap tie-breaker: deliveries never compare


class DeliveryWindow:
    """Mixin: the deliver_sm side of ``Link``."""

    # The link's attributes this mixin uses (set in Link.__init__).
    sim: Simulator
    conn: Connection
    account: Account | None
    deliveries: int
    _heap: list[tuple[float, int, Delivery | Pdu]]
    _ready: deque[Delivery]
    _outstanding: dict[int, Delivery]
    _window: int
    _sendable: frozenset[State]
    _wake: trio.Event
    _sleep_until: float
    _in_reader: bool
    _pump_pending: bool

    def schedule(self, delivery: Delivery, due: float, now: float, urgent: bool = False) -> None:
        """Take ``delivery`` to write at ``due`` (at once when it is due already).

        While this bind's reader is handling a chunk, due deliveries are written
        together at the end of it (one pump, after the chunk's answers) unless
        ``urgent`` (a receipt that must precede its submit_sm_resp)."""
        if due <= now:
            ready = self._ready
            limit = self.sim.config.receipt_queue_limit
            if len(ready) >= limit:  # the ESME is not acknowledging: bounded
                ready.popleft()
                self.sim.stats.receipts_dropped += 1
            ready.append(delivery)
            if self._in_reader:
                if urgent:
                    self._pump(now)
                else:
                    self._pump_pending = True
                return
            self._pump(now)
            self._wake.set()
            return
        heapq.heappush(self._heap, (due, next(_ORDER), delivery))
        if due + TIMER_SLACK < self._sleep_until:
            self._wake.set()

    def hold_response(self, resp: Pdu, due: float) -> None:
        """Write ``resp`` at ``due`` rather than now (the late_resp fault)."""
        heapq.heappush(self._heap, (due, next(_ORDER), resp))
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
            try:
                seq = send(delivery.pdu(done_date, tlvs), now=now)
            except LocalProtocolError as exc:
                # A deliver_sm that does not encode must not end this connection
                # (and the other receipts in flight on it): drop it, count it.
                stats.receipts_dropped += 1
                log.warning("delivery dropped", error=str(exc))
                continue
            outstanding[seq] = delivery
            self.deliveries += 1
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
