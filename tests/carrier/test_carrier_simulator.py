"""Carrier against our simulator over loopback TCP (real clock: never autojump
with real sockets). Each wait is bounded by trio.fail_after."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import msgspec
import trio

from bridge.carrier import (
    Accepted,
    BackoffPolicy,
    Carrier,
    Inbound,
    RetryPolicy,
    SubmitOutcome,
    Unknown,
)
from bridge.simulator import Simulator, SimulatorConfig
from bridge.smpp.constants import CommandStatus
from bridge.smpp.pdus import DeliverSm, SubmitSm
from config.schema import Carrier as CarrierConfig
from config.schema import Duration

LIMIT = 30.0


@asynccontextmanager
async def loopback(
    sim_config: SimulatorConfig, inbound_size: int = 1000, fast_retries: bool = False,
    **carrier: Any,
) -> AsyncIterator[tuple[Carrier, Simulator, trio.MemoryReceiveChannel[Inbound]]]:
    # Strict, as SMPPSim 2.6.11 is: a deliver_sm_resp not in the layout of SMPP 3.4
    # section 4.6.2 (17 octets, NULL message_id) drops the bind and fails the test.
    sim = Simulator(msgspec.structs.replace(sim_config, strict=True))
    send, receive = trio.open_memory_channel[Inbound](inbound_size)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, "127.0.0.1", 0)
        base: dict[str, Any] = dict(name="sim", host="127.0.0.1", port=port,
                                    system_id="bridge", window=64, tps=1e6)
        base.update(carrier)
        cfg = CarrierConfig(**base)
        extra: dict[str, Any] = {}
        if fast_retries:  # keep the test short: the backoff shapes have their own tests
            extra["reconnect"] = BackoffPolicy(base=0.05, cap=0.2)
            extra["policy"] = replace(RetryPolicy.from_config(cfg),
                                      backoff=BackoffPolicy(base=0.05, cap=0.5))
        car = Carrier(cfg, password="secret", inbound=send, **extra)
        with trio.fail_after(LIMIT):
            await nursery.start(car.run)
            # (a 2 ms response timeout can fail a bind under load: it binds again)
            await eventually(lambda: car.up)
        yield car, sim, receive
        with trio.fail_after(LIMIT):
            await car.stop(2.0)
        nursery.cancel_scope.cancel()
    assert sim.stats.malformed_responses == 0


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll counters (values, not events) until ``predicate`` holds; callers bound it."""
    while True:
        if predicate():
            return
        await trio.sleep(0.01)


def part(n: int, dlr: int = 0) -> SubmitSm:
    return SubmitSm(source_addr="Bridge", destination_addr=f"4477009{n:05d}",
                    short_message=b"msg %d" % n, registered_delivery=dlr)


async def submit_many(carrier: Carrier, count: int, workers: int,
                      dlr: int = 0) -> list[SubmitOutcome]:
    """``workers`` concurrent submitters share ``count`` parts (as the dispatcher)."""
    outcomes: list[SubmitOutcome] = []
    todo = iter(range(count))

    async def worker() -> None:
        for n in todo:
            outcomes.append(await carrier.submit(part(n, dlr)))

    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(worker)
    return outcomes


async def test_burst_of_10000_without_false_timeouts() -> None:
    async with loopback(SimulatorConfig(seed=1), window=512,
                        response_timeout=Duration(10)) as (carrier, sim, _):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 10_000, workers=512)
        assert len(outcomes) == 10_000
        assert all(isinstance(o, Accepted) and o.attempts == 1 for o in outcomes)
        assert len({o.message_id for o in outcomes if isinstance(o, Accepted)}) == 10_000
        health = carrier.health()
        assert health.unknown == 0 and health.late_responses == 0
        assert sim.stats.submits == 10_000


