"""Carrier and Session against a scripted SMSC on trio memory streams, with the
autojump clock for every timer (response timeouts, enquire_link, backoff, drain)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import ANY

import pytest
import structlog
import trio
import trio.lowlevel
import trio.testing

from bridge.carrier import (
    Accepted,
    Carrier,
    CarrierClosed,
    Inbound,
    LateResponse,
    Rejected,
    SubmitOutcome,
    Unknown,
    UnknownReason,
)
from bridge.carrier.backoff import BackoffPolicy
from bridge.carrier.policy import RetryPolicy
from bridge.smpp.constants import CommandStatus
from bridge.smpp.events import CloseReason
from bridge.smpp.pdus import (
    BindTransceiver,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
)
from config.schema import BindMode, Duration
from config.schema import Carrier as CarrierConfig
from tests.carrier.fakes import FakeNetwork, FakeSmsc, hold

Clock = trio.testing.MockClock


def config(**kw: Any) -> CarrierConfig:
    base: dict[str, Any] = dict(
        name="fake", host="smsc.invalid", system_id="bridge", window=8, tps=1e6,
        response_timeout=Duration(10), enquire_link_interval=Duration(30),
        system_type="bulk", address_range="^123", interface_version=0x34,
    )
    base.update(kw)
    return CarrierConfig(**base)


def part(n: int = 0) -> SubmitSm:
    return SubmitSm(source_addr="Bridge", destination_addr=f"4479{n:08d}",
                    short_message=f"body {n}".encode(), registered_delivery=1)


@asynccontextmanager
async def running(
    cfg: CarrierConfig,
    make: Callable[[trio.abc.Stream], FakeSmsc] | None = None,
    inbound_size: int = 10,
    refuse: bool = False,
) -> AsyncIterator[tuple[Carrier, FakeNetwork, trio.MemoryReceiveChannel[Inbound]]]:
    send, receive = trio.open_memory_channel[Inbound](inbound_size)
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        if make is not None:
            net.make = make
        net.refuse = refuse
        carrier = Carrier(cfg, password="secret", inbound=send, connect=net.connect,
                          rng=random.Random(5))
        await nursery.start(carrier.run)
        yield carrier, net, receive
        nursery.cancel_scope.cancel()


async def submit_all(carrier: Carrier, parts: list[SubmitSm]) -> list[SubmitOutcome]:
    out: list[SubmitOutcome | None] = [None] * len(parts)

    async def one(i: int) -> None:
        out[i] = await carrier.submit(parts[i])

    async with trio.open_nursery() as nursery:
        for i in range(len(parts)):
            nursery.start_soon(one, i)
    return [o for o in out if o is not None]


async def test_bind_with_configured_credentials_and_submit(autojump_clock: Clock) -> None:
    async with running(config()) as (carrier, net, _):
        assert carrier.up
        bind = net.smscs[0].binds[0]
        assert isinstance(bind, BindTransceiver)
        assert (bind.system_id, bind.password, bind.system_type, bind.address_range,
                bind.interface_version) == ("bridge", "secret", "bulk", "^123", 0x34)
        outcome = await carrier.submit(part(1))
        assert outcome == Accepted(message_id="id1", attempts=1, written_at=ANY)
        assert net.smscs[0].submits[0].short_message == b"body 1"
        assert carrier.health().binds[0].state == "bound_trx"


@pytest.mark.parametrize(("mode", "pdu"), [(BindMode.TX, "BindTransmitter"),
                                           (BindMode.RX, "BindReceiver")])
async def test_bind_modes(autojump_clock: Clock, mode: BindMode, pdu: str) -> None:
    async with running(config(bind_mode=mode)) as (carrier, net, _):
        assert type(net.smscs[0].binds[0]).__name__ == pdu
        if mode is BindMode.RX:
            with pytest.raises(CarrierClosed):
                await carrier.submit(part())


async def test_bind_refused_is_counted_down_and_retried_with_backoff(
    autojump_clock: Clock,
) -> None:
    make = lambda s: FakeSmsc(s, bind_status=CommandStatus.ESME_RINVPASWD)  # noqa: E731
    async with running(config(), make=make) as (carrier, net, _):
        assert not carrier.up  # started returned after the first (failed) attempt
        start = trio.current_time()
        await trio.sleep(100)
        health = carrier.health()
        assert health.binds[0].bind_failures == net.connects >= 4
        # capped exponential: base 1 s doubling up to 60 s, equal jitter
        assert net.connects < 12
        assert trio.current_time() - start == 100
        assert net.live <= 1


async def test_connect_refused_keeps_retrying(autojump_clock: Clock) -> None:
    async with running(config(), refuse=True) as (carrier, net, _):
        assert not carrier.up
        await trio.sleep(30)
        assert 3 <= net.connects < 10
        assert carrier.health().binds[0].connect_failures == net.connects
        net.refuse = False
        await trio.sleep(70)
        assert carrier.up
        assert (await carrier.submit(part())).attempts == 1


async def test_bind_that_does_not_encode_is_a_counted_failure(autojump_clock: Clock) -> None:
    send, _receive = trio.open_memory_channel[Inbound](1)
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        carrier = Carrier(config(), password="pa\u20acs", inbound=send, connect=net.connect,
                          rng=random.Random(5))  # fmt: skip  # not Latin-1
        with structlog.testing.capture_logs() as logs:
            await nursery.start(carrier.run)
            await trio.sleep(5)
        assert not carrier.up and carrier.health().binds[0].bind_failures >= 2  # retried
        assert not any("\u20ac" in str(e) for e in logs)
        nursery.cancel_scope.cancel()


async def test_unanswered_bind_is_a_counted_failure(autojump_clock: Clock) -> None:
    make = lambda s: FakeSmsc(s, reading=False)  # noqa: E731  (a silent peer)
    async with running(config(response_timeout=Duration(10)), make=make) as (carrier, net, _):
        assert not carrier.up
        assert trio.current_time() == pytest.approx(10)  # the bind's response timeout
        assert carrier.health().binds[0].bind_failures == 1
        net.make = FakeSmsc
        await trio.sleep(2)
        assert carrier.up and carrier.health().binds[0].binds == 1


async def test_window_is_never_exceeded_and_submit_waits(autojump_clock: Clock) -> None:
    make = lambda s: FakeSmsc(s, on_submit=hold)  # noqa: E731
    async with running(config(window=4)) as (carrier, net, _):
        net.make = make  # only new connections hold; the first one too:
        smsc = net.smscs[0]
        smsc.on_submit = hold
        results: list[SubmitOutcome] = []

        async def one(n: int) -> None:
            results.append(await carrier.submit(part(n)))

        async with trio.open_nursery() as nursery:
            for n in range(10):  # one at a time: trio starts a batch in any order
                nursery.start_soon(one, n)
                await trio.testing.wait_all_tasks_blocked()
            assert len(smsc.held) == 4  # the other 6 wait for a window place
            assert carrier.health().binds[0].window_used == 4
            for _ in range(3):
                await smsc.answer_held()
                await trio.testing.wait_all_tasks_blocked()
        assert len(results) == 10 and all(isinstance(r, Accepted) for r in results)
        assert smsc.outstanding_max == 4
        # FIFO hand-over: freed places go to the longest waiters first
        written = [p.short_message for p in smsc.submits]
        groups = [set(written[0:4]), set(written[4:8]), set(written[8:])]
        assert groups == [{b"body %d" % n for n in r} for r in (range(4), range(4, 8),
                                                                 range(8, 10))]


async def test_writes_are_coalesced(autojump_clock: Clock) -> None:
    async with running(config(window=64)) as (carrier, net, _):
        outcomes = await submit_all(carrier, [part(n) for n in range(256)])
        assert all(isinstance(o, Accepted) for o in outcomes)
        sends = net.client_streams[0].sends
        assert sends <= 256 // 8, sends  # many PDUs per send_all


async def test_throttled_part_is_resubmitted_and_rate_adapts(autojump_clock: Clock) -> None:
    seen: dict[bytes, int] = {}

    def throttle_first(_: FakeSmsc, pdu: SubmitSm) -> int:
        seen[pdu.short_message] = seen.get(pdu.short_message, 0) + 1
        return CommandStatus.ESME_RTHROTTLED if seen[pdu.short_message] == 1 else 0

    async with running(config(tps=100.0)) as (carrier, net, _):
        net.smscs[0].on_submit = throttle_first
        outcome = await carrier.submit(part(7))
        assert outcome == Accepted(message_id="id2", attempts=2, written_at=ANY)
        first, second = net.smscs[0].submits
        assert first.short_message == second.short_message == b"body 7"
        assert first.sequence_number != second.sequence_number
        health = carrier.health()
        assert health.throttled == 1 and health.throttle_rate == 50.0
        assert health.max_rate == 100.0


async def test_throttling_storm_slows_the_send_rate(autojump_clock: Clock) -> None:
    # The SMSC accepts 50/s and throttles above; we start at 200/s.
    stamps: list[float] = []

    def limiter(_: FakeSmsc, __: SubmitSm) -> int:
        now = trio.current_time()
        recent = [t for t in stamps if t > now - 1.0]
        if len(recent) >= 50:
            return CommandStatus.ESME_RTHROTTLED
        stamps.append(now)
        return 0

    async with running(config(tps=200.0, window=16, max_attempts=10)) as (carrier, net, _):
        net.smscs[0].on_submit = limiter
        outcomes = await submit_all(carrier, [part(n) for n in range(400)])
        assert all(isinstance(o, Accepted) for o in outcomes)
        assert carrier.throttle.rate < 200.0
        total = len(net.smscs[0].submits)
        assert total < 400 * 2, total  # AIMD keeps the throttled share small


async def test_temporary_errors_retry_until_max_attempts(autojump_clock: Clock) -> None:
    async with running(config(max_attempts=3)) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: CommandStatus.ESME_RSYSERR
        start = trio.current_time()
        assert await carrier.submit(part()) == Rejected(status=0x08, attempts=3)
        assert len(net.smscs[0].submits) == 3
        assert trio.current_time() - start >= 0.5 + 1.0  # backoff between attempts


@pytest.mark.parametrize("status", [CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RTHROTTLED])
async def test_throttling_answers_do_not_count_toward_max_attempts(
    autojump_clock: Clock, status: int
) -> None:
    """0x14 and 0x58 slow the carrier down and resubmit; max_age alone ends them (policy.py)."""
    answers = iter([status] * 6 + [CommandStatus.ESME_RSYSERR, status, 0])
    async with running(config(max_attempts=2, max_age=Duration(600))) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: next(answers)
        rate = carrier.throttle.rate
        outcome = await carrier.submit(part())
        assert outcome == Accepted(message_id=outcome.message_id, attempts=9, written_at=ANY)  # type: ignore[union-attr]
        assert carrier.throttle.rate < rate and carrier.throttle.throttled == 7

        net.smscs[0].on_submit = lambda *_: status  # queue full for good: max_age ends it
        start = trio.current_time()
        outcome = await carrier.submit(part(1))
        assert isinstance(outcome, Rejected) and outcome.status == status and outcome.attempts > 2
        assert 500 <= trio.current_time() - start <= 600


async def test_stop_ends_a_retry_backoff_with_carrier_closed(autojump_clock: Clock) -> None:
    # A part between two attempts is not in flight: a stop hands it back at once
    # (requeue), not after its backoff, which may outlast the daemon's drain.
    cfg = config(max_attempts=5, max_age=Duration(600))
    async with running(cfg) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: CommandStatus.ESME_RMSGQFUL
        carrier.policy = RetryPolicy(max_attempts=5, max_age=600,
                                     backoff=BackoffPolicy(base=60, cap=60))  # fmt: skip
        closed_at: list[float] = []

        async def one() -> None:
            with pytest.raises(CarrierClosed):
                await carrier.submit(part())
            closed_at.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one)
            await trio.testing.wait_all_tasks_blocked()
            assert len(net.smscs[0].submits) == 1  # answered 0x14, now backing off
            start = trio.current_time()
            await carrier.stop(5, unbind_timeout=1)
        assert len(closed_at) == 1 and closed_at[0] - start < 1
        assert len(net.smscs[0].submits) == 1


async def test_max_age_ends_retries(autojump_clock: Clock) -> None:
    async with running(config(max_attempts=50, max_age=Duration(20))) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: CommandStatus.ESME_RSYSERR
        start = trio.current_time()
        outcome = await carrier.submit(part())
        assert isinstance(outcome, Rejected) and outcome.status == 0x08
        assert 3 <= outcome.attempts < 50
        assert trio.current_time() - start <= 20


async def test_permanent_error_fails_at_once(autojump_clock: Clock) -> None:
    async with running(config()) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: CommandStatus.ESME_RINVDSTADR
        assert await carrier.submit(part()) == Rejected(status=0x0B, attempts=1)


async def test_invalid_bind_status_rebinds_then_retries(autojump_clock: Clock) -> None:
    async with running(config()) as (carrier, net, _):
        net.smscs[0].on_submit = lambda *_: CommandStatus.ESME_RINVBNDSTS
        outcome = await carrier.submit(part(3))
        assert outcome == Accepted(message_id="id1", attempts=2, written_at=ANY)
        assert net.smscs[0].close_reason is CloseReason.UNBOUND_BY_PEER
        assert len(net.smscs) == 2 and net.smscs[1].submits[0].short_message == b"body 3"
        assert carrier.health().binds[0].binds == 2


async def test_timeout_is_unknown_and_late_response_is_reported(autojump_clock: Clock) -> None:
    late: list[LateResponse] = []
    send, _ = trio.open_memory_channel[Inbound](1)
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        carrier = Carrier(config(response_timeout=Duration(5)), password="p", inbound=send,
                          connect=net.connect, on_late=late.append)
        await nursery.start(carrier.run)
        smsc = net.smscs[0]
        smsc.on_submit = hold
        start = trio.current_time()
        outcome = await carrier.submit(part())
        assert isinstance(outcome, Unknown) and outcome.reason is UnknownReason.TIMEOUT
        assert outcome.attempts == 1 and outcome.ref is not None
        assert trio.current_time() - start == pytest.approx(5, abs=0.01)
        assert carrier.health().late_responses == 0
        await smsc.answer_held()
        await trio.testing.wait_all_tasks_blocked()
        health = carrier.health()
        assert health.late_responses == 1 and health.unknown == 1
        # the daemon can still apply it: same ref as the Unknown outcome
        assert late == [LateResponse(carrier="fake", ref=outcome.ref, status=0,
                                     message_id="id1")]
        assert carrier.up  # a late answer is no reason to drop the bind
        nursery.cancel_scope.cancel()


async def test_disconnect_mid_window_resolves_in_flight_as_disconnected(
    autojump_clock: Clock,
) -> None:
    async with running(config(window=8)) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        results: list[SubmitOutcome] = []

        async def one(n: int) -> None:
            results.append(await carrier.submit(part(n)))

        async with trio.open_nursery() as nursery:
            for n in range(12):
                nursery.start_soon(one, n)
            await trio.testing.wait_all_tasks_blocked()
            assert len(smsc.held) == 8
            await smsc.hang_up()
            second = await net.wait_smscs(2)  # reconnected
        # the 8 written ones are Unknown; the 4 that waited went to the new bind
        unknown = [r for r in results if isinstance(r, Unknown)]
        accepted = [r for r in results if isinstance(r, Accepted)]
        assert len(unknown) == 8 and all(r.reason == "disconnected" for r in unknown)
        assert len(accepted) == 4 and len(second.submits) == 4
        written = [p.short_message for p in smsc.submits + second.submits]
        assert sorted(written) == sorted(p.short_message for p in map(part, range(12)))
        assert net.live == 1  # never two live binds for one slot


async def test_inbound_deliver_and_ack(autojump_clock: Clock) -> None:
    async with running(config()) as (_carrier, net, inbound):
        smsc = net.smscs[0]
        seq = await smsc.deliver(source_addr="4479", destination_addr="Bridge",
                                 esm_class=0x04, short_message=b"id:1 stat:DELIVRD")
        item = await inbound.receive()
        assert isinstance(item.pdu, DeliverSm)
        assert item.carrier == "fake" and item.pdu.short_message == b"id:1 stat:DELIVRD"
        assert seq in smsc.conn.outstanding  # not answered before ack
        item.ack(CommandStatus.ESME_ROK)
        await trio.testing.wait_all_tasks_blocked()
        (resp,) = smsc.responses
        assert isinstance(resp, DeliverSmResp) and resp.sequence_number == seq
        assert resp.command_status == 0
        await smsc.hang_up()
        await trio.testing.wait_all_tasks_blocked()
        item.ack(CommandStatus.ESME_ROK)  # bind gone: a no-op, no exception


async def test_inbound_channel_backpressure(autojump_clock: Clock) -> None:
    async with running(config(), inbound_size=1) as (_carrier, net, inbound):
        smsc = net.smscs[0]
        for n in range(3):
            await smsc.deliver(source_addr="4479", destination_addr="B",
                               short_message=b"mo %d" % n)
        await trio.testing.wait_all_tasks_blocked()
        # one in the channel, the reader waits with the second: nothing acked
        assert inbound.statistics().current_buffer_used == 1
        got = [await inbound.receive() for _ in range(3)]
        assert [getattr(g.pdu, "short_message", None) for g in got] == [b"mo 0", b"mo 1",
                                                                         b"mo 2"]
        for g in got:
            g.ack(CommandStatus.ESME_RX_T_APPN)
        await trio.testing.wait_all_tasks_blocked()
        assert [r.command_status for r in smsc.responses] == [0x64] * 3


async def test_inbound_channel_closed_while_the_reader_waits(autojump_clock: Clock) -> None:
    # The reader is blocked on a full channel when the daemon closes its end: the
    # waiting receipt is answered "try later" and the bind stays up (it used to
    # raise BrokenResourceError out of the reader and take the carrier down).
    async with running(config(), inbound_size=1) as (carrier, net, inbound):
        smsc = net.smscs[0]
        for n in range(2):
            await smsc.deliver(source_addr="4479", destination_addr="B",
                               short_message=b"mo %d" % n)  # fmt: skip
        await trio.testing.wait_all_tasks_blocked()
        assert inbound.statistics().current_buffer_used == 1 and smsc.responses == []
        inbound.close()
        await trio.testing.wait_all_tasks_blocked()
        assert [r.command_status for r in smsc.responses] == [CommandStatus.ESME_RX_T_APPN]
        await smsc.deliver(source_addr="4479", destination_addr="B", short_message=b"mo 2")
        await trio.testing.wait_all_tasks_blocked()
        assert [r.command_status for r in smsc.responses] == [CommandStatus.ESME_RX_T_APPN] * 2
        assert carrier.up and carrier.health().binds[0].binds == 1


async def test_enquire_link_when_idle_and_rtt_in_health(autojump_clock: Clock) -> None:
    async with running(config(enquire_link_interval=Duration(30))) as (carrier, _net, _):
        assert carrier.health().binds[0].enquire_link_rtt is None
        await trio.sleep(29)
        assert carrier.health().binds[0].enquire_link_rtt is None  # not idle long enough
        await trio.sleep(2)
        # answered (by the fake's connection, automatically) over a memory stream: rtt 0
        assert carrier.health().binds[0].enquire_link_rtt == 0
        assert carrier.up


async def test_unanswered_enquire_link_drops_and_rebinds(autojump_clock: Clock) -> None:
    async with running(config(enquire_link_interval=Duration(30),
                              response_timeout=Duration(10))) as (carrier, net, _):
        net.smscs[0].reading = False  # dead peer: reads nothing, answers nothing
        await trio.lowlevel.checkpoint()  # the fake notices at its next read
        await net.wait_smscs(2)
        assert 40 <= trio.current_time() < 45  # idle 30 s + response_timeout 10 s + backoff
        await trio.sleep(1)
        assert carrier.health().binds[0].binds == 2 and carrier.up


async def test_graceful_stop_drains_then_unbinds(autojump_clock: Clock) -> None:
    async with running(config()) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        results: list[SubmitOutcome] = []

        async def one(n: int) -> None:
            results.append(await carrier.submit(part(n)))

        async def answer_later() -> None:
            await trio.sleep(2)
            await smsc.answer_held()

        async with trio.open_nursery() as nursery:
            for n in range(5):
                nursery.start_soon(one, n)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(answer_later)
            await carrier.stop(10)
        assert len(results) == 5 and all(isinstance(r, Accepted) for r in results)
        assert smsc.close_reason is CloseReason.UNBOUND_BY_PEER
        assert not carrier.up
        with pytest.raises(CarrierClosed):
            await carrier.submit(part())


async def test_stop_deadline_leaves_unanswered_as_unknown(autojump_clock: Clock) -> None:
    async with running(config()) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        results: list[SubmitOutcome] = []

        async def one() -> None:
            results.append(await carrier.submit(part()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            await carrier.stop(3, unbind_timeout=1)
            assert trio.current_time() - start == pytest.approx(3.0, abs=0.01) or \
                trio.current_time() - start <= 4.0
        assert results == [Unknown(reason=UnknownReason.DISCONNECTED, attempts=1)]
        assert smsc.close_reason is CloseReason.UNBOUND_BY_PEER


async def test_waiting_submitters_get_carrier_closed_on_stop(autojump_clock: Clock) -> None:
    async with running(config(window=1)) as (carrier, net, _):
        net.smscs[0].on_submit = hold
        errors: list[BaseException] = []

        async def one() -> None:
            try:
                await carrier.submit(part())
            except CarrierClosed as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one)
            nursery.start_soon(one)
            await trio.testing.wait_all_tasks_blocked()
            await carrier.stop(1, unbind_timeout=1)
        assert len(errors) == 1  # the one that was never written


async def test_several_binds_share_the_load(autojump_clock: Clock) -> None:
    async with running(config(binds=3, window=2)) as (carrier, net, _):
        assert len(net.smscs) == 3 and carrier.up
        for smsc in net.smscs:
            smsc.on_submit = hold
        async with trio.open_nursery() as nursery:
            for n in range(6):
                nursery.start_soon(carrier.submit, part(n))
            await trio.testing.wait_all_tasks_blocked()
            assert [len(s.held) for s in net.smscs] == [2, 2, 2]
            for smsc in net.smscs:
                await smsc.answer_held()
        await net.smscs[0].hang_up()
        await trio.testing.wait_all_tasks_blocked()
        assert carrier.up  # two of three still bound
        assert sum(b.bound for b in carrier.health().binds) == 2


async def test_cancelled_submitters_leak_no_window_place(autojump_clock: Clock) -> None:
    async with running(config(window=2)) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        with trio.move_on_after(1):  # two written and held, one parked: all cancelled
            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(carrier.submit, part(n))
        assert len(smsc.held) == 2
        await smsc.answer_held()  # answers to cancelled submits: orphans, no harm
        await trio.testing.wait_all_tasks_blocked()
        smsc.on_submit = None  # answer at once from now on
        outcomes = await submit_all(carrier, [part(n) for n in range(4)])
        assert all(isinstance(o, Accepted) for o in outcomes)
        assert carrier.health().binds[0].window_used == 0
        assert carrier.health().late_responses == 0 and carrier.up


async def test_cancelled_submits_keep_their_window_place_until_answered(
    autojump_clock: Clock,
) -> None:
    # A cancelled submitter's PDU is still in the bind's window: the next submit
    # must wait for its answer (or timeout), not overrun the window and come back
    # as a permanent Rejected(ESME_RMSGQFUL).
    async with running(config(window=2)) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        with trio.move_on_after(1):
            async with trio.open_nursery() as nursery:
                for n in range(2):
                    nursery.start_soon(carrier.submit, part(n))
        assert len(smsc.held) == 2
        smsc.on_submit = None
        results: list[SubmitOutcome] = []

        async def one(n: int) -> None:
            results.append(await carrier.submit(part(n)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, 9)
            await trio.testing.wait_all_tasks_blocked()
            assert results == [] and len(smsc.submits) == 2  # parked, not written
            await smsc.answer_held()
        assert results == [Accepted(message_id="id3", attempts=1, written_at=ANY)]
        assert smsc.outstanding_max == 2


async def test_cancelled_submit_frees_its_place_on_timeout(autojump_clock: Clock) -> None:
    async with running(config(window=1)) as (carrier, net, _):
        smsc = net.smscs[0]
        smsc.on_submit = hold
        with trio.move_on_after(1):
            await carrier.submit(part(0))
        smsc.on_submit = None
        start = trio.current_time()
        outcome = await carrier.submit(part(1))
        assert isinstance(outcome, Accepted)
        assert trio.current_time() - start >= 9  # waited for the 10 s response timeout
        assert smsc.outstanding_max == 1


async def test_submit_waits_while_no_bind_is_up(autojump_clock: Clock) -> None:
    async with running(config(), refuse=True) as (carrier, net, _):
        assert not carrier.up
        outcome: list[SubmitOutcome] = []

        async def one() -> None:
            outcome.append(await carrier.submit(part()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one)
            await trio.sleep(5)
            assert outcome == []  # parked: backpressure, nothing written anywhere
            net.refuse = False
        assert outcome == [Accepted(message_id="id1", attempts=1, written_at=ANY)]


async def test_inbound_data_sm_is_acked_with_data_sm_resp(autojump_clock: Clock) -> None:
    async with running(config()) as (_carrier, net, inbound):
        smsc = net.smscs[0]
        seq = smsc.conn.send(DataSm(source_addr="4479", destination_addr="B",
                                    tlvs=((0x0424, b"mo payload"),)), now=trio.current_time())
        await smsc.flush()
        item = await inbound.receive()
        assert isinstance(item.pdu, DataSm) and item.pdu.tlv(0x0424) == b"mo payload"
        item.ack(CommandStatus.ESME_ROK)
        await trio.testing.wait_all_tasks_blocked()
        (resp,) = smsc.responses
        assert isinstance(resp, DataSmResp) and resp.sequence_number == seq
        assert resp.command_status == 0


async def test_without_an_inbound_channel_deliveries_are_refused_for_later(
    autojump_clock: Clock,
) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery)
        carrier = Carrier(config(), password="p", inbound=None, connect=net.connect)
        await nursery.start(carrier.run)
        smsc = net.smscs[0]
        seq = await smsc.deliver(source_addr="4479", destination_addr="B", short_message=b"x")
        await trio.testing.wait_all_tasks_blocked()
        (resp,) = smsc.responses
        assert resp.sequence_number == seq
        assert resp.command_status == CommandStatus.ESME_RX_T_APPN  # SMSC: retry later
        nursery.cancel_scope.cancel()


async def test_logs_carry_no_password_and_no_message_body(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        make = lambda s: FakeSmsc(s, bind_status=CommandStatus.ESME_RINVPASWD)  # noqa: E731
        async with running(config(), make=make) as (carrier, net, _):
            await trio.sleep(3)
            net.make = FakeSmsc
            await trio.sleep(30)
            smsc = net.smscs[-1]
            smsc.on_submit = lambda *_: CommandStatus.ESME_RTHROTTLED
            await carrier.submit(part(42))
    events = {entry["event"] for entry in logs}
    assert {"bind_refused", "bound"} <= events
    refused = next(e for e in logs if e["event"] == "bind_refused")
    assert refused["status"].startswith("ESME_RINVPASWD")
    text = repr(logs)
    assert "secret" not in text and "body 42" not in text
