"""Tolerance and strictness of the codec (SMPP 3.4 sections 3.2, 4, 5.1.3).

Tolerated: bodiless error responses, an empty deliver_sm_resp, overlong C-octet
strings up to Decoder.max_c_octet_string (counted). Refused with the status the
request is answered with: a missing NUL, a truncated field, a bad sm_length, a
broken TLV stream, an unknown command_id. Refused as a stream-level (fatal)
error: a command_length that cannot delimit the frame.
"""

from __future__ import annotations

import struct

import pytest

from bridge.smpp import (
    CommandStatus,
    Decoder,
    FrameReader,
    LocalProtocolError,
    RemoteProtocolError,
    decode,
    encode,
    tlv,
)
from bridge.smpp import codec as C
from bridge.smpp import pdus as P
from bridge.smpp.framing import DEFAULT_MAX_LENGTH, FrameTooLong
from tests.smpp.codec_vectors import BY_NAME, frame

S = CommandStatus


def _refused(wire: bytes, status: int, decoder: Decoder | None = None) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        (decoder or Decoder()).decode(wire)
    exc = info.value
    assert exc.status == status, repr(exc)
    assert not exc.fatal
    # The header was readable, so the answer can name the request.
    assert exc.command_id == int.from_bytes(wire[4:8], "big")
    assert exc.sequence_number == int.from_bytes(wire[12:16], "big")
    return exc


# -- tolerance -----------------------------------------------------------------------------

BODILESS_ERROR_RESPONSES = [
    (0x80000001, P.BindReceiverResp),
    (0x80000002, P.BindTransmitterResp),
    (0x80000009, P.BindTransceiverResp),
    (0x80000004, P.SubmitSmResp),
    (0x80000005, P.DeliverSmResp),
    (0x80000103, P.DataSmResp),
    (0x80000003, P.QuerySmResp),
    (0x80000021, P.SubmitMultiResp),
]


@pytest.mark.parametrize(("command_id", "cls"), BODILESS_ERROR_RESPONSES)
def test_error_response_without_body_decodes_with_fields_absent(
    command_id: int, cls: type[P.Pdu]
) -> None:
    """Section 4.4.2 (and SMSCs for every response): no body when command_status != 0."""
    pdu = decode(frame(command_id, S.ESME_RTHROTTLED, 9))
    absent = {"message_id": None} if cls in C.ALWAYS_BODY else {}
    assert pdu == cls(sequence_number=9, command_status=S.ESME_RTHROTTLED, **absent)  # type: ignore[call-arg]
    for name in cls.__struct_fields__[2:]:
        assert getattr(pdu, name) in (None, ())
    # Written in the spec's layout: deliver_sm_resp / data_sm_resp keep their NULL
    # message_id (sections 4.6.2, 4.7.2), the others have no body (4.4.2).
    body = b"\0" if cls in C.ALWAYS_BODY else b""
    assert encode(pdu) == frame(command_id, S.ESME_RTHROTTLED, 9, body)


def test_error_response_with_a_body_keeps_it() -> None:
    pdu = decode(frame(0x80000004, S.ESME_RSUBMITFAIL, 3, b"\0"))
    assert pdu == P.SubmitSmResp(sequence_number=3, command_status=S.ESME_RSUBMITFAIL, message_id="")


def test_empty_deliver_sm_resp_with_status_zero() -> None:
    """Section 4.6.2 says message_id is unused; many peers omit even its NUL."""
    pdu = decode(frame(0x80000005, 0, 4))
    assert pdu == P.DeliverSmResp(sequence_number=4, message_id=None)
    assert pdu.message_id is None


def test_submit_sm_resp_with_status_zero_needs_its_message_id() -> None:
    _refused(frame(0x80000004, 0, 4), S.ESME_RINVMSGID)


def _submit_sm_with_source(source: bytes) -> bytes:
    body = b"\0\x01\x01" + source + b"\0\x01\x01" + b"4917\0" + b"\0" * 9 + b"\x02hi"
    return frame(0x00000004, 0, 5, body)


