"""Our carrier sessions (bridge.carrier) against SMPP peers nobody here wrote.

node-smpp (smsc.js) and Debian's Net::SMPP smsc.pl, over real loopback sockets,
so the real clock (never autojump) and a trio.fail_after on every wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import ANY

import trio

from bridge.carrier import Accepted, Carrier, Inbound, TimedOut
from bridge.smpp.constants import CommandId, CommandStatus
from bridge.smpp.pdus import DeliverSm, QuerySm, SubmitSm
from config.schema import BindGroup, BindMode, Duration
from config.schema import Carrier as CarrierConfig
from tests.interop.peers import NetSmppSmsc, NodeSmsc

WAIT = 10.0


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll a carrier's health until ``predicate`` holds (bounded by the caller's
    fail_after): the health snapshot is a value, not something one can wait on."""
    while True:
        if predicate():
            return
        await trio.sleep(0.05)


def config(host: str, port: int, **kw: Any) -> CarrierConfig:
    base: dict[str, Any] = dict(name="peer", host=host, port=port, system_id="bridge",
                                window=16, tps=1000.0, response_timeout=Duration(5),
                                enquire_link_interval=Duration(30))
    base.update(kw)
    return CarrierConfig(**base)


def part(to: str = "447700900123", text: bytes = b"interop hello", dlr: int = 1) -> SubmitSm:
    return SubmitSm(source_addr_ton=5, source_addr="Bridge", dest_addr_ton=1, dest_addr_npi=1,
                    destination_addr=to, short_message=text, registered_delivery=dlr)


@asynccontextmanager
async def carrier_on(
    cfg: CarrierConfig, password: str = "secret"
) -> AsyncIterator[tuple[Carrier, trio.MemoryReceiveChannel[Inbound]]]:
    send, receive = trio.open_memory_channel[Inbound](100)
    carrier = Carrier(cfg, password=password, inbound=send)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT):
            await nursery.start(carrier.run)
        yield carrier, receive
        with trio.fail_after(WAIT):
            await carrier.stop(2.0)


# ------------------------------------------------------------------ node-smpp


async def test_node_bind_submit_receipt_enquire_link_unbind(node_smsc: NodeSmsc) -> None:
    cfg = config(node_smsc.host, node_smsc.port, enquire_link_interval=Duration(0.5))
    async with carrier_on(cfg) as (carrier, inbound):
        assert carrier.up
        with trio.fail_after(WAIT):
            outcome = await carrier.submit(part())
            assert isinstance(outcome, Accepted) and outcome.attempts == 1
            receipt = await inbound.receive()
        assert isinstance(receipt.pdu, DeliverSm)
        assert receipt.pdu.esm_class & 0x3C == 0x04  # SMPP 3.4 section 5.2.12
        assert receipt.pdu.tlv(0x001E) == outcome.message_id  # receipted_message_id
        assert b"stat:DELIVRD" in receipt.pdu.short_message
        receipt.ack(CommandStatus.ESME_ROK)
        with trio.fail_after(WAIT):
            (resp,) = await node_smsc.await_pdus("deliver_sm_resp", "in")
            assert resp["command_status"] == 0
            # idle for 0.5 s: our enquire_link went out and was answered
            await node_smsc.await_pdus("enquire_link", "in")
            await eventually(lambda: carrier.health().binds[0].enquire_link_rtt is not None)
        (submit_in,) = node_smsc.pdus("submit_sm", "in")
        assert submit_in["fields"]["destination_addr"] == "447700900123"
        assert submit_in["fields"]["short_message"]["message"] == "interop hello"
    with trio.fail_after(WAIT):
        await node_smsc.await_pdus("unbind", "in")
        await node_smsc.await_pdus("unbind_resp", "out")
    assert not carrier.up


async def test_node_wrong_password_is_a_counted_bind_failure(node_smsc: NodeSmsc) -> None:
    cfg = config(node_smsc.host, node_smsc.port)
    async with carrier_on(cfg, password="wrong") as (carrier, _):
        assert not carrier.up
        assert carrier.health().binds[0].bind_failures == 1
        with trio.fail_after(WAIT):
            (resp,) = await node_smsc.await_pdus("bind_transceiver_resp", "out")
        assert resp["command_status"] == CommandStatus.ESME_RINVPASWD


async def test_node_throttle_is_retried_and_many_submits_are_windowed(
    node_smsc_factory: Any,
) -> None:
    smsc = node_smsc_factory(options=["--reject-every", "5", "--reject-status", "0x58"])
    cfg = config(smsc.host, smsc.port, window=8)
    async with carrier_on(cfg) as (carrier, _):
        outcomes: list[Any] = []

        async def one(n: int) -> None:
            outcomes.append(await carrier.submit(part(text=b"m%d" % n, dlr=0)))

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                for n in range(40):
                    nursery.start_soon(one, n)
        assert len(outcomes) == 40 and all(isinstance(o, Accepted) for o in outcomes)
        assert len({o.message_id for o in outcomes}) == 40
        assert sum(o.attempts - 1 for o in outcomes) >= 8  # every 5th was throttled once
        assert carrier.health().throttled >= 8


