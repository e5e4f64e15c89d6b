"""Receipts and MO into the writer (writer.py): classified, then queued for a flush.

A mixin of ``Writer``, kept apart from the flushing: what comes in from the
carriers' binds (``run_inbound``) and the querier (``put_receipt``) is turned
into a receipt or MO row here (inbound.classify) with the carrier's rules, or
answered at once when it cannot be stored (database down: ESME_RX_T_APPN, SMPP
3.4 section 5.1.3, and the SMSC retries). Waits for room in the bounded inbound
buffer: that is the backpressure a bind's reader feels.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import trio

import dlr
from bridge import logs
from bridge.carrier import Inbound
from bridge.dispatch.inbound import MoRow, ReceiptRow, classify
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.stats import DaemonStats
from bridge.logs import LogLimiter
from bridge.smpp import CommandStatus, DeliverSm

log = structlog.get_logger("bridge.dispatch.writer")
_limited = LogLimiter(log)  # lines a carrier's PDUs trigger (per carrier and kind)

ESME_RX_T_APPN = int(CommandStatus.ESME_RX_T_APPN)

# Inbound items classified in a row before run_inbound lets other tasks run.
INBOUND_DRAIN = 64

_NO_PDU = DeliverSm()  # see put_receipt


class InboundIntake:
    """Mixin: the inbound side of ``Writer``."""

    # The writer's attributes this mixin uses (set in Writer.__init__).
    batch: int
    db_up: bool
    _stats: DaemonStats
    _rules: Callable[[str], CarrierRules | None]
    _inbound: list[tuple[Inbound, ReceiptRow | MoRow]]
    _room: trio.Event

    def _arrived(self) -> None:
        raise NotImplementedError  # Writer's

    async def put_receipt(self, row: ReceiptRow, ack: Callable[[int], None]) -> None:
        """A receipt that did not come as a deliver_sm (a query_sm_resp, query.py): applied
        by the same flush and SQL as the others. ``ack`` gets ESME_ROK once committed,
        ESME_RX_T_APPN when not (database down). Waits while the inbound buffer is full."""
        if not self.db_up:
            ack(ESME_RX_T_APPN)
            return
        await self._wait_room()
        # The writer reads only ``ack`` of an item once it is classified: the PDU
        # is an empty placeholder.
        self._inbound.append((Inbound(carrier=row.carrier, pdu=_NO_PDU, ack=ack), row))
        self._arrived()

    async def _wait_room(self) -> None:
        """Until the inbound buffer has room. Waiters share one event (``_cut`` sets it)."""
        while len(self._inbound) >= 4 * self.batch:
            if self._room.is_set():
                self._room = trio.Event()
            await self._room.wait()

    def _table_for(self, carrier: str) -> dlr.StatusTable | None:
        rules = self._rules(carrier)
        return rules.status_table if rules is not None else None

    async def run_inbound(self, receive: trio.MemoryReceiveChannel[Inbound]) -> None:
        """Classify receipts / MO from every carrier and queue them for the next flush.

        Items already waiting are taken with ``receive_nowait``, up to INBOUND_DRAIN at
        a time: ``receive()`` passes through the scheduler for every item even when
        the channel is full, which cost more than classifying a receipt. Classifying
        is synchronous; this task awaits only for the scheduler and for room.
        """
        while True:
            try:
                item = await receive.receive()
            except trio.EndOfChannel:
                return
            # One clock reading per drain (the receipt latency metric), one wake-up of
            # the flusher per drain: nothing else runs until this loop awaits.
            now = trio.current_time()
            added = False
            taken = 0
            while True:
                row = self._classify(item, now)
                if row is not None:
                    if len(self._inbound) >= 4 * self.batch:
                        self._arrived()  # the flush that makes room must know of these rows
                        await self._wait_room()  # backpressure: the bind's reader waits on its channel
                        now = trio.current_time()
                    self._inbound.append((item, row))
                    added = True
                taken += 1
                if taken > INBOUND_DRAIN:
                    break  # the next receive() lets the other tasks run
                try:
                    item = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if added:
                self._arrived()

    def _classify(self, item: Inbound, now: float) -> ReceiptRow | MoRow | None:
        """The row to store for ``item``, or None when it was answered here already."""
        if not self.db_up:
            item.ack(ESME_RX_T_APPN)
            self._stats.nacked_db_down += 1
            return None
        rules = self._rules(item.carrier)
        if rules is None:  # carrier removed by a reload meanwhile: let the SMSC retry elsewhere
            item.ack(ESME_RX_T_APPN)
            return None
        cfg = rules.config
        try:
            row = classify(
                item.carrier, item.pdu, detect=cfg.receipt_detect, id_form=cfg.receipt_id_form,
                table=rules.status_table,
            )  # fmt: skip
        except Exception as exc:  # input from the wire must never stop the daemon
            self._stats.inbound_errors += 1
            _limited.error("cannot classify inbound PDU; answered ESME_RX_T_APPN", key=item.carrier,
                           carrier=item.carrier, error=repr(exc), exc_info=exc)
            item.ack(ESME_RX_T_APPN)
            return None
        if isinstance(row, ReceiptRow):
            self._stats.receipts += 1
            stats = self._stats
            counts = stats.by_carrier.get(item.carrier) or stats.carrier(item.carrier)  # no call once known
            counts.receipts += 1
            counts.metrics.on_receipt(row.id_key, row.status, now)  # a StrEnum: its value
            if logs.DEBUG:  # per message: debug only (the source and destination are masked)
                log.debug("receipt", carrier=item.carrier, carrier_id=row.id_key, status=row.status.value,
                          stat=row.stat, source_addr=row.source, destination_addr=row.destination)  # fmt: skip
        elif row.malformed_receipt:
            self._stats.receipts_malformed += 1
            # Stored as an MO row with its raw bytes (inbound.py); worth a line, not one per PDU.
            _limited.warning("receipt not parsed; stored as malformed", key=item.carrier,
                             carrier=item.carrier, esm_class=item.pdu.esm_class,
                             receipts_malformed=self._stats.receipts_malformed)
        return row
