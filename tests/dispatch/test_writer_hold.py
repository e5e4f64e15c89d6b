"""The writer's cut holding an accepted outcome for its receipt (writer.py ``_cut``), without a database."""

from __future__ import annotations

import dlr
from bridge.carrier import Inbound
from bridge.dispatch.claim import ClaimBook
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.dispatch.running import RunningCarriers
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.writer import Batch, Writer
from bridge.smpp import DeliverSm
from tests.dispatch.harness import make_config


def _writer(book: ClaimBook) -> Writer:
    return Writer(
        None,  # type: ignore[arg-type]  # no flush runs here: only the cut
        stats=DaemonStats(), rules=RunningCarriers(make_config(1)), batch=100, delay=0.02, db_timeout=1.0,
        webhooks=False, default_url=None, claims=book,
    )  # fmt: skip


def _part(n: int) -> ClaimedPart:
    return ClaimedPart(n, 1, 1, "Hi", "MY", 1, 7, "+60123000000", "Bridge", 5, 0, None, "Hi", None)


def _accepted(n: int, resolution: Resolution = Resolution.ACCEPTED, *, riders: bool = False) -> Result:
    return Result(_part(n), resolution, carrier="sim", carrier_message_id=f"{n:x}", id_key=f"{n:x}", riders=riders)


def _receipt(n: int, status: dlr.Status = dlr.Status.SENT) -> tuple[Inbound, ReceiptRow]:
    pdu = DeliverSm(sequence_number=n, esm_class=0x04, short_message=b"")
    row = ReceiptRow("sim", f"{n:x}", status, "DELIVRD", 0, {}, b"")
    return Inbound(carrier="sim", pdu=pdu, ack=lambda status: None), row


def _ids(batch: Batch | None) -> tuple[list[int], list[str]]:
    assert batch is not None
    results, inbound, _ = batch
    return [r.part.message_id for r in results], [row.id_key for _, row in inbound if isinstance(row, ReceiptRow)]


async def test_while_a_flush_is_in_flight_an_accepted_outcome_waits_one_cut_for_its_receipt() -> None:
    book = ClaimBook()
    book.claimed(7, 3)
    writer = _writer(book)
    writer._in_flight = 1  # another flush commits meanwhile: the next cut comes when it ends
    writer._results = [_accepted(1), _accepted(2), _accepted(3, Resolution.REJECTED)]
    writer._inbound = [_receipt(2)]
    # 1 has no receipt here: held; 2 goes with its receipt (folded); a rejection is never held.
    assert _ids(writer._cut()) == ([2, 3], ["2"])
    assert writer.pending == 1 and book.held == 1 and book.unheld() == 2
    writer._inbound = [_receipt(1)]
    assert _ids(writer._cut()) == ([1], ["1"])
    assert writer.pending == 0 and book.held == 0 and book.unheld() == 3


async def test_a_held_outcome_is_not_held_twice() -> None:
    book = ClaimBook()
    writer = _writer(book)
    writer._in_flight = 1
    writer._results = [_accepted(1)]
    assert writer._cut() is None  # all of it held: nothing to flush yet
    writer._results = [_accepted(2)]
    assert _ids(writer._cut()) == ([1], [])  # its receipt did not come: it goes without it
    assert book.held == 1  # 2 is held now
    writer._in_flight = 0
    assert _ids(writer._cut()) == ([2], []) and book.held == 0


async def test_nothing_is_held_without_a_flush_in_flight_with_the_database_down_or_for_riders_and_late_responses() -> None:
    book = ClaimBook()
    writer = _writer(book)
    writer._results = [_accepted(1)]
    assert _ids(writer._cut()) == ([1], [])  # idle writer: a hold would only add latency
    writer._in_flight = 1
    writer._results = [_accepted(2, riders=True), _accepted(3, Resolution.LATE_ACCEPT)]
    assert _ids(writer._cut()) == ([2, 3], [])
    writer.db_up = False
    writer._results = [_accepted(4)]
    assert _ids(writer._cut()) == ([4], [])
    assert book.held == 0


async def test_a_not_final_receipt_of_the_key_takes_the_outcome_along() -> None:
    """A receipt of the key in the cut, final or not: the outcome goes with it (held, it
    would leave the receipt to be parked)."""
    book = ClaimBook()
    writer = _writer(book)
    writer._in_flight = 1
    writer._results = [_accepted(1)]
    writer._inbound = [_receipt(1, dlr.Status.PENDING)]
    assert _ids(writer._cut()) == ([1], ["1"]) and book.held == 0
