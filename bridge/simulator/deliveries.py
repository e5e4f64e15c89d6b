"""What the simulator sends to ESMEs on its own: receipts and MO, and who gets them.

A :class:`Delivery` is one deliver_sm to be written (a receipt for a submit_sm, or
an MO). An :class:`Account` (one system_id) holds the binds of that system_id and
routes each delivery to one of its receiver or transceiver binds, round robin; with
none bound, deliveries wait in the account's bounded backlog until one binds.
Deliveries a bind could not complete (it closed, the ESME answered with
an error, or not at all) come back here to be routed again.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from bridge.simulator.receipts import Verdict, build_receipt
from bridge.simulator.throttle import TpsWindow
from bridge.smpp.pdus import DeliverSm, SubmitSm

if TYPE_CHECKING:
    from bridge.simulator.link import Link
    from bridge.simulator.server import Simulator


class Delivery:
    """One deliver_sm to write: a receipt (``submit`` set) or an MO (``mo`` set)."""

    __slots__ = ("attempts", "message_id", "mo", "submit", "submit_date", "verdict")

    def __init__(
        self,
        *,
        submit: SubmitSm | None = None,
        message_id: str = "",
        verdict: Verdict | None = None,
        submit_date: str = "",
        mo: DeliverSm | None = None,
    ) -> None:
        self.submit = submit
        self.message_id = message_id
        self.verdict = verdict
        self.submit_date = submit_date
        self.mo = mo
        self.attempts = 0

    @property
    def is_receipt(self) -> bool:
        return self.mo is None

    def pdu(self, done_date: str, tlvs: bool) -> DeliverSm:
        if self.mo is not None:
            return self.mo
        assert self.submit is not None and self.verdict is not None
        return build_receipt(
            self.submit, self.message_id, self.verdict,
            submit_date=self.submit_date, done_date=done_date, tlvs=tlvs,
        )


class Account:
    """The binds of one system_id, its receipt backlog and its TPS limit."""

    def __init__(self, sim: Simulator, system_id: str) -> None:
        self.sim = sim
        self.system_id = system_id
        self.sessions: list[Link] = []  # bound, any mode
        self.receivers: list[Link] = []  # bound RX or TRX
        self._next = 0  # round robin position in the targets
        self.backlog: deque[Delivery] = deque()
        tps = sim.config.throttle_tps
        self.throttle: TpsWindow | None = TpsWindow(tps) if tps is not None else None

    # --- binds ---------------------------------------------------------------------
    def attach(self, session: Link, now: float) -> None:
        self.sessions.append(session)
        if session.can_receive:
            self.receivers.append(session)
        if self.backlog and session in self._targets():
            waiting = list(self.backlog)
            self.backlog.clear()
            self.sim.stats.receipts_queued -= len(waiting)
            for delivery in waiting:
                self.route(delivery, due=now, now=now)
        self.sim.binds_changed()

    def detach(self, session: Link) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        if session in self.receivers:
            self.receivers.remove(session)
        self.sim.binds_changed()

    def _targets(self) -> list[Link]:
        if self.receivers:
            return self.receivers
        if self.sim.config.receipts_on_transmitter:
            return self.sessions
        return []

    # --- routing -------------------------------------------------------------------
    def route(
        self, delivery: Delivery, *, due: float, now: float, urgent: bool = False
    ) -> Link | None:
        """Hand ``delivery`` to a bind (at ``due``), or keep it in the backlog.
        ``urgent``: write it before anything else that bind is answering now."""
        targets = self.receivers or self._targets()
        if not targets:
            self._keep(delivery)
            return None
        index = self._next % len(targets)
        self._next = index + 1
        session = targets[index]
        session.schedule(delivery, due, now, urgent)
        return session

    def _keep(self, delivery: Delivery) -> None:
        backlog = self.backlog
        stats = self.sim.stats
        limit = self.sim.config.receipt_queue_limit
        if len(backlog) >= limit:
            backlog.popleft()  # the oldest goes: a real SMSC expires those first
            stats.receipts_dropped += 1
        else:
            stats.receipts_queued += 1
        backlog.append(delivery)

    def retry(self, delivery: Delivery, now: float) -> None:
        """A delivery that was written and not acknowledged: route it again later."""
        stats = self.sim.stats
        delivery.attempts += 1
        if delivery.attempts >= self.sim.config.receipt_max_attempts:
            stats.receipts_dropped += 1
            return
        stats.receipts_retried += 1
        self.route(delivery, due=now + self.sim.config.receipt_retry_delay, now=now)

    def requeue(self, deliveries: list[tuple[float, Delivery]], now: float) -> None:
        """Deliveries a closing bind still held (not yet written): route them again."""
        if deliveries:
            self.sim.stats.receipts_retried += len(deliveries)
        for due, delivery in deliveries:
            self.route(delivery, due=due, now=now)
