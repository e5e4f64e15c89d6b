"""The carrier session against a hostile or half-dead SMSC (memory streams, autojump
clock): sequence numbers above 0x7FFFFFFF, a trickled PDU, an undecodable
submit_sm_resp, an oversized deliver_sm, and an SMSC that stops answering."""

from __future__ import annotations

import struct

import pytest
import trio
import trio.lowlevel
import trio.testing

from bridge.carrier import Accepted, Unknown, UnknownReason
from bridge.smpp import FrameReader, decode, encode
from bridge.smpp.constants import CommandId, CommandStatus, Tag
from bridge.smpp.pdus import DeliverSm, DeliverSmResp, GenericNack, SubmitSm
from config.schema import Duration
from tests.carrier.fakes import FakeSmsc, hold
from tests.carrier.test_carrier_memory import config, part, running, submit_all

Clock = trio.testing.MockClock
BIG_SEQ = 0x9DA1B2C3


def _frames(data: bytes) -> list[int]:
    reader = FrameReader()
    reader.feed(data)
    return [decode(f).command_id for f in reader]


async def test_deliver_sm_numbered_above_0x7fffffff_is_answered_with_that_number(
    autojump_clock: Clock,
) -> None:
    async with running(config()) as (carrier, net, inbound):
        smsc = net.smscs[0]
        receipt = DeliverSm(source_addr="4479", destination_addr="Bridge", esm_class=0x04,
                            short_message=b"id:1 stat:DELIVRD")
        await smsc.send_raw(encode(receipt, BIG_SEQ))
        item = await inbound.receive()
        assert item.pdu.sequence_number == BIG_SEQ
        item.ack(CommandStatus.ESME_ROK)
        await trio.testing.wait_all_tasks_blocked()
        # answered with its own number, and with its NULL message_id (17 octets)
        assert smsc.unsolicited == [DeliverSmResp(sequence_number=BIG_SEQ, message_id="")]
        assert carrier.up


async def test_receipt_refused_for_later_keeps_its_null_message_id(autojump_clock: Clock) -> None:
    async with running(config()) as (_carrier, net, inbound):
        smsc = net.smscs[0]
        seq = await smsc.deliver(source_addr="4479", destination_addr="B", short_message=b"mo")
        item = await inbound.receive()
        item.ack(CommandStatus.ESME_RX_T_APPN)  # the database is away
        await trio.testing.wait_all_tasks_blocked()
        (resp,) = smsc.responses
        # decoded with its body: message_id "" (a bodiless one decodes as None)
        assert resp == DeliverSmResp(sequence_number=seq, command_status=0x64, message_id="")


async def test_a_trickled_pdu_closes_the_bind_within_the_frame_timeout(
    autojump_clock: Clock,
) -> None:
    """60,000 octets announced, then one octet every 4 s: without the frame timeout the
    bind stayed "alive" for ever (bytes counted as life, no enquire_link went out)."""
    cfg = config(frame_timeout=Duration(15), enquire_link_interval=Duration(10))
    async with running(cfg) as (_carrier, net, _):
        smsc = net.smscs[0]
        start = trio.current_time()
        await smsc.send_raw(struct.pack(">IIII", 60_000, CommandId.DELIVER_SM, 0, 7))

        async def trickle() -> None:
            while not smsc.closed:
                await trio.sleep(4)
                try:
                    await smsc.send_raw(b"\0")
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle)
            with trio.fail_after(60):
                await net.wait_smscs(2)  # closed, and bound again
            nursery.cancel_scope.cancel()
        assert net.smscs[0].closed
        # closed 15 s after the PDU began (plus at most the reconnect backoff)
        assert 15 <= trio.current_time() - start < 15 + 2


async def test_an_undecodable_submit_sm_resp_resolves_the_part_at_once(
    autojump_clock: Clock,
) -> None:
    async with running(config(response_timeout=Duration(30))) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            result: list[object] = []

            async def one() -> None:
                result.append(await carrier.submit(part(1)))

            nursery.start_soon(one)
            await trio.testing.wait_all_tasks_blocked()
            (held,) = smsc.held
            # header intact, body broken: a message_id without its NUL
            bad = struct.pack(">IIII", 16 + 6, CommandId.SUBMIT_SM_RESP, 0,
                              held.sequence_number) + b"abcdef"
            await smsc.send_raw(bad)
        assert result == [Unknown(reason=UnknownReason.MALFORMED, attempts=1)]
        assert trio.current_time() - start < 1  # not at the 30 s response timeout
        assert carrier.up and carrier.health().unknown == 1