async def test_node_receiver_bind_gets_receipts_of_a_transmitter(
    node_smsc: NodeSmsc,
) -> None:
    # One carrier, a transmitter and a receiver bind (config binds groups).
    groups = [BindGroup(mode=BindMode.TX), BindGroup(mode=BindMode.RX)]
    async with carrier_on(config(node_smsc.host, node_smsc.port, binds=groups)) as (carrier, inbound):
        assert [b.mode for b in carrier.health().binds] == ["tx", "rx"]
        with trio.fail_after(WAIT):
            outcome = await carrier.submit(part())
            receipt = await inbound.receive()
        assert isinstance(outcome, Accepted)
        assert receipt.carrier == "peer" and receipt.pdu.tlv(0x001E) == outcome.message_id
        receipt.ack(CommandStatus.ESME_ROK)


async def test_node_receipt_on_a_transmitter_bind_is_taken(node_smsc_factory: Any) -> None:
    # Some carriers send receipts on a transmitter bind (not allowed by SMPP 3.4
    # table 2-1, tolerated by bridge/smpp/state.py): the carrier must still take them.
    smsc = node_smsc_factory(options=["--receipt-on-tx"])
    cfg = config(smsc.host, smsc.port, bind_mode=BindMode.TX)
    async with carrier_on(cfg) as (carrier, inbound):
        with trio.fail_after(WAIT):
            outcome = await carrier.submit(part())
            receipt = await inbound.receive()
            assert isinstance(outcome, Accepted)
            assert receipt.pdu.tlv(0x001E) == outcome.message_id
            receipt.ack(CommandStatus.ESME_ROK)
            (resp,) = await smsc.await_pdus("deliver_sm_resp", "in")
        assert resp["command_status"] == 0


async def test_node_smsc_initiated_unbind_and_drop_reconnect(node_smsc: NodeSmsc) -> None:
    cfg = config(node_smsc.host, node_smsc.port)
    async with carrier_on(cfg) as (carrier, _):
        node_smsc.control("unbind")
        with trio.fail_after(WAIT):
            await node_smsc.await_pdus("unbind_resp", "in")
            await eventually(lambda: carrier.health().binds[0].binds >= 2)  # bound again after a backoff
            node_smsc.control("close")
            await eventually(lambda: carrier.health().binds[0].binds >= 3)
            assert isinstance(await carrier.submit(part(dlr=0)), Accepted)


# ------------------------------------------------------------------ Net::SMPP


async def test_netsmpp_bind_submit_enquire_link_unbind(netsmpp_smsc: NetSmppSmsc) -> None:
    cfg = config(netsmpp_smsc.host, netsmpp_smsc.port, enquire_link_interval=Duration(0.5))
    async with carrier_on(cfg) as (carrier, inbound):
        with trio.fail_after(WAIT):
            first = await carrier.submit(part())
            second = await carrier.submit(part())
            await netsmpp_smsc.await_received(CommandId.ENQUIRE_LINK)
            await eventually(lambda: carrier.health().binds[0].enquire_link_rtt is not None)
        # smsc.pl answers every submit with the same id (docs/interop.md)
        assert [first, second] == [Accepted(message_id=netsmpp_smsc.message_id, attempts=1, written_at=ANY)] * 2
        assert inbound.statistics().current_buffer_used == 0  # it never sends receipts
    with trio.fail_after(WAIT):
        await netsmpp_smsc.await_received(CommandId.UNBIND)
    # the child exits after unbind_resp without closing: we closed, nothing hangs
    assert not carrier.up


async def test_netsmpp_silent_peer_is_noticed_by_the_response_timeout(
    netsmpp_smsc: NetSmppSmsc,
) -> None:
    # An unknown command id makes a child sleep without answering; ours is a
    # query_sm, which kills the child but keeps the socket open: only our
    # response timeout and enquire_link can notice (docs/interop.md).
    cfg = config(netsmpp_smsc.host, netsmpp_smsc.port, response_timeout=Duration(1),
                 enquire_link_interval=Duration(0.5))
    async with carrier_on(cfg) as (carrier, _):
        session = carrier._slots[0].session
        assert session is not None
        with trio.fail_after(WAIT):
            result = await session.submit(QuerySm(message_id="1"), trio.current_time())
        assert isinstance(result, TimedOut)
        with trio.fail_after(WAIT):
            await eventually(lambda: carrier.health().binds[0].binds >= 2)  # link lost, bound again
            outcome = await carrier.submit(part(dlr=0))
        assert outcome == Accepted(message_id=netsmpp_smsc.message_id, attempts=1, written_at=ANY)
