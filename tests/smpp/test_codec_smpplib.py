"""Differential tests against smpplib 2.2.x, an independent SMPP codec.

Both directions, for the PDUs both support: our encoding parsed by smpplib gives
the same fields, and smpplib's encoding decodes in ours to the same fields.
Where smpplib disagrees with SMPP 3.4, a test below pins the disagreement
against smpplib itself (so it fails if smpplib changes) and says why ours is right.

smpplib notes: parsed C-octet strings come back as bytes; a ``sequence=`` keyword
is ignored when there is no client, so the tests set ``.sequence`` afterwards.
"""

from __future__ import annotations

import struct
import warnings
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.smpp import (
    CommandStatus,
    LocalProtocolError,
    RemoteProtocolError,
    Tag,
    decode,
    encode,
    tlv,
)
from bridge.smpp import pdus as P
from tests.smpp.codec_strategies import body_fields, c_octet, integer, pdus_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    smpplib_smpp = pytest.importorskip("smpplib.smpp")
    smpplib_exceptions = pytest.importorskip("smpplib.exceptions")

#: Our class -> smpplib's command name, for every PDU both implement.
SHARED: dict[type[P.Pdu], str] = {
    P.BindTransmitter: "bind_transmitter",
    P.BindTransmitterResp: "bind_transmitter_resp",
    P.BindReceiver: "bind_receiver",
    P.BindReceiverResp: "bind_receiver_resp",
    P.BindTransceiver: "bind_transceiver",
    P.BindTransceiverResp: "bind_transceiver_resp",
    P.SubmitSm: "submit_sm",
    P.SubmitSmResp: "submit_sm_resp",
    P.DeliverSm: "deliver_sm",
    P.DeliverSmResp: "deliver_sm_resp",
    P.DataSm: "data_sm",
    P.DataSmResp: "data_sm_resp",
    P.QuerySm: "query_sm",
    P.QuerySmResp: "query_sm_resp",
    P.EnquireLink: "enquire_link",
    P.EnquireLinkResp: "enquire_link_resp",
    P.Unbind: "unbind",
    P.UnbindResp: "unbind_resp",
    P.GenericNack: "generic_nack",
    P.AlertNotification: "alert_notification",
}

#: TLVs smpplib types as the spec does, per command (see the tests of the others below).
SHARED_TLVS: dict[type[P.Pdu], tuple[int, ...]] = {
    P.SubmitSm: (
        Tag.USER_MESSAGE_REFERENCE, Tag.SOURCE_PORT, Tag.DESTINATION_PORT,
        Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM,
        Tag.MORE_MESSAGES_TO_SEND, Tag.PAYLOAD_TYPE, Tag.MESSAGE_PAYLOAD,
        Tag.PRIVACY_INDICATOR, Tag.CALLBACK_NUM, Tag.LANGUAGE_INDICATOR,
    ),
    P.DeliverSm: (
        Tag.USER_MESSAGE_REFERENCE, Tag.SOURCE_PORT, Tag.DESTINATION_PORT,
        Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM,
        Tag.MESSAGE_PAYLOAD, Tag.NETWORK_ERROR_CODE, Tag.MESSAGE_STATE,
        Tag.RECEIPTED_MESSAGE_ID, Tag.LANGUAGE_INDICATOR,
    ),
    P.DataSm: (
        Tag.SOURCE_PORT, Tag.DESTINATION_PORT, Tag.SAR_MSG_REF_NUM, Tag.QOS_TIME_TO_LIVE,
        Tag.MESSAGE_PAYLOAD, Tag.RECEIPTED_MESSAGE_ID, Tag.MESSAGE_STATE,
        Tag.NETWORK_ERROR_CODE,
    ),
    P.DataSmResp: (Tag.ADDITIONAL_STATUS_INFO_TEXT, Tag.DPF_RESULT),
    P.AlertNotification: (Tag.MS_AVAILABILITY_STATUS,),
    P.BindTransmitterResp: (Tag.SC_INTERFACE_VERSION,),
    P.BindReceiverResp: (Tag.SC_INTERFACE_VERSION,),
    P.BindTransceiverResp: (Tag.SC_INTERFACE_VERSION,),
}  # fmt: skip


