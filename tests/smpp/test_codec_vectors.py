"""Golden vectors (codec_vectors.py): decode, encode, and framing of every PDU type.

After h11's test_io.py: each sample is fed whole, one byte at a time and with
trailing data (the next frame partly received).
"""

from __future__ import annotations

import pytest

from bridge.smpp import FrameReader, decode, encode, peek_header
from bridge.smpp import codec as C
from bridge.smpp import codec_fast as F
from bridge.smpp import pdus as P
from bridge.smpp.pdus import PDU_TYPES
from tests.smpp.codec_vectors import (
    BY_NAME,
    RAW_HEADER_CHECKS,
    TOLERATED,
    VECTORS,
    Tolerated,
    Vector,
    frame,
)

IDS = [v.name for v in VECTORS]


def test_every_command_id_has_a_vector() -> None:
    covered = {type(v.pdu).command_id for v in VECTORS}
    assert covered == set(PDU_TYPES)
    assert len(PDU_TYPES) == 27  # section 5.1.2.1 lists 27 command_ids for 3.4


@pytest.mark.parametrize("name", sorted(RAW_HEADER_CHECKS))
def test_frame_helper_matches_hand_written_hex(name: str) -> None:
    assert BY_NAME[name].wire == bytes.fromhex(RAW_HEADER_CHECKS[name].replace(" ", ""))


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_decode_whole(vector: Vector) -> None:
    pdu = decode(vector.wire)
    assert type(pdu) is type(vector.pdu)
    assert pdu == vector.pdu
    length, command_id, status, seq = peek_header(vector.wire)
    assert (length, command_id, status, seq) == (
        len(vector.wire),
        pdu.command_id,
        pdu.command_status,
        pdu.sequence_number,
    )


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_encode(vector: Vector) -> None:
    assert encode(vector.pdu) == vector.wire
    assert encode(decode(vector.wire)) == vector.wire


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_encode_sequence_number_override(vector: Vector) -> None:
    wire = encode(vector.pdu, sequence_number=0x01020304)
    assert wire[12:16] == b"\x01\x02\x03\x04"
    assert wire[:12] == vector.wire[:12] and wire[16:] == vector.wire[16:]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_generic_path_agrees_with_fast_path(vector: Vector) -> None:
    """The hand-written fast paths and the table-driven path decode alike."""
    _, command_id, status, seq = peek_header(vector.wire)
    layout = C._LAYOUTS[command_id]
    assert C.Decoder()._decode_body(vector.wire, layout, seq, status) == vector.pdu
    assert C._encode_body(vector.pdu, layout) == vector.wire[16:]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_frame_reader_whole(vector: Vector) -> None:
    reader = FrameReader()
    reader.feed(vector.wire)
    assert reader.next_frame() == vector.wire
    assert reader.next_frame() is None
    assert reader.buffered == 0


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_frame_reader_one_byte_at_a_time(vector: Vector) -> None:
    reader = FrameReader()
    frames = []
    for i in range(len(vector.wire)):
        assert reader.next_frame() is None
        reader.feed(vector.wire[i : i + 1])
        frames += list(reader)
    assert frames == [vector.wire]
    assert decode(frames[0]) == vector.pdu


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_frame_reader_with_trailing_data(vector: Vector) -> None:
    following = VECTORS[(VECTORS.index(vector) + 1) % len(VECTORS)].wire
    for cut in sorted({1, 3, 4, 15, len(following) - 1}):
        reader = FrameReader()
        reader.feed(vector.wire + following[:cut])
        assert reader.next_frame() == vector.wire
        assert reader.next_frame() is None  # the next frame is not complete yet
        assert reader.buffered == cut
        reader.feed(following[cut:])
        assert reader.next_frame() == following
        assert reader.buffered == 0


def test_all_vectors_as_one_stream_in_odd_chunks() -> None:
    stream = b"".join(v.wire for v in VECTORS)
    for chunk in (2, 7, 64, 1000):
        reader = FrameReader()
        got = []
        for i in range(0, len(stream), chunk):
            reader.feed(stream[i : i + chunk])
            got += [decode(f) for f in reader]
        assert got == [v.pdu for v in VECTORS]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    vector = BY_NAME["deliver_sm_receipt"]
    assert decode(bytearray(vector.wire)) == vector.pdu
    assert decode(memoryview(vector.wire)) == vector.pdu