@pytest.mark.parametrize("length", [21, 30, 64, 255])
def test_overlong_c_octet_string_is_accepted_and_counted(length: int) -> None:
    """source_addr allows 20 octets (section 4.4.1); SMSCs send more. Up to 255 is kept."""
    decoder = Decoder()
    source = b"9" * length
    pdu = decoder.decode(_submit_sm_with_source(source))
    assert isinstance(pdu, P.SubmitSm)
    assert pdu.source_addr == source.decode()
    assert pdu.short_message == b"hi"
    assert decoder.overlong == 1
    decoder.decode(_submit_sm_with_source(b"9" * 20))  # the spec's maximum: not counted
    assert decoder.overlong == 1
    with pytest.raises(LocalProtocolError):  # we never send what the spec forbids
        encode(pdu)


def test_c_octet_string_beyond_the_configured_maximum_is_refused() -> None:
    _refused(_submit_sm_with_source(b"9" * 256), S.ESME_RINVSRCADR)
    strict = Decoder(max_c_octet_string=32)
    strict.decode(_submit_sm_with_source(b"9" * 32))
    _refused(_submit_sm_with_source(b"9" * 33), S.ESME_RINVSRCADR, strict)
    assert strict.overlong == 1


def test_overlong_message_id_in_submit_sm_resp() -> None:
    decoder = Decoder()
    pdu = decoder.decode(frame(0x80000004, 0, 6, b"x" * 70 + b"\0"))
    assert pdu == P.SubmitSmResp(sequence_number=6, message_id="x" * 70)
    assert decoder.overlong == 1


def test_overlong_system_id_in_bind_resp() -> None:
    decoder = Decoder()
    pdu = decoder.decode(frame(0x80000009, 0, 1, b"A-Very-Long-SMSC-Name\0"))
    assert isinstance(pdu, P.BindTransceiverResp) and pdu.system_id == "A-Very-Long-SMSC-Name"
    assert decoder.overlong == 1


def test_short_message_of_255_octets_is_accepted_and_counted() -> None:
    """sm_length is one octet; section 4.4.1 allows 0..254."""
    decoder = Decoder()
    body = b"\0\0\0\0\0\0" + b"1\0" + b"\0" * 9 + b"\xff" + b"m" * 255
    pdu = decoder.decode(frame(0x00000005, 0, 7, body))
    assert isinstance(pdu, P.DeliverSm) and len(pdu.short_message) == 255
    assert decoder.overlong == 1


def test_c_octet_tlv_without_nul_is_tolerated() -> None:
    """The TLV length delimits the value; several SMSCs leave out receipted_message_id's NUL."""
    wire = BY_NAME["deliver_sm_mo_unknown_tlv"].wire
    wire = frame(0x00000005, 0, 8, wire[16:-4] + b"\x00\x1e\x00\x03abc")
    pdu = decode(wire)
    assert pdu.tlv(0x001E) == "abc"
    assert pdu.raw_tlvs[0x001E] == b"abc"


def test_repeated_tags_are_kept_in_order() -> None:
    wire = BY_NAME["deliver_sm_mo_unknown_tlv"].wire
    tlvs = b"\xfe\x01\x00\x01a\x00\x1e\x00\x02b\0\xfe\x01\x00\x01c"
    pdu = decode(frame(0x00000005, 0, 8, wire[16:-4] + tlvs))
    assert isinstance(pdu, P.DeliverSm)
    assert pdu.tlvs == ((0xFE01, b"a"), (0x001E, b"b\0"), (0xFE01, b"c"))
    assert pdu.raw_tlvs[0xFE01] == b"a"  # first occurrence wins
    assert encode(pdu)[16:] == wire[16:-4] + tlvs


# -- strictness: malformed bodies of known PDUs ------------------------------------------------

_SUBMIT = BY_NAME["submit_sm_all_fields_sar_and_unknown_tlv"].wire[16:]


def _cut_submit(text: bytes) -> bytes:
    """submit_sm body cut right before ``text`` ends (its NUL and everything after lost)."""
    at = _SUBMIT.index(text) + len(text)
    return frame(0x00000004, 0, 11, _SUBMIT[: at - 1])


