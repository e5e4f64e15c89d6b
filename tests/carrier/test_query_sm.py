"""Carrier.query: query_sm (SMPP 3.4 section 4.8) on transmit-capable binds, inside the TPS budget."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from bridge.carrier import Accepted, CarrierClosed
from bridge.simulator import SimulatorConfig
from bridge.smpp.constants import CommandStatus
from bridge.smpp.pdus import QuerySm, QuerySmResp
from bridge.smpp.state import State
from config.schema import BindMode
from tests.carrier.test_carrier_memory import config, running
from tests.carrier.test_carrier_simulator import LIMIT, loopback, part


async def test_query_on_a_transmitter_bind_gets_the_state() -> None:
    async with loopback(SimulatorConfig(), bind_mode=BindMode.TX) as (car, sim, _):
        with trio.fail_after(LIMIT):
            outcome = await car.submit(part(1, dlr=1))
            assert isinstance(outcome, Accepted)
            resp = await car.query(QuerySm(message_id=outcome.message_id, source_addr="Bridge"))
        assert isinstance(resp, QuerySmResp) and resp.command_status == 0
        assert resp.message_id == outcome.message_id and resp.message_state == 2  # DELIVERED
        assert sim.stats.queries == 1
        assert [s.conn.state for s in sim.bound_sessions()] == [State.BOUND_TX]


async def test_query_of_an_unknown_id_is_answered_0x67() -> None:
    async with loopback(SimulatorConfig()) as (car, _, _):
        with trio.fail_after(LIMIT):
            resp = await car.query(QuerySm(message_id="404", source_addr="Bridge"))
        assert isinstance(resp, QuerySmResp) and resp.command_status == CommandStatus.ESME_RQUERYFAIL


async def test_a_receiver_only_carrier_never_writes_query_sm() -> None:
    # SMPP 3.4 section 2.3: query_sm goes from an ESME bound as transmitter or transceiver.
    async with loopback(SimulatorConfig(), bind_mode=BindMode.RX) as (car, sim, _):
        assert not car.can_query()
        with trio.fail_after(LIMIT), pytest.raises(CarrierClosed):
            await car.query(QuerySm(message_id="1", source_addr="Bridge"))
        assert sim.stats.queries == 0


async def test_queries_and_submits_share_the_tps_budget() -> None:
    """40 submits and 40 queries at once on a carrier of tps 50, against an SMSC that
    throttles above 60 per second: nothing is throttled, and it takes the time 80 PDUs
    take at 50/s (queries that skipped the bucket would all go at once)."""
    async with loopback(SimulatorConfig(throttle_tps=60), tps=50.0) as (car, sim, _):
        results: list[object] = []

        async def submit(n: int) -> None:
            results.append(await car.submit(part(n, dlr=1)))

        async def query(n: int) -> None:
            results.append(await car.query(QuerySm(message_id=str(n), source_addr="Bridge")))

        # Drain the bucket's initial burst first, so the timing below is the rate alone.
        with trio.fail_after(LIMIT):
            for n in range(int(car.throttle.burst)):
                await submit(1000 + n)
        results.clear()
        start = trio.current_time()
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                for n in range(40):
                    nursery.start_soon(submit, n)
                    nursery.start_soon(query, n)
        elapsed = trio.current_time() - start
        assert len(results) == 80
        assert sim.stats.throttled == 0, sim.stats.throttled
        assert sim.stats.queries == 40
        assert elapsed >= 79 / 50 * 0.9, elapsed


@pytest.mark.parametrize(
    ("status", "throttled"),
    [(CommandStatus.ESME_RTHROTTLED, 1), (CommandStatus.ESME_RMSGQFUL, 1), (CommandStatus.ESME_RSYSERR, 0)],
)
async def test_a_query_answered_with_a_throttling_status_slows_the_carrier(status: int, throttled: int) -> None:
    """The carrier's policy says which statuses throttle (policy.py: 0x58 and 0x14 by default)."""
    async with running(config()) as (car, net, _):
        answer: list[object] = []

        async def ask() -> None:
            answer.append(await car.query(QuerySm(message_id="1", source_addr="Bridge")))

        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                await trio.testing.wait_all_tasks_blocked()  # written and read by the fake SMSC
                smsc = net.smscs[0]
                (query,) = [p for p in smsc.received if isinstance(p, QuerySm)]
                smsc.conn.send(QuerySmResp(sequence_number=query.sequence_number, command_status=status),
                               now=trio.current_time())  # fmt: skip
                await smsc.flush()
        assert isinstance(answer[0], QuerySmResp) and answer[0].command_status == status
        assert car.throttle.throttled == throttled
