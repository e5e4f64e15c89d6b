"""deliver_sm only to receiver and transceiver binds (SMPP 3.4 sections 2.2, 2.3):
an ESME that submits on a transmitter gets its receipts on a receiver of the same
system_id, and a transmitter bind never gets a deliver_sm of any kind."""

from __future__ import annotations

import trio

from bridge.simulator import MoConfig
from bridge.smpp import Tag
from tests.simulator.helpers import bound, running

TIMEOUT = 10


async def test_a_transmitter_bind_never_gets_deliver_sm() -> None:
    # Every kind of deliver_sm the simulator writes: final receipts, intermediate
    # notifications (registered_delivery 0x10), receipts raced ahead of their resp,
    # and MO.
    mo = MoConfig(rate=100, count=5, text="MO {n}")
    async with running(
        mo=mo, intermediate_notifications=True, receipt_before_resp=0.5, receipt_queue_limit=100, seed=1
    ) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            for _ in range(10):
                tx.submit(registered_delivery=0x11)
            await tx.flush()
            await tx.wait_until(lambda: len(tx.resps) == 10)
            await trio.sleep(0.2)  # time for MO and receipts, had they anywhere to go
            assert tx.delivered == [] and sim.stats.mo_sent == 0
            # No receiver yet: they wait in the account's bounded backlog.
            assert sim.stats.receipts_queued == 20  # 10 intermediate + 10 final

            rx = await bound(sim, "rx")
            await rx.wait_until(lambda: len(rx.delivered) == 25)  # 20 receipts + 5 MO
            for _ in range(10):
                tx.submit(registered_delivery=0x01)
            await tx.flush()
            await tx.wait_until(lambda: len(tx.resps) == 20)
            await rx.wait_until(lambda: len(rx.delivered) == 35)
            await trio.sleep(0.2)

            assert tx.delivered == []
            receipts = [d for d in rx.delivered if d.esm_class & 0x3C]
            mo_messages = [d for d in rx.delivered if not d.esm_class & 0x3C]
            assert len(mo_messages) == 5
            ids = {r.message_id for r in tx.resps.values()}  # type: ignore[attr-defined]
            finals = [r for r in receipts if r.esm_class == 0x04]
            assert {r.tlv(Tag.RECEIPTED_MESSAGE_ID) for r in finals} == ids and len(finals) == 20
            sessions = {s.mode.value if s.mode else None: s for s in sim.bound_sessions("bridge")}
            assert sessions["transmitter"].deliveries == 0
            assert sessions["receiver"].deliveries == 35


async def test_receipts_of_a_transmitter_go_to_the_transceiver_of_its_system_id() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            trx = await bound(sim, "trx")
            other = await bound(sim, "rx", system_id="someone-else")
            for _ in range(6):
                tx.submit(registered_delivery=1)
            await tx.flush()
            await trx.wait_until(lambda: len(trx.delivered) == 6)
            await trio.sleep(0.1)
            assert tx.delivered == [] and other.delivered == []
