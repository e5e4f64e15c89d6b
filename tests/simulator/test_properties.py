"""Properties of the simulator's request handling, without sockets.

A Session is driven directly (bytes in through its Connection, ``_drain``, bytes
out), under random fault settings and random registered_delivery values. Whatever
the mix: every submit_sm is answered at most once (now, late, or never when the
no_resp fault says so), accepted ids are unique, and exactly the accepted submits
that asked for a receipt get one, with the outcome the destination rule decides.
"""

from __future__ import annotations

import heapq

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import dlr
from bridge.simulator import DestinationRule, Outcome, Simulator, SimulatorConfig
from bridge.simulator.session import Session
from bridge.smpp import (
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
    peek_header,
)

probability = st.sampled_from([0.0, 0.0, 0.2, 0.5, 1.0])
configs = st.builds(
    SimulatorConfig,
    seed=st.integers(0, 2**32),
    queue_full=probability,
    no_resp=probability,
    late_resp=probability,
    late_resp_delay=st.just((0.5, 1.0)),
    receipt_before_resp=probability,
    throttle_tps=st.sampled_from([None, None, 5.0, 1000.0]),
    receipt_window=st.integers(1, 16),
    receipt_tlvs=st.booleans(),
    message_id_format=st.sampled_from(["decimal", "hex", "uuid", "hex64"]),
    outcomes=st.just((Outcome(stat="DELIVRD", weight=1), Outcome(stat="EXPIRED", weight=1))),
    destination_rules=st.just((DestinationRule(suffix="0000", stat="UNDELIV", err=1),)),
)


def frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        length = peek_header(data)[0]
        out.append(data[:length])
        data = data[length:]
    return out


@given(config=configs, asks=st.lists(st.sampled_from([0, 1, 2, 3, 0x11]), max_size=40),
       chunk=st.integers(1, 400))  # fmt: skip
def test_every_submit_is_answered_once_and_gets_the_receipts_it_asked_for(
    config: SimulatorConfig, asks: list[int], chunk: int
) -> None:
    trio.run(_check, config, asks, chunk)


async def _check(config: SimulatorConfig, asks: list[int], chunk: int) -> None:
    sim = Simulator(config)
    stream = trio.StapledStream(trio.testing.MemorySendStream(), trio.testing.MemoryReceiveStream())
    session = Session(sim, stream)  # never read or written here: no I/O
    now = trio.current_time()
    wire = encode(BindTransceiver(system_id="prop", password="x"), 1)
    # Destination n ends in "0000" for every third submit: those fail (the rule).
    submits = {
        seq: SubmitSm(destination_addr=f"4477{seq:04d}" + ("0000" if seq % 3 == 0 else "1234"),
                      registered_delivery=ask, short_message=b"prop")
        for seq, ask in enumerate(asks, start=2)
    }  # fmt: skip
    wire += b"".join(encode(pdu, seq) for seq, pdu in submits.items())
    for start in range(0, len(wire), chunk):  # any split of the byte stream
        session.conn.receive_data(wire[start:start + chunk], now=now)
        assert not session._drain(now)

    out: list[object] = []
    for _ in range(100):  # answer receipts, release late resps, until quiet
        later = now + 2.0
        while session._heap and session._heap[0][0] <= later:
            item = heapq.heappop(session._heap)[2]
            if isinstance(item, SubmitSmResp):
                session._send_late(item, later)
        data = session.conn.data_to_send()
        if not data:
            break
        pdus = [decode(frame) for frame in frames(data)]
        out += pdus
        acks = b"".join(
            encode(DeliverSmResp(sequence_number=p.sequence_number)) for p in pdus
            if isinstance(p, DeliverSm)
        )  # fmt: skip
        if acks:
            session.conn.receive_data(acks, now=later)
            assert not session._drain(later)

    resps = [p for p in out if isinstance(p, SubmitSmResp)]
    answered = [p.sequence_number for p in resps]
    assert len(answered) == len(set(answered))  # at most once
    assert set(answered) <= set(submits)
    stats = sim.stats
    assert len(answered) + stats.unanswered == len(submits)
    assert sum(stats.resps.values()) == len(answered)
    accepted = {h.message_id: h.destination for h in sim.handsets}
    assert len(accepted) == stats.resps[0] + stats.unanswered  # unique ids
    assert {p.message_id for p in resps if p.command_status == 0} <= set(accepted)

    ask_of = {pdu.destination_addr: pdu.registered_delivery for pdu in submits.values()}
    always: set[str] = set()  # registered_delivery 1 (or 3): a receipt whatever happens
    on_failure: set[str] = set()  # 2: only when the message failed (section 5.2.17)
    for message_id, destination in accepted.items():
        wanted = ask_of[destination] & 0x03
        if wanted in (1, 3):
            always.add(message_id)
        elif wanted == 2:
            on_failure.add(message_id)
    finals = {}
    for pdu in out:
        if isinstance(pdu, DeliverSm) and pdu.esm_class == 0x04:
            receipt = dlr.parse_receipt(pdu.short_message, pdu.raw_tlvs, pdu.esm_class)
            assert receipt.id not in finals  # one receipt per message
            finals[receipt.id] = receipt.state
    assert always <= set(finals) <= always | on_failure
    for message_id in on_failure:
        if accepted[message_id].endswith("0000"):  # fails for sure: must be reported
            assert message_id in finals
        if message_id in finals:
            assert finals[message_id] is not dlr.MessageState.DELIVERED
    for message_id, state in finals.items():
        if accepted[message_id].endswith("0000"):
            assert state is dlr.MessageState.UNDELIVERABLE
        else:
            assert state in (dlr.MessageState.DELIVERED, dlr.MessageState.EXPIRED)
    assert stats.receipts_acked == len(finals) and stats.receipts_dropped == 0