def smpplib_parse(wire: bytes, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smpplib_smpp.parse_pdu(wire, client=None, sequence=0, **options)


def smpplib_make(name: str, sequence: int, status: int = 0, **fields: Any) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pdu = smpplib_smpp.make_pdu(name, client=None, sequence=sequence, **fields)
        pdu.sequence = sequence  # ignored as a keyword without a client
        pdu.status = status
        return bytes(pdu.generate())


def _theirs_as_ours(value: Any) -> Any:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def assert_same_fields(ours: P.Pdu, theirs: Any) -> None:
    assert theirs.command == SHARED[type(ours)]
    assert theirs.sequence == ours.sequence_number
    assert theirs.status == ours.command_status
    for name in type(ours).__struct_fields__[2:]:
        if name == "tlvs":
            continue
        want = getattr(ours, name)
        got = getattr(theirs, name)
        if name == "short_message":
            assert (got or b"") == want
            assert theirs.sm_length == len(want)
        else:
            assert _theirs_as_ours(got) == want, name
    for tag, raw in getattr(ours, "tlvs", ()):
        got = getattr(theirs, Tag(tag).name.lower())
        want = tlv.unpack(tag, raw)
        assert (_theirs_as_ours(got) if isinstance(want, str) else got) == want, Tag(tag).name


@st.composite
def shared_pdus(draw: st.DrawFn, cls: type[P.Pdu]) -> P.Pdu:
    """PDUs of ``cls`` with TLVs smpplib handles, each tag at most once."""
    pdu = draw(pdus_of(cls))
    tags = SHARED_TLVS.get(cls, ())
    if not hasattr(pdu, "tlvs"):
        return pdu
    chosen = draw(st.lists(st.sampled_from(tags), unique=True, max_size=4)) if tags else []
    items = tuple(_typed_value(draw, tag) for tag in chosen)
    if cls in (P.SubmitSm, P.DeliverSm) and any(t == Tag.MESSAGE_PAYLOAD for t, _ in items):
        # smpplib refuses short_message together with message_payload (5.3.2.32 says
        # the SMSC ignores one; not an encoding question).
        pdu = msgspec.structs.replace(pdu, short_message=b"")
    if pdu.command_status and all(getattr(pdu, f) in (None, ()) for f in body_fields(cls)):
        return pdu  # bodiless error response: no TLVs either
    return msgspec.structs.replace(pdu, tlvs=items)


def _typed_value(draw: st.DrawFn, tag: int) -> tuple[int, bytes]:
    kind, low, high = tlv.TLV_TYPES[tag]
    if kind is tlv.Kind.INT:
        return tlv.pack(tag, draw(integer(low)))
    if kind is tlv.Kind.COCTET:
        return tlv.pack(tag, draw(st.text(st.characters(min_codepoint=1, max_codepoint=255),
                                          min_size=1, max_size=min(high, 60) - 1)))  # fmt: skip
    # smpplib skips a false-y (empty) octet string on generate.
    return tlv.pack(tag, draw(st.binary(min_size=max(low, 1), max_size=min(high, 60))))


# -- ours -> smpplib ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(SHARED), ids=lambda cls: cls.__name__)
@settings(max_examples=25)  # smpplib is slow; 20 PDU types x 25 examples
@given(data=st.data())
def test_our_encoding_parses_in_smpplib(cls: type[P.Pdu], data: st.DataObject) -> None:
    pdu = data.draw(shared_pdus(cls))
    theirs = smpplib_parse(encode(pdu))
    assert_same_fields(pdu, theirs)


# -- smpplib -> ours ------------------------------------------------------------------------

_ASCII = st.characters(min_codepoint=1, max_codepoint=127)
_SM_FIELDS = {
    "service_type": c_octet(6),
    "source_addr_ton": integer(1),
    "source_addr_npi": integer(1),
    "source_addr": c_octet(21),
    "dest_addr_ton": integer(1),
    "dest_addr_npi": integer(1),
    "destination_addr": c_octet(21),
    "esm_class": integer(1),
    "protocol_id": integer(1),
    "priority_flag": integer(1),
    "schedule_delivery_time": c_octet(17),
    "validity_period": c_octet(17),
    "registered_delivery": integer(1),
    "replace_if_present_flag": integer(1),
    "data_coding": integer(1),
    "sm_default_msg_id": integer(1),
    "short_message": st.binary(max_size=254),
}
_BIND_FIELDS = {
    "system_id": c_octet(16),
    "password": c_octet(9),
    "system_type": c_octet(13),
    "addr_ton": integer(1),
    "addr_npi": integer(1),
    "address_range": c_octet(41),
}

SMPPLIB_INPUTS: dict[str, tuple[type[P.Pdu], dict[str, st.SearchStrategy[Any]]]] = {
    "bind_transmitter": (P.BindTransmitter, _BIND_FIELDS),
    "bind_receiver": (P.BindReceiver, _BIND_FIELDS),
    "bind_transceiver": (P.BindTransceiver, _BIND_FIELDS),
    "bind_transmitter_resp": (P.BindTransmitterResp, {"system_id": c_octet(16)}),
    "bind_transceiver_resp": (
        P.BindTransceiverResp,
        {"system_id": c_octet(16), "sc_interface_version": integer(1)},
    ),
    "submit_sm": (P.SubmitSm, _SM_FIELDS),
    "deliver_sm": (
        P.DeliverSm,
        {
            **_SM_FIELDS,
            # ASCII only: see test_smpplib_miscounts_non_ascii_string_tlvs.
            "receipted_message_id": st.text(_ASCII, min_size=1, max_size=64),
            "message_state": integer(1),
        },
    ),
    "submit_sm_resp": (P.SubmitSmResp, {"message_id": c_octet(65)}),
    "deliver_sm_resp": (P.DeliverSmResp, {}),
    "query_sm": (
        P.QuerySm,
        {"message_id": c_octet(65).filter(bool), "source_addr_ton": integer(1),
         "source_addr_npi": integer(1), "source_addr": c_octet(21)},
    ),
    "query_sm_resp": (
        P.QuerySmResp,
        {"message_id": c_octet(65), "final_date": c_octet(17), "message_state": integer(1),
         "error_code": integer(1)},
    ),
    "enquire_link": (P.EnquireLink, {}),
    "enquire_link_resp": (P.EnquireLinkResp, {}),
    "unbind": (P.Unbind, {}),
    "unbind_resp": (P.UnbindResp, {}),
    "generic_nack": (P.GenericNack, {}),
}


@pytest.mark.parametrize("name", sorted(SMPPLIB_INPUTS))
@settings(max_examples=25)
@given(data=st.data(), sequence=st.integers(1, 0x7FFFFFFF))
def test_smpplib_encoding_decodes_in_ours(name: str, data: st.DataObject, sequence: int) -> None:
    cls, strategies = SMPPLIB_INPUTS[name]
    fields = data.draw(st.fixed_dictionaries(strategies))
    status = data.draw(st.sampled_from([0, 0x58])) if cls is P.GenericNack else 0
    ours = decode(smpplib_make(name, sequence, status, **fields))
    assert type(ours) is cls
    assert (ours.sequence_number, ours.command_status) == (sequence, status)
    for key, value in fields.items():
        if key not in cls.__struct_fields__:  # an optional parameter
            assert ours.tlv(Tag[key.upper()]) == value
        else:
            assert getattr(ours, key) == value, key
    if name == "deliver_sm_resp":
        assert ours == P.DeliverSmResp(sequence_number=sequence, message_id="")


def test_smpplib_submit_sm_with_sar_tlvs_is_our_golden_shape() -> None:
    wire = smpplib_make(
        "submit_sm", 9, source_addr="Bank", destination_addr="4917", short_message=b"hello",
        source_addr_ton=5, registered_delivery=1,
        sar_msg_ref_num=7, sar_total_segments=2, sar_segment_seqnum=1,
    )  # fmt: skip
    pdu = decode(wire)
    assert pdu == P.SubmitSm(
        sequence_number=9, source_addr_ton=5, source_addr="Bank", destination_addr="4917",
        registered_delivery=1, short_message=b"hello",
        tlvs=((0x020C, b"\x00\x07"), (0x020E, b"\x02"), (0x020F, b"\x01")),
    )  # fmt: skip
    assert encode(pdu) == wire


# -- where smpplib is wrong -----------------------------------------------------------------


def test_smpplib_truncates_data_sm_addresses_to_20_octets() -> None:
    """Section 4.7.1: data_sm source_addr/destination_addr are up to 65 octets.

    smpplib declares 21 and silently cuts the address; ours keeps 64 and refuses more.
    """
    long_addr = "4917" + "0" * 30
    wire = smpplib_make("data_sm", 3, source_addr=long_addr, destination_addr="1")
    assert decode(wire).source_addr == long_addr[:20]  # type: ignore[attr-defined]
    assert decode(encode(P.DataSm(source_addr=long_addr))).source_addr == long_addr  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        encode(P.DataSm(source_addr="1" * 65))


def test_smpplib_silently_truncates_overlong_strings_where_we_refuse() -> None:
    wire = smpplib_make("submit_sm", 4, source_addr="1" * 25, destination_addr="2")
    assert decode(wire).source_addr == "1" * 20  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        encode(P.SubmitSm(source_addr="1" * 25))


def test_smpplib_types_delivery_failure_reason_as_a_c_string() -> None:
    """Section 5.3.2.33: delivery_failure_reason is a 1-octet integer.

    smpplib parses it as a C-octet string and drops the last octet as the "NUL",
    losing the value entirely.
    """
    wire = encode(P.DataSmResp(sequence_number=1, message_id="m", tlvs=((0x0425, b"\x02"),)))
    assert smpplib_parse(wire).delivery_failure_reason == b""
    assert decode(wire).tlv(0x0425) == 2


def test_smpplib_reads_source_addr_subunit_as_two_octets() -> None:
    """Section 5.3.2.2: source_addr_subunit is 1 octet; smpplib's submit_sm says 2.

    smpplib reads its declared size, not the TLV length, so it swallows the first
    octet of the next TLV and the rest of the stream goes out of step.
    """
    wire = encode(P.SubmitSm(destination_addr="1", tlvs=((0x000D, b"\x01"), (0x020C, b"\x00\x07"))))
    with pytest.raises(smpplib_exceptions.UnknownCommandError, match="0xc00"):
        smpplib_parse(wire)  # 0x0C00: the tail of one TLV read as the next tag
    alone = encode(P.SubmitSm(destination_addr="1", tlvs=((0x000D, b"\x01"),)))
    with pytest.raises(struct.error):
        smpplib_parse(alone)
    assert decode(wire).raw_tlvs == {0x000D: b"\x01", 0x020C: b"\x00\x07"}


def test_smpplib_refuses_unknown_tlvs_or_drops_them() -> None:
    """Section 5.3: an optional parameter a receiver does not support is ignored, not fatal.

    smpplib raises by default and drops them when told to allow them; ours keeps
    them raw and re-encodes them unchanged.
    """
    wire = encode(P.DeliverSm(destination_addr="1", tlvs=((0x1403, b"vendor"),)))
    with pytest.raises(smpplib_exceptions.UnknownCommandError):
        smpplib_parse(wire)
    assert smpplib_parse(wire, allow_unknown_opt_params=True).destination_addr == b"1"
    assert encode(decode(wire)) == wire


def test_smpplib_ignores_the_sequence_keyword_without_a_client() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pdu = smpplib_smpp.make_pdu("enquire_link", client=None, sequence=42)
        wire = bytes(pdu.generate())
    assert decode(wire).sequence_number == 0


def test_smpplib_miscounts_non_ascii_string_tlvs() -> None:
    """Section 5.3.2.12: receipted_message_id is a C-octet string of octets.

    smpplib counts characters for the TLV length but writes UTF-8, so any
    non-ASCII character makes the value longer than its length field and breaks
    the TLV stream. Ours refuses the frame with ESME_RINVOPTPARSTREAM.
    """
    wire = smpplib_make("deliver_sm", 5, destination_addr="1", receipted_message_id="\xe9")
    assert wire.endswith(b"\x00\x1e\x00\x02\xc3\xa9\x00")  # length 2, three octets follow
    with pytest.raises(RemoteProtocolError) as info:
        decode(wire)
    assert info.value.status == CommandStatus.ESME_RINVOPTPARSTREAM
