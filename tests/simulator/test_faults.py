"""Fault injection: throttling, queue full, disconnects, outcome mix, other requests."""

from __future__ import annotations

from collections import Counter

import trio

import dlr
from bridge.simulator import Outcome, SimulatorConfig
from bridge.smpp import (
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    EnquireLink,
    QuerySm,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    Tag,
    peek_header,
)
from bridge.smpp.events import NEED_DATA, ConnectionClosed
from tests.simulator.esme import Esme
from tests.simulator.helpers import bound, running
from tests.simulator.test_server import wait_stat

TIMEOUT = 10


async def submit_all(esme: Esme, count: int, **fields: object) -> list[int]:
    """Submit ``count`` pipelined (within the ESME's window); the statuses in order."""
    seqs: list[int] = []
    while len(seqs) < count:
        while len(seqs) < count and esme.conn.window_free:
            seqs.append(esme.submit(**fields))
        await esme.flush()
        await esme.receive()
    await esme.wait_until(lambda: all(s in esme.resps for s in seqs))
    return [esme.resps[s].command_status for s in seqs]


async def test_throttles_above_the_tps_per_system_id() -> None:
    async with running(throttle_tps=50) as sim:
        with trio.fail_after(TIMEOUT):
            first = await bound(sim, "tx")
            second = await bound(sim, "tx")
            other = await bound(sim, "tx", system_id="another-account")
            # 120 at once on two binds of one account: the account's 50/s admit 50.
            statuses = await submit_all(first, 60) + await submit_all(second, 60)
            counts = Counter(statuses)
            assert counts == {0: 50, CommandStatus.ESME_RTHROTTLED: 70}
            assert sim.stats.throttled == 70
            # The limit is per system_id: another account is not affected.
            assert set(await submit_all(other, 10)) == {0}
            # Once the second has passed, the account may submit again.
            await trio.sleep(1.0)
            assert set(await submit_all(first, 10)) == {0}


async def test_throttle_per_bind() -> None:
    async with running(throttle_tps=30, throttle_scope="bind") as sim:
        with trio.fail_after(TIMEOUT):
            first = await bound(sim, "tx")
            second = await bound(sim, "tx")
            for esme in (first, second):  # each bind has its own 30/s
                counts = Counter(await submit_all(esme, 40))
                assert counts == {0: 30, CommandStatus.ESME_RTHROTTLED: 10}


async def test_queue_full_probability() -> None:
    async with running(queue_full=1.0) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            assert set(await submit_all(esme, 20, registered_delivery=1)) == {
                CommandStatus.ESME_RMSGQFUL
            }
            assert sim.stats.queue_full == 20 and sim.stats.receipts_scheduled == 0
    async with running(queue_full=0.3, seed=11) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "tx")
            counts = Counter(await submit_all(esme, 1000))
            assert 200 < counts[CommandStatus.ESME_RMSGQFUL] < 400
            assert counts[0] + counts[CommandStatus.ESME_RMSGQFUL] == 1000


async def test_disconnect_drops_the_connection_without_an_answer() -> None:
    async with running(disconnect=1.0) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_closed()
            assert esme.closed is not None
            assert esme.closed.reason.name == "PEER_CLOSED"
            assert len(esme.closed.unanswered) == 1  # the submit's outcome is unknown
            assert not esme.resps
            assert sim.stats.disconnects == 1
            await sim.wait_bound(0)


async def test_disconnects_at_random_answer_everything_before() -> None:
    async with running(disconnect=0.01, seed=5) as sim:
        with trio.fail_after(TIMEOUT):
            lost = 0
            answered = 0
            for _ in range(3):  # a few connections, each until its drop
                esme = await bound(sim, "tx")
                seqs = [esme.submit() for _ in range(400)]
                await esme.flush()
                await esme.wait_closed()
                assert isinstance(esme.closed, ConnectionClosed)
                # Every submit is either answered or reported as unanswered.
                unanswered = set(esme.closed.unanswered)
                assert unanswered | set(esme.resps) == set(seqs)
                assert not unanswered & set(esme.resps)
                lost += len(unanswered)
                answered += len(esme.resps)
            assert sim.stats.disconnects == 3
            assert sim.stats.resps[0] == answered