def test_receipt_tlvs_by_tag() -> None:
    """deliver_sm exposes raw_tlvs for the receipt parser and typed values by tag."""
    pdu = decode(BY_NAME["deliver_sm_receipt"].wire)
    assert pdu.raw_tlvs == {0x001E: b"0a1b2c3d4e\0", 0x0427: b"\x02", 0x0423: b"\x03\x00\x00"}
    assert pdu.tlv(0x001E) == "0a1b2c3d4e"  # C-octet string TLV, NUL removed
    assert pdu.tlv(0x0427) == 2
    assert pdu.tlv(0x0423) == b"\x03\x00\x00"
    assert pdu.tlv(0x0424) is None
    data_sm = decode(BY_NAME["data_sm_payload"].wire)
    assert data_sm.raw_tlvs[0x0424] == b"\xde\xad\xbe\xef"
    assert data_sm.tlv(0x020B) == 2948


FAST_DECODED = {
    name
    for name, v in BY_NAME.items()
    if type(v.pdu) in (P.SubmitSm, P.DeliverSm)
    or (type(v.pdu) in (P.SubmitSmResp, P.DeliverSmResp, P.DataSmResp) and not v.pdu.tlvs)  # type: ignore[attr-defined]
}


@pytest.mark.parametrize("name", sorted(FAST_DECODED))
def test_fast_paths_take_the_hot_vectors(name: str) -> None:
    """The fast paths must not silently fall back to the generic path for plain input."""
    vector = BY_NAME[name]
    _, command_id, status, seq = peek_header(vector.wire)
    if command_id & 0x80000000:
        assert F.decode_resp(vector.wire, seq, status) == vector.pdu
    else:
        assert F.decode_sm(vector.wire, seq, status) == vector.pdu
        assert C._FAST_ENCODERS[type(vector.pdu)](vector.pdu, seq) == vector.wire


# -- response bodies (SMPP 3.4 section 4; docs/smpp-codec.md "Response bodies") ------------


@pytest.mark.parametrize("vector", TOLERATED, ids=[t.name for t in TOLERATED])
def test_tolerated_frames_decode_and_go_out_in_the_spec_layout(vector: Tolerated) -> None:
    assert decode(vector.wire) == vector.pdu
    assert encode(vector.pdu) == vector.encoded
    layout = C._LAYOUTS[vector.pdu.command_id]
    assert C._encode_body(vector.pdu, layout) == vector.encoded[16:]


@pytest.mark.parametrize("status", [0, 0x08, 0x64, 0xFFFFFFFF])
def test_deliver_sm_resp_always_carries_its_null_message_id(status: int) -> None:
    """Section 4.6.2: body = message_id, "unused", NULL: 17 octets whatever the status."""
    want = frame(0x80000005, status, 1, b"\0")
    for pdu in (
        P.DeliverSmResp(sequence_number=1, command_status=status),
        P.DeliverSmResp(sequence_number=1, command_status=status, message_id=None),
        P.DeliverSmResp(sequence_number=1, command_status=status, message_id=""),
    ):
        assert encode(pdu) == want
        assert F.encode_deliver_sm_resp(pdu, 1) == want  # the fast path, taken
        assert len(encode(pdu)) == 17
    assert encode(P.DeliverSmResp(sequence_number=1)).hex() == "0000001180000005000000000000000100"


@pytest.mark.parametrize("status", [0, 0x64])
def test_data_sm_resp_always_carries_its_message_id(status: int) -> None:
    want = frame(0x80000103, status, 2, b"\0")
    assert encode(P.DataSmResp(sequence_number=2, command_status=status)) == want
    assert encode(P.DataSmResp(sequence_number=2, command_status=status, message_id=None)) == want