async def test_disconnects_mid_window_lose_nothing_and_duplicate_nothing() -> None:
    # 1 % of submits make the simulator drop the connection instead of answering.
    cfg = SimulatorConfig(seed=7, disconnect=0.01)
    async with loopback(cfg, window=32, fast_retries=True) as (carrier, sim, _):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 2000, workers=64)
        assert len(outcomes) == 2000
        kinds = Counter(type(o).__name__ for o in outcomes)
        assert set(kinds) <= {"Accepted", "Unknown"}
        assert kinds["Unknown"] > 0 and carrier.health().binds[0].binds > 1
        assert all(o.reason == "disconnected" for o in outcomes if isinstance(o, Unknown))
        # Every OK the simulator wrote reached us, or its part is reported Unknown:
        ok_written = sim.stats.resps[0]
        accepted = kinds["Accepted"]
        assert accepted <= ok_written <= accepted + kinds["Unknown"]
        # Each part was written at most once (no silent resubmit after a disconnect).
        assert all(o.attempts == 1 for o in outcomes)
        assert sim.stats.submits <= 2000


async def test_throttling_storm_adapts_and_every_part_gets_through() -> None:
    cfg = SimulatorConfig(seed=3, throttle_tps=400)
    async with loopback(cfg, tps=2000.0, window=32, max_attempts=20,
                        fast_retries=True) as (carrier, sim, _):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 600, workers=64)
        assert all(isinstance(o, Accepted) for o in outcomes), Counter(map(repr, outcomes))
        assert sim.stats.throttled > 0
        health = carrier.health()
        assert health.throttled == sim.stats.throttled
        assert health.throttle_rate < 2000.0
        # Resubmits kept the body: the simulator took each message exactly once.
        assert sim.stats.resps[0] == 600
        assert sum(o.attempts for o in outcomes) == sim.stats.submits


async def test_queue_full_is_retried() -> None:
    cfg = SimulatorConfig(seed=11, queue_full=0.2)
    async with loopback(cfg, window=16, fast_retries=True) as (carrier, sim, _):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 50, workers=16)
        assert sim.stats.queue_full > 0
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        assert len(accepted) >= 48  # five attempts at 20 %: a rare part may run out
        assert sum(o.attempts for o in outcomes) == sim.stats.submits


async def test_receipts_arrive_on_the_inbound_channel_and_are_acked() -> None:
    async with loopback(SimulatorConfig(seed=5), window=64) as (carrier, sim, inbound):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 300, workers=64, dlr=1)
            ids = {o.message_id for o in outcomes if isinstance(o, Accepted)}
            assert len(ids) == 300
            seen: set[object] = set()
            while len(seen) < 300:
                item = await inbound.receive()
                assert isinstance(item.pdu, DeliverSm)
                seen.add(item.pdu.tlv(0x001E))  # receipted_message_id
                item.ack(CommandStatus.ESME_ROK)
            assert seen == ids
            await eventually(lambda: sim.stats.receipts_acked >= 300)


async def test_late_responses_are_reported_after_a_timeout() -> None:
    # A response timeout far below the loopback round trip under load: many
    # submits time out (Unknown "timeout"), and their answers arrive late.
    # (no window suspension: the link is fine, only the timeout is absurd; late
    # answers reset the count of timeouts in a row anyway)
    async with loopback(SimulatorConfig(seed=9), window=256, fast_retries=True,
                        response_timeout=Duration(0.002),
                        max_consecutive_timeouts=1000) as (carrier, sim, _):
        with trio.fail_after(LIMIT):
            outcomes = await submit_many(carrier, 2000, workers=256)
            timed_out = [o for o in outcomes if isinstance(o, Unknown)]
            assert timed_out and all(o.reason == "timeout" for o in timed_out)
            assert len(timed_out) + sum(isinstance(o, Accepted) for o in outcomes) == 2000
            # every late answer is counted, none is taken for another submit
            await eventually(lambda: carrier.health().late_responses >= len(timed_out))
        health = carrier.health()
        assert health.late_responses == health.unknown == len(timed_out)
        assert sim.stats.submits == 2000
