"""Hypothesis fuzzing of the connection: garbage and mutated valid
frames, fed in random chunks with timer ticks in between, never raise out of
receive_data / next_event / tick (everything is answered or closes the connection),
and the machine only ever moves along the state table (or to CLOSED)."""

from __future__ import annotations

import itertools
import struct

from hypothesis import given
from hypothesis import strategies as st

from bridge.smpp import events as ev
from bridge.smpp.codec import encode
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId, Tag
from bridge.smpp.pdus import (
    PDU_TYPES,
    AlertNotification,
    BindTransceiver,
    BindTransceiverResp,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    QuerySmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
)
from bridge.smpp.state import TRANSITIONS, Role, State
from tests.smpp.test_connection_table import reach

C = CommandId

# Valid frames of every type, some with bodies and TLVs, to mutate.
_EXAMPLES = [
    SubmitSm(source_addr="Bridge", destination_addr="491234", short_message=b"hello",
             tlvs=((Tag.USER_MESSAGE_REFERENCE, b"\x00\x01"), (0x1400, b"vendor"))),
    DeliverSm(source_addr="491234", esm_class=4, short_message=b"id:1 stat:DELIVRD",
              tlvs=((Tag.RECEIPTED_MESSAGE_ID, b"1\x00"), (Tag.MESSAGE_STATE, b"\x02"))),
    SubmitSmResp(message_id="abc123"),
    DeliverSmResp(),
    DataSm(destination_addr="1", tlvs=((Tag.MESSAGE_PAYLOAD, b"x" * 300),)),
    SubmitMulti(dest_address=(SmeAddress(destination_addr="1"),), short_message=b"m"),
    SubmitMultiResp(message_id="m", unsuccess_sme=(UnsuccessSme(destination_addr="2"),)),
    QuerySmResp(message_id="q", final_date="", message_state=2, error_code=0),
    BindTransceiver(system_id="sys", password="pw"),
    BindTransceiverResp(system_id="smsc"),
    AlertNotification(source_addr="1", esme_addr="2"),
] + [cls() for cid, cls in PDU_TYPES.items() if cls is not SubmitMulti]  # fmt: skip
VALID_FRAMES = [encode(pdu, sequence_number=n + 1) for n, pdu in enumerate(_EXAMPLES)]

#: (role, from, to) moves the table allows, plus staying put and closing.
ALLOWED_MOVES = {
    (role, state, to)
    for (role, state, _, _), rule in TRANSITIONS.items()
    for to in (rule.ok, rule.failed)
} | {(role, s, t) for role in Role for s in State for t in (s, State.CLOSED)}


@st.composite
def mutated_frame(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "command_id", "length"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(max_size=8))
        elif kind == "command_id" and len(data) >= 8:
            cid = draw(st.sampled_from([*PDU_TYPES, 0x99, 0x80000099, 0x7FFFFFFF, 0xFFFFFFFF]))
            data[4:8] = struct.pack(">I", cid)
        elif kind == "length" and len(data) >= 4:
            data[0:4] = struct.pack(">I", draw(st.integers(0, 70_000)))
    if draw(st.booleans()) and len(data) >= 4:
        data[0:4] = struct.pack(">I", len(data))  # keep it delimitable, body broken
    return bytes(data)


stream_parts = st.lists(
    st.one_of(mutated_frame(), st.sampled_from(VALID_FRAMES), st.binary(max_size=40)),
    max_size=12,
)

# Steps: ("data", chunk) or ("tick", dt) or ("send", None) to mix our own traffic in.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("data"), st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("tick"), st.floats(0, 40)),
    ),
    max_size=6,
)


class Checker:
    """Feeds a connection and checks every event and state move as it goes."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.closed = False
        self.now = 100.0

    def drain(self) -> None:
        conn = self.conn
        for _ in range(10_000):
            before = conn.state
            event = conn.next_event()
            after = conn.state
            assert (conn.role, before, after) in ALLOWED_MOVES, (before, after, event)
            assert conn.window_used <= conn.window_size
            if event is ev.NEED_DATA:
                return
            assert isinstance(event, ev.Event)
            assert not self.closed, f"{event} after ConnectionClosed"
            if isinstance(event, ev.ConnectionClosed):
                self.closed = True
                assert after is State.CLOSED
        raise AssertionError("next_event did not settle")

    def data(self, chunk: bytes) -> None:
        self.conn.receive_data(chunk, now=self.now)
        self.drain()

    def tick(self, dt: float) -> None:
        self.now += dt
        self.conn.tick(self.now)
        self.drain()


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@given(
    role=st.sampled_from(Role),
    state=st.sampled_from([s for s in State if s is not State.CLOSED]),
    strict=st.booleans(),
    parts=stream_parts,
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    extra=steps,
    eof=st.booleans(),
)
def test_mutated_streams_are_answered_or_close(
    role: Role,
    state: State,
    strict: bool,
    parts: list[bytes],
    cuts: list[int],
    extra: list[tuple[str, object]],
    eof: bool,
) -> None:
    conn = reach(role, state, strict)
    check = Checker(conn)
    check.now = 0.0
    stream = b"".join(parts)
    for chunk in chunks(stream, cuts):
        check.data(chunk)
    for kind, value in extra:
        if kind == "data":
            assert isinstance(value, bytes)
            check.data(value)
        else:
            assert isinstance(value, float)
            check.tick(value)
    if eof:
        conn.receive_data(b"", now=check.now)
        check.drain()
        assert check.closed and conn.state is State.CLOSED
    conn.data_to_send()


@given(garbage=st.binary(min_size=1, max_size=300), cuts=st.lists(st.integers(0, 300)))
def test_pure_garbage_never_raises(garbage: bytes, cuts: list[int]) -> None:
    for role in Role:
        conn = reach(role, State.BOUND_TRX, False)
        check = Checker(conn)
        for chunk in chunks(garbage, cuts):
            check.data(chunk)
        check.tick(1000.0)


@given(parts=st.lists(st.sampled_from(VALID_FRAMES), min_size=1, max_size=8),
       cuts=st.lists(st.integers(0, 5000), max_size=20))  # fmt: skip
def test_valid_frames_in_any_chunking_give_the_same_events(
    parts: list[bytes], cuts: list[int]
) -> None:
    whole = reach(Role.SMSC, State.BOUND_TRX, False)
    split = reach(Role.SMSC, State.BOUND_TRX, False)
    stream = b"".join(parts)
    whole.receive_data(stream, now=0.0)
    expected = []
    while (event := whole.next_event()) is not ev.NEED_DATA:
        expected.append(event)
    got = []
    for chunk in chunks(stream, cuts):
        split.receive_data(chunk, now=0.0)
        while (event := split.next_event()) is not ev.NEED_DATA:
            got.append(event)
    assert [repr(e) for e in got] == [repr(e) for e in expected]
    assert split.data_to_send() == whole.data_to_send()
    assert split.state is whole.state