async def test_an_oversized_deliver_sm_is_nacked_and_the_bind_stays(
    autojump_clock: Clock,
) -> None:
    async with running(config(max_pdu_size=4096)) as (carrier, net, inbound):
        smsc = net.smscs[0]
        big = DeliverSm(source_addr="4479", destination_addr="B",
                        tlvs=((Tag.MESSAGE_PAYLOAD, b"p" * 60_000),))
        await smsc.send_raw(encode(big, 77))
        seq = await smsc.deliver(source_addr="4479", destination_addr="B", short_message=b"ok")
        item = await inbound.receive()
        assert item.pdu.sequence_number == seq
        item.ack(0)
        await trio.testing.wait_all_tasks_blocked()
        assert smsc.unsolicited == [
            GenericNack(sequence_number=77, command_status=CommandStatus.ESME_RINVCMDLEN)]
        assert [r.sequence_number for r in smsc.responses] == [seq]
        assert carrier.up and carrier.health().binds[0].binds == 1


@pytest.mark.parametrize("window", [4, 8])
async def test_a_dead_smsc_costs_at_most_one_window_then_is_probed_and_closed(
    autojump_clock: Clock, window: int,
) -> None:
    cfg = config(window=window, response_timeout=Duration(5),
                 enquire_link_interval=Duration(60))
    async with running(cfg) as (carrier, net, _):
        first = net.smscs[0]
        first.on_submit = hold
        results: list[object] = []

        async def go() -> None:
            results.extend(await submit_all(carrier, [part(n) for n in range(3 * window)]))

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(go)
            await trio.testing.wait_all_tasks_blocked()
            assert len(first.held) == window
            first.reading = False  # from now on the SMSC reads and answers nothing
            second = await net.wait_smscs(2)
            closed_after = trio.current_time() - start
        # timeouts at 5 s, the probe unanswered at 10 s: closed, bound again
        assert 10 <= closed_after < 10 + 2
        written_after = _frames(bytes(first.dropped))
        assert written_after == [CommandId.ENQUIRE_LINK]  # one probe, no more submits
        unknown = [r for r in results if isinstance(r, Unknown)]
        assert len(unknown) == window and all(r.reason == "timeout" for r in unknown)
        assert sum(isinstance(r, Accepted) for r in results) == 2 * window
        assert len(second.submits) == 2 * window


async def test_an_answered_probe_resumes_the_bind(autojump_clock: Clock) -> None:
    cfg = config(window=4, response_timeout=Duration(5), enquire_link_interval=Duration(60),
                 max_consecutive_timeouts=2)
    answer = {"on": False}

    def maybe(smsc: FakeSmsc, pdu: SubmitSm) -> int | None:
        return 0 if answer["on"] else None

    async with running(cfg) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = maybe
        results = await submit_all(carrier, [part(n) for n in range(2)])
        assert all(isinstance(r, Unknown) for r in results)
        # the fake's connection answers the probe (enquire_link) by itself: resumed
        await trio.testing.wait_all_tasks_blocked()
        answer["on"] = True
        (outcome,) = await submit_all(carrier, [part(9)])
        assert isinstance(outcome, Accepted)
        assert len(net.smscs) == 1 and carrier.up


async def test_no_enquire_link_on_a_link_declared_lost(autojump_clock: Clock) -> None:
    cfg = config(enquire_link_interval=Duration(30), response_timeout=Duration(10))
    async with running(cfg) as (_carrier, net, _):
        first = net.smscs[0]
        first.reading = False  # silent without closing (Net::SMPP's smsc.pl does that)
        await trio.lowlevel.checkpoint()
        await net.wait_smscs(2)
        await trio.testing.wait_all_tasks_blocked()
        assert _frames(bytes(first.dropped)) == [CommandId.ENQUIRE_LINK]  # one, not two


async def test_a_deliver_sm_with_a_full_message_payload_is_taken(autojump_clock: Clock) -> None:
    """65,535 octets of message_payload plus the mandatory fields: above the former
    65,536-octet limit (generic_nack, TCP reset, the SMSC's redelivery killing every
    new bind), within the default max_pdu_size."""
    async with running(config()) as (carrier, net, inbound):
        smsc = net.smscs[0]
        seq = await smsc.deliver(source_addr="4" * 20, destination_addr="B" * 20,
                                 tlvs=((Tag.MESSAGE_PAYLOAD, b"p" * 65_535),
                                       (Tag.RECEIPTED_MESSAGE_ID, b"x" * 64 + b"\0")))
        item = await inbound.receive()
        assert item.pdu.tlv(Tag.MESSAGE_PAYLOAD) == b"p" * 65_535
        item.ack(CommandStatus.ESME_ROK)
        await trio.testing.wait_all_tasks_blocked()
        assert [(r.sequence_number, r.command_status) for r in smsc.responses] == [(seq, 0)]
        assert carrier.up and carrier.health().binds[0].binds == 1