@pytest.mark.parametrize(
    ("field_text", "status"),
    [
        (b"CMT", S.ESME_RINVSERTYP),
        (b"447700900123", S.ESME_RINVSRCADR),
        (b"447700900456", S.ESME_RINVDSTADR),
        (b"261201120000000+", S.ESME_RINVSCHED),
        (b"000001000000000R", S.ESME_RINVEXPIRY),
    ],
)
def test_missing_nul_is_answered_with_the_fields_status(field_text: bytes, status: int) -> None:
    _refused(_cut_submit(field_text), status)


def test_truncated_integer_field() -> None:
    """The command_length does not cover the mandatory fields: answered, not fatal."""
    at = _SUBMIT.index(b"447700900456\0") + 13  # esm_class and the rest are missing
    _refused(frame(0x00000004, 0, 11, _SUBMIT[:at]), S.ESME_RINVCMDLEN)
    _refused(frame(0x00000004, 0, 11, _SUBMIT[: at + 2]), S.ESME_RINVCMDLEN)


def test_sm_length_beyond_the_body() -> None:
    at = _SUBMIT.index(b"\x00\x48\x00\x69")
    _refused(frame(0x00000004, 0, 11, _SUBMIT[: at + 3]), S.ESME_RINVMSGLEN)


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        (b"\x02", S.ESME_RINVOPTPARSTREAM),  # a stray octet where a TLV header starts
        (b"\x02\x0c\x00", S.ESME_RINVOPTPARSTREAM),  # half a TLV header
        (b"\x14\x03\x00\x09abc", S.ESME_RINVOPTPARSTREAM),  # length overruns the PDU
        (b"\x02\x0c\x00\x01\x07", S.ESME_RINVPARLEN),  # sar_msg_ref_num is 2 octets
        (b"\x04\x27\x00\x02\x00\x02", S.ESME_RINVPARLEN),  # message_state is 1 octet
        (b"\x00\x10\x00\x03\x00\x00\x01", S.ESME_RINVPARLEN),  # source_telematics_id: 1 or 2
        (b"\x00\x10\x00\x00", S.ESME_RINVPARLEN),
    ],
)
def test_broken_tlv_stream(tail: bytes, status: int) -> None:
    body = BY_NAME["submit_sm_minimal"].wire[16:] + tail
    _refused(frame(0x00000004, 0, 12, body), status)
    deliver = BY_NAME["deliver_sm_receipt"].wire[16:] + tail
    _refused(frame(0x00000005, 0, 13, deliver), status)
    resp = b"id\0" + tail
    _refused(frame(0x80000103, 0, 14, resp), status)


@pytest.mark.parametrize(
    ("command_id", "body", "status"),
    [
        (0x00000002, b"smppclient", S.ESME_RINVSYSID),
        (0x00000001, b"sys\0secret", S.ESME_RINVPASWD),
        (0x00000009, b"sys\0pw\0SUBMIT", S.ESME_RINVSYSTYP),
        (0x00000009, b"sys\0pw\0\0\x34\x00", S.ESME_RINVCMDLEN),
        (0x00000003, b"0a1b", S.ESME_RINVMSGID),
        (0x00000008, b"\0id\0\x00\x00src", S.ESME_RINVSRCADR),
        (0x00000007, b"id\0\x00\x00src\0\0\0\x00\x00\x05abc", S.ESME_RINVMSGLEN),
        (0x00000021, b"\0\x00\x00src\0\x00", S.ESME_RINVNUMDESTS),
        (0x00000021, b"\0\x00\x00src\0\x01\x03", S.ESME_RINVDESTFLAG),
        (0x00000021, b"\0\x00\x00src\0\x01\x02staff", S.ESME_RINVDLNAME),
        (0x00000021, b"\0\x00\x00src\0\x02\x01\x01\x01x\0", S.ESME_RINVDESTFLAG),
        (0x00000102, b"\x00\x00src\0\x00\x00esme", S.ESME_RINVDSTADR),
        (0x00000103, b"\0\x00\x00src\0\x00\x00dst\0\x00", S.ESME_RINVCMDLEN),
        (0x0000000B, b"SMSC", S.ESME_RINVSYSID),
    ],
)
def test_malformed_bodies(command_id: int, body: bytes, status: int) -> None:
    _refused(frame(command_id, 0, 21, body), status)


