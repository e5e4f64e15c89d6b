"""The writer's inbound side without a database: classification, draining, backpressure."""

from __future__ import annotations

import trio
import trio.testing

from bridge.carrier import Inbound
from bridge.dispatch.claim import ClaimBook
from bridge.dispatch.inbound import MoRow, ReceiptRow
from bridge.dispatch.intake import INBOUND_DRAIN
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.running import RunningCarriers
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.writer import Writer
from bridge.smpp import DeliverSm
from tests.dispatch.harness import make_config

RULES = CarrierRules.of(make_config(1).carriers[0])


def _writer(batch: int) -> Writer:
    return Writer(
        None,  # type: ignore[arg-type]  # no flush runs here: only run_inbound
        stats=DaemonStats(), rules=RunningCarriers(make_config(1)), batch=batch, delay=0.02, db_timeout=1.0,
        webhooks=False, default_url=None, claims=ClaimBook(),
    )  # fmt: skip


def _body(n: int) -> str:
    return f"id:{n:08X} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:"


def _inbound(n: int, acks: list[tuple[int, int]], *, carrier: str = "sim", text: str | None = None) -> Inbound:
    pdu = DeliverSm(sequence_number=n, esm_class=0x04, short_message=(text or _body(n)).encode())
    return Inbound(carrier=carrier, pdu=pdu, ack=lambda status: acks.append((n, status)))


async def test_every_item_of_long_runs_is_taken_none_lost_at_drain_boundaries() -> None:
    writer = _writer(batch=1000)  # room for 4,000: no backpressure here
    acks: list[tuple[int, int]] = []
    send, receive = trio.open_memory_channel[Inbound](1000)
    count = 5 * (INBOUND_DRAIN + 1) + 3  # several drains, ending mid-drain
    for n in range(count):
        send.send_nowait(_inbound(n, acks))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run_inbound, receive)
        await trio.testing.wait_all_tasks_blocked()
        rows = [row for _, row in writer._inbound]
        assert len(rows) == count and all(isinstance(r, ReceiptRow) for r in rows)
        assert [r.raw for r in rows] == [_body(n).encode() for n in range(count)]  # all, in order
        assert acks == []  # acknowledged only after a commit
        nursery.cancel_scope.cancel()


async def test_a_full_buffer_stops_the_inbound_side_until_a_flush_takes_rows() -> None:
    writer = _writer(batch=2)  # the buffer holds 4 x batch = 8 rows
    acks: list[tuple[int, int]] = []
    send, receive = trio.open_memory_channel[Inbound](100)
    for n in range(20):
        send.send_nowait(_inbound(n, acks))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run_inbound, receive)
        await trio.testing.wait_all_tasks_blocked()
        assert writer.pending == 8
        assert receive.statistics().current_buffer_used == 20 - 8 - 1  # one more classified, waiting
        batch = writer._cut()  # what a flush takes; it makes room
        assert batch is not None and len(batch[1]) == 8
        await trio.testing.wait_all_tasks_blocked()
        assert writer.pending == 8 and receive.statistics().current_buffer_used == 20 - 16 - 1
        nursery.cancel_scope.cancel()
    assert acks == []


async def test_unknown_carriers_malformed_receipts_and_a_database_down_are_answered_at_once() -> None:
    writer = _writer(batch=100)
    acks: list[tuple[int, int]] = []
    send, receive = trio.open_memory_channel[Inbound](100)
    send.send_nowait(_inbound(1, acks, carrier="gone"))  # removed by a reload: 0x64
    send.send_nowait(_inbound(2, acks, text="id: stat:"))  # flagged a receipt, unparseable: kept as MO
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run_inbound, receive)
        await trio.testing.wait_all_tasks_blocked()
        assert acks == [(1, 0x64)]
        (row,) = [row for _, row in writer._inbound]
        assert isinstance(row, MoRow) and row.malformed_receipt
        writer.db_up = False
        send.send_nowait(_inbound(3, acks))
        await trio.testing.wait_all_tasks_blocked()
        assert acks == [(1, 0x64), (3, 0x64)] and writer.pending == 1
        nursery.cancel_scope.cancel()
