"""A carrier with binds of several modes (SMPP 3.4 section 2.2): submits on tx and
trx binds only, receipts and MO from any receiving bind belong to the carrier."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from bridge.carrier import Accepted, Carrier, CarrierClosed, Inbound
from bridge.smpp.pdus import BindReceiver, BindTransmitter, DeliverSm, DeliverSmResp
from config.schema import BindGroup, BindMode
from tests.carrier.fakes import FakeNetwork, FakeSmsc
from tests.carrier.test_carrier_memory import config, part, submit_all

Clock = trio.testing.MockClock
TX_RX = [BindGroup(mode=BindMode.TX, count=2), BindGroup(mode=BindMode.RX, count=1)]


def _by_bind(net: FakeNetwork, kind: type) -> list[FakeSmsc]:
    return [s for s in net.smscs if s.binds and isinstance(s.binds[0], kind)]


async def test_submits_go_to_transmitters_receipts_come_from_the_receiver(autojump_clock: Clock) -> None:
    send, receive = trio.open_memory_channel[Inbound](10)
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        carrier = Carrier(config(binds=TX_RX, window=2), password="pw", inbound=send,
                          connect=net.connect, rng=random.Random(1))  # fmt: skip
        await nursery.start(carrier.run)
        assert (carrier.submit_slots, carrier.receive_slots) == ((0, 1), (2,))
        assert carrier.up and carrier.can_submit
        health = carrier.health()
        assert [(b.slot, b.mode, b.state) for b in health.binds] == [
            (0, "tx", "bound_tx"), (1, "tx", "bound_tx"), (2, "rx", "bound_rx"),
        ]  # fmt: skip
        assert health.can_submit

        outcomes = await submit_all(carrier, [part(n) for n in range(20)])
        assert all(isinstance(o, Accepted) for o in outcomes) and len(outcomes) == 20
        transmitters, (receiver,) = _by_bind(net, BindTransmitter), _by_bind(net, BindReceiver)
        assert sum(len(s.submits) for s in transmitters) == 20
        assert all(s.submits for s in transmitters)  # both tx binds took a share
        assert receiver.submits == []

        # A receipt on the rx bind is the carrier's, and is acknowledged on that bind.
        seq = await receiver.deliver(esm_class=0x04, short_message=b"id:id1 stat:DELIVRD")
        inbound = await receive.receive()
        assert inbound.carrier == "fake" and isinstance(inbound.pdu, DeliverSm)
        inbound.ack(0)
        await trio.sleep(0.1)
        assert [(type(r), r.sequence_number) for r in receiver.responses] == [(DeliverSmResp, seq)]
        nursery.cancel_scope.cancel()


async def test_a_pool_of_receiver_slots_only_never_submits(autojump_clock: Clock) -> None:
    send, _receive = trio.open_memory_channel[Inbound](10)
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        # The daemon runs the slots it holds: here only slot 2, the receiver.
        carrier = Carrier(config(binds=TX_RX), password="pw", inbound=send,
                          connect=net.connect, slots=[2])  # fmt: skip
        await nursery.start(carrier.run)
        assert carrier.up and not carrier.can_submit and carrier.submit_slots == ()
        assert [(b.slot, b.mode) for b in carrier.health().binds] == [(2, "rx")]
        assert [type(s.binds[0]) for s in net.smscs] == [BindReceiver]
        with pytest.raises(CarrierClosed):
            await carrier.submit(part())
        assert not carrier.submit_nowait(part(), lambda _o: None)
        nursery.cancel_scope.cancel()


async def test_the_router_flag_follows_the_transmitters_only(autojump_clock: Clock) -> None:
    """The receiver stays bound while the transmitters are refused: up, but can_submit is False."""
    send, _receive = trio.open_memory_channel[Inbound](10)

    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        carrier = Carrier(config(binds=[BindGroup(mode=BindMode.TX), BindGroup(mode=BindMode.RX)]),
                          password="pw", inbound=send, connect=net.connect)  # fmt: skip
        await nursery.start(carrier.run)
        assert carrier.can_submit
        # Refuse every new bind from now on and cut the transmitter.
        net.make = lambda stream: FakeSmsc(stream, bind_status=0x0D)
        (transmitter,) = _by_bind(net, BindTransmitter)
        await transmitter.hang_up()
        await trio.sleep(5)
        assert carrier.up and not carrier.can_submit
        assert [b.bound for b in carrier.health().binds] == [False, True]
        nursery.cancel_scope.cancel()