def test_error_submit_sm_resp_has_no_body() -> None:
    """Section 4.4.2: "not returned if the command_status field contains a non-zero value"."""
    pdu = P.SubmitSmResp(sequence_number=3, command_status=0x58)
    assert encode(pdu) == frame(0x80000004, 0x58, 3)
    assert F.encode_submit_sm_resp(pdu, 3) == frame(0x80000004, 0x58, 3)
    assert encode(P.SubmitSmResp(sequence_number=3)) == frame(0x80000004, 0, 3, b"\0")
    # both forms decode (smpplib and Kannel read either, and so do we)
    assert decode(frame(0x80000004, 0x58, 3)) == pdu
    assert decode(frame(0x80000004, 0x58, 3, b"\0")) == P.SubmitSmResp(
        sequence_number=3, command_status=0x58, message_id="")


#: Every response PDU as the bridge or the simulator writes it, against the body
#: layout of its section of SMPP 3.4 (header-only ones: sections 4.2.2, 4.3, 4.9.2,
#: 4.10.2, 4.11.2).
RESPONSE_LAYOUTS: list[tuple[str, P.Pdu, bytes]] = [
    ("bind_transmitter_resp 4.1.2",
     P.BindTransmitterResp(sequence_number=1, system_id="sim", tlvs=((0x0210, b"\x34"),)),
     b"sim\0" b"\x02\x10\x00\x01\x34"),
    ("bind_receiver_resp 4.1.4", P.BindReceiverResp(sequence_number=1, system_id="sim"), b"sim\0"),
    ("bind_transceiver_resp 4.1.6", P.BindTransceiverResp(sequence_number=1, system_id=""), b"\0"),
    ("bind_transceiver_resp refused", P.BindTransceiverResp(sequence_number=1, command_status=0x0E), b""),
    ("unbind_resp 4.2.2", P.UnbindResp(sequence_number=1), b""),
    ("generic_nack 4.3", P.GenericNack(sequence_number=1, command_status=3), b""),
    ("submit_sm_resp 4.4.2", P.SubmitSmResp(sequence_number=1, message_id="abc"), b"abc\0"),
    ("submit_sm_resp error 4.4.2", P.SubmitSmResp(sequence_number=1, command_status=0x58), b""),
    ("submit_multi_resp 4.5.2", P.SubmitMultiResp(sequence_number=1, message_id="m"), b"m\0\x00"),
    ("submit_multi_resp error", P.SubmitMultiResp(sequence_number=1, command_status=0x33), b""),
    ("deliver_sm_resp 4.6.2", P.DeliverSmResp(sequence_number=1), b"\0"),
    ("deliver_sm_resp error 4.6.2", P.DeliverSmResp(sequence_number=1, command_status=0x64), b"\0"),
    ("data_sm_resp 4.7.2", P.DataSmResp(sequence_number=1, message_id="d1"), b"d1\0"),
    ("data_sm_resp error 4.7.2", P.DataSmResp(sequence_number=1, command_status=0x64), b"\0"),
    ("query_sm_resp 4.8.2",
     P.QuerySmResp(sequence_number=1, message_id="q", final_date="", message_state=2, error_code=0),
     b"q\0" b"\0" b"\x02" b"\x00"),
    ("query_sm_resp error", P.QuerySmResp(sequence_number=1, command_status=0x67), b""),
    ("cancel_sm_resp 4.9.2", P.CancelSmResp(sequence_number=1), b""),
    ("replace_sm_resp 4.10.2", P.ReplaceSmResp(sequence_number=1, command_status=0x13), b""),
    ("enquire_link_resp 4.11.2", P.EnquireLinkResp(sequence_number=1), b""),
]


@pytest.mark.parametrize(("name", "pdu", "body"), RESPONSE_LAYOUTS,
                         ids=[r[0] for r in RESPONSE_LAYOUTS])
def test_every_response_body_follows_its_section(name: str, pdu: P.Pdu, body: bytes) -> None:
    wire = encode(pdu)
    assert wire == frame(pdu.command_id, pdu.command_status, 1, body)
    assert decode(wire) == pdu


def test_every_response_pdu_has_a_layout_check() -> None:
    responses = {cid for cid in PDU_TYPES if cid & 0x80000000}
    assert {pdu.command_id for _, pdu, _ in RESPONSE_LAYOUTS} == responses