@pytest.mark.parametrize("command_id", [0x00000006, 0x00000015, 0x80000000, 0x80000015])
def test_body_on_a_header_only_pdu(command_id: int) -> None:
    _refused(frame(command_id, 0, 22, b"\0"), S.ESME_RINVCMDLEN)


def test_octets_after_the_last_mandatory_field_of_a_pdu_without_tlvs() -> None:
    """query_sm has no optional parameters in 3.4 (section 4.8.1)."""
    body = BY_NAME["query_sm"].wire[16:] + b"\x00\x1e\x00\x01x"
    _refused(frame(0x00000003, 0, 23, body), S.ESME_RINVCMDLEN)


@pytest.mark.parametrize("command_id", [0x00000000, 0x00000010, 0x80000099, 0x00000104, 0xFFFFFFFF])
def test_unknown_command_id(command_id: int) -> None:
    """Answered with generic_nack (section 4.3) by the connection; the frame was delimited."""
    exc = _refused(frame(command_id, 0, 24, b"anything"), S.ESME_RINVCMDID)
    assert exc.command_id == command_id


# -- stream-level errors -------------------------------------------------------------------


def test_decode_refuses_a_frame_whose_length_disagrees() -> None:
    wire = BY_NAME["submit_sm_minimal"].wire
    for bad in (wire + b"\0", wire[:-1]):
        with pytest.raises(RemoteProtocolError) as info:
            decode(bad)
        assert info.value.fatal and info.value.status == S.ESME_RINVCMDLEN
        assert info.value.command_id == 4 and info.value.sequence_number == 10


