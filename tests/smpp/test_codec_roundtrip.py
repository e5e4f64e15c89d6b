"""Hypothesis round trips for every PDU type: encode -> decode -> equal, and back.

Random valid field values (codec_strategies.py), typed standard TLVs and unknown
TLVs, which must come back raw and re-encode byte for byte.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.smpp import FrameReader, decode, encode, peek_header, tlv
from bridge.smpp import codec as C
from bridge.smpp import pdus as P
from tests.smpp.codec_strategies import any_pdu, pdus_of, typed_tlv, unknown_tlv

CLASSES = sorted(P.ALL_PDU_CLASSES, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_round_trip_every_pdu_type(cls: type[P.Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdus_of(cls))
    wire = encode(pdu)
    assert peek_header(wire) == (len(wire), cls.command_id, pdu.command_status, pdu.sequence_number)
    back = decode(wire)
    assert type(back) is cls
    assert back == pdu
    assert encode(back) == wire
    # The table-driven path agrees with the fast paths, both ways.
    layout = C._LAYOUTS[cls.command_id]
    assert C._encode_body(pdu, layout) == wire[16:]
    assert C.Decoder()._decode_body(wire, layout, pdu.sequence_number, pdu.command_status) == pdu


@given(pdus=st.lists(any_pdu, min_size=1, max_size=8), chunk=st.integers(1, 300))
def test_stream_of_pdus_in_chunks(pdus: list[P.Pdu], chunk: int) -> None:
    stream = b"".join(encode(p) for p in pdus)
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), chunk):
        reader.feed(stream[i : i + chunk])
        got += [decode(frame) for frame in reader]
    assert got == pdus
    assert reader.buffered == 0


@given(
    pdu=st.one_of(pdus_of(P.DeliverSm), pdus_of(P.DataSm)),
    extra=st.lists(st.one_of(typed_tlv(), unknown_tlv), min_size=1, max_size=4),
)
def test_raw_tlvs_mapping(pdu: P.Pdu, extra: list[tuple[int, bytes]]) -> None:
    """deliver_sm / data_sm: raw_tlvs maps each tag to its first value, as on the wire."""
    assert isinstance(pdu, P.DeliverSm | P.DataSm)
    all_tlvs = pdu.tlvs + tuple(extra)
    back = decode(encode(pdu))
    assert back.raw_tlvs == pdu.raw_tlvs
    with_extra = msgspec.structs.replace(pdu, tlvs=all_tlvs)
    back = decode(encode(with_extra))
    expected: dict[int, bytes] = {}
    for tag, value in all_tlvs:
        expected.setdefault(tag, value)
    assert dict(back.raw_tlvs) == expected
    for tag, value in expected.items():
        assert back.tlv(tag) == tlv.unpack(tag, value)


@given(item=unknown_tlv)
def test_unknown_tlv_kept_raw(item: tuple[int, bytes]) -> None:
    pdu = P.SubmitSm(destination_addr="1", tlvs=(item, item))
    wire = encode(pdu)
    assert wire.endswith(2 * (item[0].to_bytes(2, "big") + len(item[1]).to_bytes(2, "big") + item[1]))
    back = decode(wire)
    assert isinstance(back, P.SubmitSm)
    assert back.tlvs == (item, item)
    assert back.tlv(item[0]) == item[1]


@given(item=typed_tlv())
def test_typed_tlv_values(item: tuple[int, bytes]) -> None:
    tag, raw = item
    value = tlv.unpack(tag, raw)
    assert tlv.pack(tag, value) == item
    kind = tlv.TLV_TYPES[tag][0]
    assert isinstance(value, {tlv.Kind.INT: int, tlv.Kind.COCTET: str, tlv.Kind.OCTET: bytes}[kind])


def test_tlv_make_by_name() -> None:
    made = tlv.make(message_payload=b"abc", sar_msg_ref_num=7, receipted_message_id="x1")
    assert made == ((0x0424, b"abc"), (0x020C, b"\x00\x07"), (0x001E, b"x1\0"))
