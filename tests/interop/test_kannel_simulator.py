"""Kannel (bearerbox + smsbox) as an ESME against our simulator.

Kannel is a gateway nobody here wrote; if it binds, submits, matches our receipts to
its messages and passes our MO on, our simulator speaks SMPP as a real gateway
expects. The simulator runs in the test's own trio loop, so every wait on Kannel is
asynchronous (``await_online``, ``asend``, ``await_dlr``): a blocking wait would
starve the SMSC Kannel talks to. Skips without Kannel on a developer machine, fails
under CI=true (the fixtures decide, see docs/interop.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio

from bridge.simulator import DestinationRule, MoConfig, Simulator, SimulatorConfig
from bridge.smpp import CommandStatus
from tests.interop.kannel import (
    DLR_DELIVERED,
    DLR_QUEUED,
    DLR_SMSC_ACK,
    DLR_UNDELIVERED,
    KannelEsme,
)
from tests.interop.process import await_until

ACCOUNT = {"kannel": "secret"}
TIMEOUT = 20


@asynccontextmanager
async def simulator(**knobs: object) -> AsyncIterator[Simulator]:
    # Strict: Kannel writes every deliver_sm_resp in the layout of SMPP 3.4 section
    # 4.6.2 (NULL message_id), so strict mode must never drop it.
    sim = Simulator(SimulatorConfig(accounts=ACCOUNT, strict=True, **knobs))  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve, "127.0.0.1", 0)
        try:
            yield sim
        finally:
            nursery.cancel_scope.cancel()
    assert not sim.errors, list(sim.errors)
    assert sim.stats.malformed_responses == 0


async def online(kannel_esme: Callable[..., KannelEsme], sim: Simulator, **kw: object) -> KannelEsme:
    kannel = kannel_esme("127.0.0.1", sim.port, "kannel", "secret", wait_online=False, **kw)
    with trio.move_on_after(15) as waited:
        await kannel.await_online()
    if waited.cancelled_caught:
        raise AssertionError(f"Kannel did not bind\n{kannel.diagnostics()}")
    return kannel


async def test_kannel_transceiver_gets_delivered_and_failed_receipts(
    kannel_esme: Callable[..., KannelEsme],
) -> None:
    rules = (DestinationRule(suffix="0000", stat="UNDELIV", err=1),)
    async with simulator(message_id_format="hex", destination_rules=rules) as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim)
            good = await kannel.asend("447700900123", "hello from kannel")
            bad = await kannel.asend("447700900000", "to a dead handset")
            acked = await kannel.await_dlr(good, DLR_SMSC_ACK)
            delivered = await kannel.await_dlr(good, DLR_DELIVERED)
            failed = await kannel.await_dlr(bad, DLR_UNDELIVERED)
        # Kannel matched our receipt to the id we gave in submit_sm_resp.
        by_destination = {h.destination: h.message_id for h in sim.handsets}
        assert delivered.params["fid"] == by_destination["447700900123"]
        assert acked.params["fid"] == by_destination["447700900123"]
        assert failed.params["fid"] == by_destination["447700900000"]
        assert "stat:DELIVRD" in delivered.params["text"]
        assert "stat:UNDELIV" in failed.params["text"]
        # Kannel sends "Bridge" as an alphanumeric sender (TON 5), and registered
        # delivery; every receipt was acknowledged with ESME_ROK.
        assert {h.sender_seen for h in sim.handsets} == {"Bridge"}
        assert sim.stats.receipts_acked == 2 and sim.stats.receipts_nacked == 0
        assert sim.stats.binds == 1


async def test_kannel_transmitter_and_receiver_binds_with_delayed_receipts(
    kannel_esme: Callable[..., KannelEsme],
) -> None:
    async with simulator(receipt_delay=(0.2, 0.5), message_id_format="uuid") as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim, bind="tx+rx")
            refs = [await kannel.asend(f"44770090010{n}", f"message {n}") for n in range(3)]
            reports = [await kannel.await_dlr(ref, DLR_DELIVERED) for ref in refs]
            # Kannel may report the last receipt before we have read its deliver_sm_resp.
            await await_until(lambda: sim.stats.receipts_acked >= 3)
        assert len({r.params["fid"] for r in reports}) == 3
        modes = sorted(s.mode.name for s in sim.bound_sessions("kannel") if s.mode)
        assert modes == ["RECEIVER", "TRANSMITTER"]
        assert sim.stats.receipts_acked == 3


@pytest.mark.parametrize("form", ["decimal", "hex64"])
async def test_kannel_matches_text_only_receipts(
    kannel_esme: Callable[..., KannelEsme], form: str
) -> None:
    # Without receipted_message_id Kannel takes the id from the Appendix B text.
    async with simulator(receipt_tlvs=False, message_id_format=form) as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim)
            ref = await kannel.asend("447700900301", "text only receipt")
            delivered = await kannel.await_dlr(ref, DLR_DELIVERED)
            await await_until(lambda: sim.stats.receipts_acked >= 1)  # as above
        (handset,) = sim.handsets
        assert delivered.params["fid"] == handset.message_id
        assert sim.stats.receipts_acked == 1


async def test_kannel_reports_our_intermediate_notification(
    kannel_esme: Callable[..., KannelEsme],
) -> None:
    # dlr-mask 4 ("queued on SMSC") makes Kannel ask for intermediate notifications
    # (registered_delivery 0x11); our ENROUTE one (esm_class 0x20) is that report.
    async with simulator(intermediate_notifications=True, receipt_delay=(0.3, 0.3)) as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim)
            ref = await kannel.asend("447700900401", "with a queued report", dlr_mask=1 | 4)
            queued = await kannel.await_dlr(ref, DLR_QUEUED)
            delivered = await kannel.await_dlr(ref, DLR_DELIVERED)
            await await_until(lambda: sim.stats.receipts_acked >= 2)  # as above
        assert "stat:ENROUTE" in queued.params["text"]
        assert "stat:DELIVRD" in delivered.params["text"]
        assert sim.stats.receipts_acked == 2


async def test_kannel_passes_our_mo_on(kannel_esme: Callable[..., KannelEsme]) -> None:
    mo = MoConfig(rate=5, count=2, text="STOP {n}", source="447700900555", destination="12345")
    async with simulator(mo=mo) as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim)
            await await_until(lambda: len(kannel.mo()) == 2)
            await await_until(lambda: sim.stats.mo_acked == 2)
        texts = sorted(m.params["text"] for m in kannel.mo())
        assert texts == ["STOP 1", "STOP 2"]
        assert all(m.params["from"].endswith("447700900555") for m in kannel.mo())


async def test_kannel_resubmits_what_we_throttle(kannel_esme: Callable[..., KannelEsme]) -> None:
    async with simulator(throttle_tps=1) as sim:
        with trio.fail_after(TIMEOUT):
            kannel = await online(kannel_esme, sim, core_extra={"sms-resend-freq": "1"})
            refs = [await kannel.asend(f"44770090020{n}", f"burst {n}") for n in range(3)]
            for ref in refs:
                await kannel.await_dlr(ref, DLR_DELIVERED)
        # Kannel's first bursts hit the 1/s limit and were sent again later.
        assert sim.stats.throttled >= 1
        assert sim.stats.resps[0] == 3
        assert sim.stats.resps[CommandStatus.ESME_RTHROTTLED] == sim.stats.throttled


async def test_kannel_with_a_wrong_password_is_refused(
    kannel_esme: Callable[..., KannelEsme],
) -> None:
    async with simulator() as sim:
        with trio.fail_after(TIMEOUT):
            kannel = kannel_esme("127.0.0.1", sim.port, "kannel", "wrong", wait_online=False)
            await await_until(lambda: sim.stats.binds_rejected >= 1)
        assert sim.stats.binds == 0
        assert not kannel.online()