@pytest.mark.parametrize("size", [0, 1, 15])
def test_decode_refuses_less_than_a_header(size: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode(b"\x00" * size)
    assert info.value.fatal and info.value.status == S.ESME_RINVCMDLEN


@pytest.mark.parametrize(("length", "command_id"), [
    (0, 4), (1, 4), (15, 4),
    (DEFAULT_MAX_LENGTH + 1, 0x77), (0xFFFFFFFF, 0x77),  # too long, unknown command: garbage
])
def test_frame_reader_refuses_command_length_out_of_bounds(length: int, command_id: int) -> None:
    reader = FrameReader()
    reader.feed(length.to_bytes(4, "big") + command_id.to_bytes(4, "big") + b"\x00" * 4
                + b"\x00\x00\x00\x2a")
    with pytest.raises(RemoteProtocolError) as info:
        reader.next_frame()
    exc = info.value
    assert exc.fatal and exc.status == S.ESME_RINVCMDLEN
    assert (exc.command_id, exc.sequence_number) == (command_id, 42)
    with pytest.raises(RemoteProtocolError) as again:  # the stream stays lost
        reader.next_frame()
    assert again.value is exc


def test_frame_reader_bad_length_names_what_it_can() -> None:
    reader = FrameReader()
    reader.feed(b"\x00\x00\x00\x05\x00\x00")  # only part of command_id
    with pytest.raises(RemoteProtocolError) as info:
        reader.next_frame()
    assert info.value.command_id is None and info.value.sequence_number is None


def test_frame_reader_configurable_maximum() -> None:
    reader = FrameReader(max_length=100)
    ok = frame(0x00000004, 0, 1, b"x" * 84)
    reader.feed(ok)
    assert reader.next_frame() == ok
    reader.feed(frame(0x00000004, 0, 2, b"x" * 85))
    with pytest.raises(FrameTooLong) as info:  # skipped, not fatal (test_framing_limits.py)
        reader.next_frame()
    assert not info.value.fatal and info.value.sequence_number == 2
    with pytest.raises(ValueError):
        FrameReader(max_length=15)


def test_frame_reader_waits_for_the_length_field() -> None:
    reader = FrameReader()
    reader.feed(b"\x00\x00\x00")
    assert reader.next_frame() is None
    assert reader.buffered == 3


def test_frame_reader_bounds_its_buffer() -> None:
    """The caller must drain frames; the buffer never grows past one maximum frame + one read."""
    reader = FrameReader(max_length=64)
    reader.feed(frame(0x00000015, 0, 1) * 4)  # 64 octets, four whole frames
    with pytest.raises(LocalProtocolError):
        reader.feed(b"\x00")
    assert len(list(reader)) == 4
    reader.feed(b"\x00")  # drained: accepted again
    assert reader.buffered == 1


# -- encode strictness -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        P.SubmitSm(source_addr="1" * 21),
        P.SubmitSm(destination_addr="1" * 21),
        P.SubmitSm(service_type="ABCDEF"),
        P.SubmitSm(short_message=b"x" * 255),
        P.SubmitSm(short_message="text"),  # type: ignore[arg-type]
        P.SubmitSm(source_addr=b"123"),  # type: ignore[arg-type]
        P.SubmitSm(source_addr="a\0b"),
        P.SubmitSm(source_addr="€"),
        P.SubmitSm(esm_class=256),
        P.SubmitSm(data_coding=-1),
        P.SubmitSm(esm_class=b"\x01"),  # type: ignore[arg-type]
        P.DeliverSm(source_addr=["1"]),  # type: ignore[arg-type]
        P.SubmitSm(schedule_delivery_time="2612011200"),
        P.SubmitSm(tlvs=((0x020C, b"\x01"),)),  # sar_msg_ref_num is 2 octets
        P.SubmitSm(tlvs=((0x10000, b""),)),
        P.SubmitSm(tlvs=((0x1403, "text"),)),  # type: ignore[arg-type]
        P.SubmitSm(tlvs=((0x1403,),)),  # type: ignore[arg-type]
        P.SubmitSm(sequence_number=1 << 32),
        P.DeliverSm(command_status=-1),
        P.DataSm(source_addr="1" * 65),
        P.BindTransmitter(password="123456789"),
        P.BindTransmitter(interface_version=0x100),
        P.SubmitMulti(dest_address=()),
        P.SubmitMulti(dest_address=(P.SmeAddress(),) * 255),
        P.SubmitMulti(dest_address=("491701234567",)),  # type: ignore[arg-type]
        P.SubmitMultiResp(message_id="m", unsuccess_sme=(P.UnsuccessSme(error_status_code=1 << 32),)),
        P.QuerySmResp(message_id="m", final_date="soon"),
    ],
    ids=lambda pdu: type(pdu).__name__,
)
def test_encode_refuses_what_does_not_fit(pdu: P.Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


def test_encode_refuses_non_pdus() -> None:
    with pytest.raises(LocalProtocolError):
        encode(P.SmeAddress())  # type: ignore[arg-type]


def test_none_goes_out_as_the_null_value() -> None:
    """An absent field (None) is encoded as its NULL value: an empty C-string or 0."""
    assert encode(P.SubmitSm(source_addr=None)) == encode(P.SubmitSm())  # type: ignore[arg-type]
    assert encode(P.QuerySmResp(message_id="m")) == frame(0x80000003, 0, 0, b"m\0\0\x00\x00")


@pytest.mark.parametrize("raw", [b"\x01", b"\x00\x01"])
def test_source_telematics_id_of_one_or_two_octets_is_accepted(raw: bytes) -> None:
    """Peers disagree on its size (smpplib and node-smpp send 2 octets): both decode."""
    tail = struct.pack(">HH", 0x0010, len(raw)) + raw
    deliver = BY_NAME["deliver_sm_receipt"].wire[16:] + tail
    pdu = decode(frame(0x00000005, 0, 13, deliver))
    assert pdu.raw_tlvs[0x0010] == raw
    assert tlv.unpack(0x0010, raw) == 1
    assert tlv.pack(0x0010, 1) == (0x0010, b"\x01")  # what we send
