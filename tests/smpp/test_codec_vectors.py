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
from tests.smpp.codec_vectors import BY_NAME, RAW_HEADER_CHECKS, VECTORS, Vector

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
