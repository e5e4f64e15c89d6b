"""The shortcuts of the per-message path give exactly what the general code gives.

``Pdu.raw_tlvs`` (first occurrence of a tag wins),
``Connection.send_null_id_response`` (a deliver_sm_resp / data_sm_resp with a NULL
message_id written without a PDU object) against the general path, and
``FrameReader``'s two buffer kinds, for any input.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.smpp import encode
from bridge.smpp import pdus as P
from bridge.smpp.connection import Connection, Role
from bridge.smpp.constants import CommandId

tlv_lists = st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=8)), max_size=8)


@given(tlv_lists)
def test_raw_tlvs_first_occurrence_wins(tlvs: list[tuple[int, bytes]]) -> None:
    pdu = P.DeliverSm(tlvs=tuple(tlvs))
    expected: dict[int, bytes] = {}
    for tag, value in tlvs:
        expected.setdefault(tag, value)
    got = pdu.raw_tlvs
    assert got == expected
    assert list(got) == list(expected)  # and in the order the tags first came


def _bound() -> Connection:
    conn = Connection(Role.ESME)
    conn.send(P.BindTransceiver(system_id="a", password="b"), now=0.0)
    conn.receive_data(encode(P.BindTransceiverResp(system_id="smsc"), 1), now=0.0)
    conn.next_event()
    conn.data_to_send()
    return conn


@given(
    st.sampled_from([P.DeliverSmResp, P.DataSmResp]),
    st.integers(-1, 0x1_0000_0000),
    st.integers(-1, 0x1_0000_0000),
)
def test_null_id_response_is_the_encoded_pdu(
    cls: type[P.DeliverSmResp | P.DataSmResp], seq: int, status: int
) -> None:
    fast, general = _bound(), _bound()
    queued = fast.send_null_id_response(cls.command_id, seq, status)
    assert queued == (0 <= seq <= 0xFFFF_FFFF and 0 <= status <= 0xFFFF_FFFF)
    if queued:
        general.send(cls(sequence_number=seq, command_status=status, message_id=""), now=0.0)
        assert fast.data_to_send() == general.data_to_send()
    else:
        assert fast.data_to_send() == b""


def test_null_id_response_refused_where_send_would_decide() -> None:
    """Before the bind nothing may be answered: False, and nothing is queued."""
    conn = Connection(Role.ESME)
    assert not conn.send_null_id_response(CommandId.DELIVER_SM_RESP, 1, 0)
    assert conn.data_to_send() == b""
    bound = _bound()
    assert not bound.send_null_id_response(CommandId.SUBMIT_SM_RESP, 1, 0)  # not a NULL-id response


frames = st.lists(
    st.binary(max_size=40).map(lambda body: (16 + len(body)).to_bytes(4, "big") + bytes(12) + body),
    min_size=1,
    max_size=12,
)


@given(frames, st.lists(st.integers(1, 64), min_size=1, max_size=60), st.sampled_from([bytes, bytearray, memoryview]))
def test_frames_come_out_whole_however_the_bytes_arrive(
    whole: list[bytes], cuts: list[int], kind: type[bytes] | type[bytearray] | type[memoryview]
) -> None:
    """FrameReader keeps a bytes buffer while reads end on frame boundaries and a
    bytearray while a frame is pending: either way, every frame comes out as bytes,
    whole and in order, whatever the chunking and the type of the chunks."""
    from bridge.smpp.framing import FrameReader

    stream = b"".join(whole)
    reader, out, i, n = FrameReader(), [], 0, 0
    while i < len(stream):
        size = cuts[n % len(cuts)]
        reader.feed(kind(stream[i : i + size]))
        i, n = i + size, n + 1
        while (frame := reader.next_frame()) is not None:
            out.append(frame)
    assert out == whole
    assert all(type(frame) is bytes for frame in out)
    assert reader.buffered == 0 and not reader.mid_frame
