"""The message store: query_sm answers (SMPP 3.4 section 4.8) and the lose_receipts fault."""

from __future__ import annotations

from collections import Counter

import pytest
import trio

from bridge.commands.simulate import add_arguments, build_config
from bridge.simulator import Outcome, SimulatorConfig
from bridge.simulator.config import ConfigError, config_from_mapping
from bridge.simulator.store import MessageStore, absolute_time
from bridge.smpp import CommandStatus, QuerySm, QuerySmResp
from tests.simulator.esme import Esme
from tests.simulator.helpers import bound, running

TIMEOUT = 10
MIX = (Outcome(stat="DELIVRD", weight=0.7), Outcome(stat="UNDELIV", weight=0.3, err=1))


async def _submit(esme: Esme, count: int) -> list[str]:
    seqs = [esme.submit(registered_delivery=1, destination_addr=f"4477009{n:05d}") for n in range(count)]
    await esme.flush()
    await esme.wait_until(lambda: all(s in esme.resps for s in seqs))
    ids = [esme.resps[s].message_id for s in seqs]  # type: ignore[attr-defined]
    assert all(ids)
    return ids


async def _query(esme: Esme, message_id: str, source: str = "Bridge") -> QuerySmResp:
    seq = esme.send(QuerySm(message_id=message_id, source_addr=source))
    await esme.flush()
    await esme.wait_until(lambda: seq in esme.resps)
    resp = esme.resps[seq]
    assert isinstance(resp, QuerySmResp)
    return resp


async def test_lost_receipts_stay_queryable() -> None:
    async with running(SimulatorConfig(lose_receipts=1.0, outcomes=MIX, seed=4)) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            ids = await _submit(esme, 50)
            answers = [await _query(esme, i) for i in ids]
            with trio.move_on_after(0.2):  # a receipt that was not lost would arrive now
                await esme.receive()
        assert esme.delivered == [] and sim.stats.receipts_sent == 0
        assert sim.stats.receipts_lost == sim.stats.receipts_scheduled == 50
        assert all(a.command_status == 0 and a.message_id == i for a, i in zip(answers, ids, strict=True))
        states = Counter(a.message_state for a in answers)
        assert set(states) == {2, 5} and states[2] > states[5] > 0  # DELIVERED / UNDELIVERABLE
        assert all(len(a.final_date or "") == 16 and a.final_date.endswith("00+") for a in answers)  # type: ignore[union-attr]
        assert {a.error_code for a in answers if a.message_state == 5} == {1}
        assert sim.stats.queries == 50 and sim.stats.queries_failed == 0


async def test_a_fraction_of_receipts_is_lost() -> None:
    async with running(SimulatorConfig(lose_receipts=0.3, seed=9)) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            await _submit(esme, 200)
            lost = sim.stats.receipts_lost
            await esme.wait_until(lambda: len(esme.delivered) == 200 - lost)
        assert 30 < lost < 90


async def test_unknown_id_or_other_source_is_0x67_and_enroute_before_the_receipt() -> None:
    async with running(SimulatorConfig(receipt_delay=(60.0, 60.0))) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "tx")
            [message_id] = await _submit(esme, 1)
            enroute = await _query(esme, message_id)
            unknown = await _query(esme, "no-such-id")
            other_source = await _query(esme, message_id, source="Other")
        assert (enroute.command_status, enroute.message_state, enroute.final_date) == (0, 1, "")
        assert unknown.command_status == other_source.command_status == CommandStatus.ESME_RQUERYFAIL
        assert sim.stats.queries == 3 and sim.stats.queries_failed == 2


def test_store_is_bounded_and_forgets_the_oldest() -> None:
    from bridge.simulator.receipts import Verdict

    store = MessageStore(2)
    for n in range(3):
        store.remember(str(n), (0, 0, "S", Verdict("DELIVRD", 0), 0.0))
    assert len(store) == 2
    assert store.answer(QuerySm(message_id="0", source_addr="S"), 1.0).command_status == 0x67
    assert store.answer(QuerySm(message_id="2", source_addr="S"), 1.0).message_state == 2
    assert MessageStore(0).answer(QuerySm(message_id="2", source_addr="S"), 1.0).command_status == 0x67
    assert absolute_time(0.25) == "700101000000200+"


def test_lose_receipts_key_and_flag() -> None:
    assert config_from_mapping({"lose_receipts": 0.3, "message_store": 10}).lose_receipts == 0.3
    with pytest.raises(ConfigError, match="lose_receipts"):
        config_from_mapping({"lose_receipts": 1.5})
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = build_config(parser.parse_args(["--lose-receipts", "0.25", "--message-store", "5"]))
    assert (config.lose_receipts, config.message_store) == (0.25, 5)