async def test_late_responses_come_after_their_delay_and_receipts_may_overtake() -> None:
    async with running(late_resp=1.0, late_resp_delay=(0.3, 0.3)) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            started = trio.current_time()
            seq = esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: seq in esme.resps)
            assert trio.current_time() - started >= 0.25
            assert esme.resps[seq].command_status == 0
            # The receipt (no delay) was written long before the late resp.
            kinds = [type(e.pdu).__name__ for e in esme.events if hasattr(e, "pdu")]
            assert kinds.index("DeliverSm") < kinds.index("SubmitSmResp")
            assert sim.stats.late_resps == 1


async def test_unanswered_submits_time_out_at_the_esme() -> None:
    async with running(no_resp=0.5, seed=3) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "tx")
            seqs = [esme.submit() for _ in range(40)]
            await esme.flush()
            await wait_stat(sim, "submits", 40)
            answered = sim.stats.resps[0]
            await esme.wait_until(lambda: len(esme.resps) == answered)
            assert 0 < sim.stats.unanswered < 40
            assert answered + sim.stats.unanswered == 40
            # The silent ones stay outstanding in the ESME's window.
            assert set(esme.conn.outstanding) == set(seqs) - set(esme.resps)


async def test_outcome_mix_is_reproducible_with_a_seed() -> None:
    config = SimulatorConfig(
        seed=42,
        outcomes=(
            Outcome(stat="DELIVRD", weight=0.6),
            Outcome(stat="UNDELIV", weight=0.2, err=1),
            Outcome(stat="EXPIRED", weight=0.1, err=27),
            Outcome(stat="REJECTD", weight=0.1, err=11),
        ),
    )
    runs = []
    for _ in range(2):
        async with running(config) as sim:
            with trio.fail_after(TIMEOUT):
                esme = await bound(sim, "trx")
                await submit_all(esme, 500, registered_delivery=1)
                await esme.wait_until(lambda e=esme: len(e.delivered) == 500)  # type: ignore[misc]
                parsed = [
                    dlr.parse_receipt(d.short_message, d.raw_tlvs, d.esm_class)
                    for d in esme.delivered
                ]
                runs.append([(p.id, p.stat, p.err) for p in parsed])
    assert runs[0] == runs[1]
    counts = Counter(stat for _, stat, _ in runs[0])
    assert set(counts) == {"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD"}
    assert 240 < counts["DELIVRD"] < 360
    errs = {stat: err for _, stat, err in runs[0]}
    assert errs == {"DELIVRD": "000", "UNDELIV": "001", "EXPIRED": "027", "REJECTD": "011"}


async def test_data_sm_submit_multi_and_unsupported_requests() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            data = esme.send(DataSm(
                source_addr="Bridge", destination_addr="447700900123", registered_delivery=1,
                tlvs=((Tag.MESSAGE_PAYLOAD, b"via data_sm"),),
            ))  # fmt: skip
            multi = esme.send(SubmitMulti(
                source_addr="Bridge", registered_delivery=1, short_message=b"to two",
                dest_address=(SmeAddress(destination_addr="447700900001"),
                              SmeAddress(destination_addr="447700900002")),
            ))  # fmt: skip
            query = esme.send(QuerySm(message_id="1"))
            esme.send(EnquireLink())
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 3 and len(esme.resps) >= 3)
            assert isinstance(esme.resps[data], DataSmResp) and esme.resps[data].command_status == 0
            assert isinstance(esme.resps[multi], SubmitMultiResp)
            assert esme.resps[query].command_status == CommandStatus.ESME_RQUERYFAIL
            texts = sorted(
                dlr.parse_receipt(d.short_message, d.raw_tlvs, d.esm_class).text or ""
                for d in esme.delivered
            )
            assert texts == ["to two", "to two", "via data_sm"]
            assert sorted(d.source_addr for d in esme.delivered) == [
                "447700900001", "447700900002", "447700900123",
            ]  # fmt: skip


async def test_simulator_sends_enquire_link_when_idle() -> None:
    async with running(enquire_link_interval=0.1) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            for _ in range(3):
                # Read the raw frame (the ESME's Connection answers enquire_link
                # silently), then let the Connection answer it.
                frame = await esme.stream.receive_some(65536)
                assert peek_header(frame)[1] == CommandId.ENQUIRE_LINK
                esme.conn.receive_data(bytes(frame), now=trio.current_time())
                assert esme.conn.next_event() is NEED_DATA
                await esme.flush()
            assert sim.stats.bound == 1
