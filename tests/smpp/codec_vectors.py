"""Golden SMPP 3.4 frames, written field by field from the specification.

Each body below follows the layout tables of SMPP 3.4 section 4 (one line per
field, in wire order); C-octet strings are written with their NUL (section
3.1), integers as big-endian octets, TLVs as tag, length, value (section 5.3).
The 16-octet header (section 3.2) is packed here with ``struct`` from
command_length = 16 + len(body), so the codec under test never builds a
vector. ``RAW_HEADER_CHECKS`` spells a few whole frames out in hex as a check
of that helper.

Every vector names the PDU the codec must decode it to; the expected PDUs are
built with keywords and raw TLV tuples, not through the codec or tlv.make.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bridge.smpp import pdus as P

_HEADER = struct.Struct(">IIII")


@dataclass(frozen=True)
class Vector:
    name: str
    wire: bytes
    pdu: P.Pdu


def frame(command_id: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, seq) + body


VECTORS: list[Vector] = []


def _add(name: str, command_id: int, status: int, seq: int, body: bytes, pdu: P.Pdu) -> None:
    VECTORS.append(Vector(name, frame(command_id, status, seq, body), pdu))


# -- 4.1 bind operations ------------------------------------------------------------------

_BIND_BODY = (
    b"smppclient1\0"  # system_id (16)
    b"secret08\0"  # password (9): 8 characters, the maximum
    b"SUBMIT1\0"  # system_type (13)
    b"\x34"  # interface_version: 3.4
    b"\x01"  # addr_ton: international
    b"\x01"  # addr_npi: ISDN
    b"\0"  # address_range: NULL
)
_BIND_FIELDS = dict(
    system_id="smppclient1",
    password="secret08",
    system_type="SUBMIT1",
    interface_version=0x34,
    addr_ton=1,
    addr_npi=1,
    address_range="",
)
_add("bind_transmitter", 0x00000002, 0, 1, _BIND_BODY, P.BindTransmitter(sequence_number=1, **_BIND_FIELDS))  # type: ignore[arg-type]
_add("bind_receiver", 0x00000001, 0, 2, _BIND_BODY, P.BindReceiver(sequence_number=2, **_BIND_FIELDS))  # type: ignore[arg-type]
_add(
    "bind_transceiver_address_range",
    0x00000009,
    0,
    3,
    b"esme\0"  # system_id
    b"pw\0"  # password
    b"\0"  # system_type: NULL
    b"\x34\x02\x08"  # interface_version, addr_ton national, addr_npi national
    b"^4917[0-9]+$\0",  # address_range: a regular expression (section 5.2.7)
    P.BindTransceiver(
        sequence_number=3,
        system_id="esme",
        password="pw",
        system_type="",
        interface_version=0x34,
        addr_ton=2,
        addr_npi=8,
        address_range="^4917[0-9]+$",
    ),
)
_add(
    "bind_transmitter_resp_sc_interface_version",
    0x80000002,
    0,
    1,
    b"SMSC\0"  # system_id of the SMSC
    b"\x02\x10\x00\x01\x34",  # TLV sc_interface_version (0x0210), length 1, 3.4
    P.BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=((0x0210, b"\x34"),)),
)
_add(
    "bind_receiver_resp",
    0x80000001,
    0,
    2,
    b"SMSC\0",
    P.BindReceiverResp(sequence_number=2, system_id="SMSC"),
)
_add(
    "bind_transceiver_resp",
    0x80000009,
    0,
    3,
    b"\0",  # an empty system_id
    P.BindTransceiverResp(sequence_number=3, system_id=""),
)
_add(
    "bind_transceiver_resp_error_no_body",  # section 4.1.6 with ESME_RBINDFAIL
    0x80000009,
    0x0000000D,
    4,
    b"",
    P.BindTransceiverResp(sequence_number=4, command_status=0x0D),
)
_add(
    "outbind",
    0x0000000B,
    0,
    9,
    b"SMSC\0"  # system_id
    b"pass\0",  # password
    P.Outbind(sequence_number=9, system_id="SMSC", password="pass"),
)

# -- 4.2, 4.3, 4.11: header-only PDUs ---------------------------------------------------------

_add("unbind", 0x00000006, 0, 0x7FFFFFFF, b"", P.Unbind(sequence_number=0x7FFFFFFF))
_add("unbind_resp", 0x80000006, 0, 0x7FFFFFFF, b"", P.UnbindResp(sequence_number=0x7FFFFFFF))
_add("enquire_link", 0x00000015, 0, 5, b"", P.EnquireLink(sequence_number=5))
_add("enquire_link_resp", 0x80000015, 0, 5, b"", P.EnquireLinkResp(sequence_number=5))
_add(
    "generic_nack_invcmdid",
    0x80000000,
    0x00000003,
    77,
    b"",
    P.GenericNack(sequence_number=77, command_status=3),
)

# -- 4.4 submit_sm -------------------------------------------------------------------------

_add(
    "submit_sm_minimal",
    0x00000004,
    0,
    10,
    b"\0"  # service_type: NULL (SMSC default)
    b"\x05\x00"  # source_addr_ton alphanumeric, source_addr_npi unknown
    b"Bank\0"  # source_addr
    b"\x01\x01"  # dest_addr_ton international, dest_addr_npi ISDN
    b"491701234567\0"  # destination_addr
    b"\x00"  # esm_class
    b"\x00"  # protocol_id
    b"\x00"  # priority_flag
    b"\0"  # schedule_delivery_time: immediate
    b"\0"  # validity_period: SMSC default
    b"\x01"  # registered_delivery: receipt on success or failure
    b"\x00"  # replace_if_present_flag
    b"\x00"  # data_coding: SMSC default alphabet
    b"\x00"  # sm_default_msg_id
    b"\x0e"  # sm_length: 14
    b"Code: 123456 !",  # short_message
    P.SubmitSm(
        sequence_number=10,
        source_addr_ton=5,
        source_addr="Bank",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="491701234567",
        registered_delivery=1,
        short_message=b"Code: 123456 !",
    ),
)
_add(
    "submit_sm_all_fields_sar_and_unknown_tlv",
    0x00000004,
    0,
    11,
    b"CMT\0"  # service_type
    b"\x01\x01"  # source ton/npi
    b"447700900123\0"  # source_addr
    b"\x01\x01"  # dest ton/npi
    b"447700900456\0"  # destination_addr
    b"\x40"  # esm_class: UDHI
    b"\x00"  # protocol_id
    b"\x01"  # priority_flag
    b"261201120000000+\0"  # schedule_delivery_time, absolute (section 7.1.1)
    b"000001000000000R\0"  # validity_period: relative, 1 day (section 7.1.2)
    b"\x11"  # registered_delivery: receipt + intermediate notification
    b"\x01"  # replace_if_present_flag
    b"\x08"  # data_coding: UCS2
    b"\x00"  # sm_default_msg_id
    b"\x04"  # sm_length
    b"\x00\x48\x00\x69"  # short_message: "Hi" in UCS2
    b"\x02\x0c\x00\x02\x01\x2c"  # sar_msg_ref_num = 300
    b"\x02\x0e\x00\x01\x03"  # sar_total_segments = 3
    b"\x02\x0f\x00\x01\x01"  # sar_segment_seqnum = 1
    b"\x14\x03\x00\x03abc",  # unknown vendor TLV 0x1403, kept raw
    P.SubmitSm(
        sequence_number=11,
        service_type="CMT",
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="447700900123",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900456",
        esm_class=0x40,
        priority_flag=1,
        schedule_delivery_time="261201120000000+",
        validity_period="000001000000000R",
        registered_delivery=0x11,
        replace_if_present_flag=1,
        data_coding=8,
        short_message=b"\x00\x48\x00\x69",
        tlvs=((0x020C, b"\x01\x2c"), (0x020E, b"\x03"), (0x020F, b"\x01"), (0x1403, b"abc")),
    ),
)
_add(
    "submit_sm_message_payload",  # section 5.3.2.32: sm_length 0, payload in the TLV
    0x00000004,
    0,
    12,
    b"\0\x00\x00\0\x00\x00\x31\0"  # service_type, src ton/npi/addr, dst ton/npi, "1"
    b"\x00\x00\x00\0\0\x00\x00\x00\x00"  # esm, pid, priority, two NULL times, rd, rip, dc, default id
    b"\x00"  # sm_length 0, no short_message
    b"\x04\x24\x00\x05hello",  # message_payload
    P.SubmitSm(sequence_number=12, destination_addr="1", tlvs=((0x0424, b"hello"),)),
)
_add(
    "submit_sm_resp",
    0x80000004,
    0,
    10,
    b"0a1b2c3d4e\0",  # message_id
    P.SubmitSmResp(sequence_number=10, message_id="0a1b2c3d4e"),
)
_add(
    "submit_sm_resp_error_null_message_id",  # some SMSCs keep the body on error
    0x80000004,
    0x00000014,
    12,
    b"\0",
    P.SubmitSmResp(sequence_number=12, command_status=0x14, message_id=""),
)
_add(
    "submit_sm_resp_throttled_no_body",  # section 4.4.2: no body on error
    0x80000004,
    0x00000058,
    11,
    b"",
    P.SubmitSmResp(sequence_number=11, command_status=0x58),
)

# -- 4.5 submit_multi --------------------------------------------------------------------

_add(
    "submit_multi_sme_and_dl",
    0x00000021,
    0,
    20,
    b"\0"  # service_type
    b"\x00\x00"  # source ton/npi
    b"100\0"  # source_addr
    b"\x02"  # number_of_dests
    b"\x01"  # dest_flag: SME address
    b"\x01\x01"  # dest_addr_ton/npi
    b"4917011\0"  # destination_addr
    b"\x02"  # dest_flag: distribution list
    b"staff\0"  # dl_name
    b"\x00\x00\x00"  # esm_class, protocol_id, priority_flag
    b"\0\0"  # schedule_delivery_time, validity_period
    b"\x00\x00\x00\x00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    b"\x02hi"  # sm_length, short_message
    b"\x02\x04\x00\x02\x00\x07",  # user_message_reference = 7
    P.SubmitMulti(
        sequence_number=20,
        source_addr="100",
        dest_address=(
            P.SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="4917011"),
            P.DistributionList(dl_name="staff"),
        ),
        short_message=b"hi",
        tlvs=((0x0204, b"\x00\x07"),),
    ),
)
_add(
    "submit_multi_resp_unsuccess",
    0x80000021,
    0,
    20,
    b"m1\0"  # message_id
    b"\x01"  # no_unsuccess
    b"\x01\x01"  # dest_addr_ton/npi
    b"4917011\0"  # destination_addr
    b"\x00\x00\x00\x0b",  # error_status_code ESME_RINVDSTADR
    P.SubmitMultiResp(
        sequence_number=20,
        message_id="m1",
        unsuccess_sme=(
            P.UnsuccessSme(
                dest_addr_ton=1, dest_addr_npi=1, destination_addr="4917011", error_status_code=0x0B
            ),
        ),
    ),
)
_add(
    "submit_multi_resp_all_ok",
    0x80000021,
    0,
    21,
    b"m2\0\x00",  # message_id, no_unsuccess 0
    P.SubmitMultiResp(sequence_number=21, message_id="m2"),
)

# -- 4.6 deliver_sm ------------------------------------------------------------------------

_RECEIPT = (
    b"id:0a1b2c3d4e sub:001 dlvrd:001 submit date:2611301200"
    b" done date:2611301201 stat:DELIVRD err:000 text:Code"
)
assert len(_RECEIPT) == 106
_add(
    "deliver_sm_receipt",
    0x00000005,
    0,
    30,
    b"\0"  # service_type
    b"\x01\x01"  # source ton/npi
    b"491701234567\0"  # source_addr: the handset
    b"\x05\x00"  # dest ton/npi
    b"Bank\0"  # destination_addr: our sender
    b"\x04"  # esm_class: SMSC delivery receipt (section 5.2.12)
    b"\x00\x00"  # protocol_id, priority_flag
    b"\0\0"  # schedule_delivery_time and validity_period: NULL in deliver_sm
    b"\x00\x00\x00\x00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    b"\x6a" + _RECEIPT +  # sm_length 106, short_message
    b"\x00\x1e\x00\x0b0a1b2c3d4e\0"  # receipted_message_id (C-octet string TLV)
    b"\x04\x27\x00\x01\x02"  # message_state: DELIVERED
    b"\x04\x23\x00\x03\x03\x00\x00",  # network_error_code: GSM, 0
    P.DeliverSm(
        sequence_number=30,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="491701234567",
        dest_addr_ton=5,
        destination_addr="Bank",
        esm_class=4,
        short_message=_RECEIPT,
        tlvs=((0x001E, b"0a1b2c3d4e\0"), (0x0427, b"\x02"), (0x0423, b"\x03\x00\x00")),
    ),
)
_add(
    "deliver_sm_mo_unknown_tlv",
    0x00000005,
    0,
    31,
    b"\0\x01\x01491701234567\0\x00\x00" b"100\0"  # service_type, source, dest
    b"\x00\x00\x00\0\0\x00\x00\x03\x00"  # esm .. sm_default_msg_id; data_coding latin-1
    b"\x03\xe9t\xe9"  # sm_length 3, "été" in latin-1
    b"\xfe\x01\x00\x00",  # unknown tag 0xFE01 with an empty value
    P.DeliverSm(
        sequence_number=31,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="491701234567",
        destination_addr="100",
        data_coding=3,
        short_message=b"\xe9t\xe9",
        tlvs=((0xFE01, b""),),
    ),
)
_add(
    "deliver_sm_resp",
    0x80000005,
    0,
    30,
    b"\0",  # message_id: NULL (section 4.6.2)
    P.DeliverSmResp(sequence_number=30, message_id=""),
)
_add(
    "deliver_sm_resp_temporary_error",  # the body stays: section 4.6.2 has no exception
    0x80000005,
    0x00000064,  # ESME_RX_T_APPN: the database is away, send it again later
    33,
    b"\0",  # message_id: NULL
    P.DeliverSmResp(sequence_number=33, command_status=0x64),
)

# -- 4.7 data_sm ---------------------------------------------------------------------------

_add(
    "data_sm_payload",
    0x00000103,
    0,
    40,
    b"WAP\0"  # service_type
    b"\x01\x01" b"4917012345678901234567890123456789\0"  # source: 34 digits, allowed (65)
    b"\x01\x01" b"4917\0"  # destination
    b"\x00"  # esm_class
    b"\x00"  # registered_delivery
    b"\x04"  # data_coding: 8-bit
    b"\x04\x24\x00\x04\xde\xad\xbe\xef"  # message_payload
    b"\x02\x0a\x00\x02\x23\xf0"  # source_port 9200
    b"\x02\x0b\x00\x02\x0b\x84",  # destination_port 2948 (WAP push)
    P.DataSm(
        sequence_number=40,
        service_type="WAP",
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="4917012345678901234567890123456789",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="4917",
        data_coding=4,
        tlvs=((0x0424, b"\xde\xad\xbe\xef"), (0x020A, b"\x23\xf0"), (0x020B, b"\x0b\x84")),
    ),
)
_add(
    "data_sm_resp_failure_tlvs",
    0x80000103,
    0x000000FE,  # ESME_RDELIVERYFAILURE
    40,
    b"\0"  # message_id
    b"\x04\x25\x00\x01\x02"  # delivery_failure_reason: temporary network error
    b"\x00\x1d\x00\x05busy\0",  # additional_status_info_text
    P.DataSmResp(
        sequence_number=40,
        command_status=0xFE,
        message_id="",
        tlvs=((0x0425, b"\x02"), (0x001D, b"busy\0")),
    ),
)
_add(
    "data_sm_resp_error_null_message_id",  # our answer to a data_sm we cannot take now
    0x80000103,
    0x00000064,
    42,
    b"\0",  # message_id: NULL (section 4.7.2 keeps the body on error)
    P.DataSmResp(sequence_number=42, command_status=0x64),
)
_add(
    "data_sm_resp",
    0x80000103,
    0,
    41,
    b"abc\0",
    P.DataSmResp(sequence_number=41, message_id="abc"),
)

# -- 4.8 query_sm ------------------------------------------------------------------------

_add(
    "query_sm",
    0x00000003,
    0,
    50,
    b"0a1b2c3d4e\0"  # message_id
    b"\x05\x00" b"Bank\0",  # source ton/npi/addr
    P.QuerySm(sequence_number=50, message_id="0a1b2c3d4e", source_addr_ton=5, source_addr="Bank"),
)
_add(
    "query_sm_resp",
    0x80000003,
    0,
    50,
    b"0a1b2c3d4e\0"  # message_id
    b"261130120100000+\0"  # final_date
    b"\x02"  # message_state DELIVERED
    b"\x00",  # error_code
    P.QuerySmResp(
        sequence_number=50,
        message_id="0a1b2c3d4e",
        final_date="261130120100000+",
        message_state=2,
        error_code=0,
    ),
)
_add(
    "query_sm_resp_enroute",
    0x80000003,
    0,
    51,
    b"x\0\0\x01\x00",  # message_id, final_date NULL, ENROUTE, error_code
    P.QuerySmResp(sequence_number=51, message_id="x", final_date="", message_state=1, error_code=0),
)
_add(
    "query_sm_resp_error_no_body",
    0x80000003,
    0x00000067,  # ESME_RQUERYFAIL
    52,
    b"",
    P.QuerySmResp(sequence_number=52, command_status=0x67),
)

# -- 4.9 cancel_sm, 4.10 replace_sm -------------------------------------------------------

_add(
    "cancel_sm",
    0x00000008,
    0,
    60,
    b"\0"  # service_type
    b"0a1b2c3d4e\0"  # message_id
    b"\x05\x00" b"Bank\0"  # source
    b"\x01\x01" b"491701234567\0",  # destination
    P.CancelSm(
        sequence_number=60,
        message_id="0a1b2c3d4e",
        source_addr_ton=5,
        source_addr="Bank",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="491701234567",
    ),
)
_add("cancel_sm_resp", 0x80000008, 0, 60, b"", P.CancelSmResp(sequence_number=60))
_add(
    "replace_sm",
    0x00000007,
    0,
    61,
    b"0a1b2c3d4e\0"  # message_id
    b"\x05\x00" b"Bank\0"  # source
    b"\0"  # schedule_delivery_time
    b"000000100000000R\0"  # validity_period: 10 hours relative
    b"\x01"  # registered_delivery
    b"\x00"  # sm_default_msg_id
    b"\x03new",  # sm_length, short_message
    P.ReplaceSm(
        sequence_number=61,
        message_id="0a1b2c3d4e",
        source_addr_ton=5,
        source_addr="Bank",
        validity_period="000000100000000R",
        registered_delivery=1,
        short_message=b"new",
    ),
)
_add(
    "replace_sm_resp_fail",
    0x80000007,
    0x00000013,
    61,
    b"",
    P.ReplaceSmResp(sequence_number=61, command_status=0x13),
)

# -- 4.12 alert_notification ------------------------------------------------------------

_add(
    "alert_notification",
    0x00000102,
    0,
    70,
    b"\x01\x01" b"491701234567\0"  # source ton/npi/addr (65)
    b"\x00\x00" b"esme\0"  # esme ton/npi/addr
    b"\x04\x22\x00\x01\x00",  # ms_availability_status: available
    P.AlertNotification(
        sequence_number=70,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="491701234567",
        esme_addr="esme",
        tlvs=((0x0422, b"\x00"),),
    ),
)

BY_NAME: dict[str, Vector] = {v.name: v for v in VECTORS}


@dataclass(frozen=True)
class Tolerated:
    """A frame we decode but never write: ``encoded`` is what the PDU goes out as."""

    name: str
    wire: bytes
    pdu: P.Pdu
    encoded: bytes


#: Accepted on decode, written differently (SMPP 3.4 sections 4.6.2, 4.7.2).
TOLERATED: list[Tolerated] = [
    Tolerated(
        "deliver_sm_resp_without_message_id",  # many ESMEs omit the NULL message_id
        frame(0x80000005, 0, 32),
        P.DeliverSmResp(sequence_number=32, message_id=None),
        frame(0x80000005, 0, 32, b"\0"),
    ),
    Tolerated(
        "deliver_sm_resp_error_without_message_id",
        frame(0x80000005, 0x64, 34),
        P.DeliverSmResp(sequence_number=34, command_status=0x64, message_id=None),
        frame(0x80000005, 0x64, 34, b"\0"),
    ),
    Tolerated(
        "data_sm_resp_error_without_message_id",
        frame(0x80000103, 0x08, 43),
        P.DataSmResp(sequence_number=43, command_status=0x08, message_id=None),
        frame(0x80000103, 0x08, 43, b"\0"),
    ),
]

#: Whole frames spelled out octet by octet, checked against ``frame()``.
RAW_HEADER_CHECKS: dict[str, str] = {
    # Section 4.6.2: 17 octets, the last one the NULL message_id.
    "deliver_sm_resp": "00000011 80000005 00000000 0000001e 00",
    "deliver_sm_resp_temporary_error": "00000011 80000005 00000064 00000021 00",
    "enquire_link": "00000010 00000015 00000000 00000005",
    "generic_nack_invcmdid": "00000010 80000000 00000003 0000004d",
    "submit_sm_resp": "0000001b 80000004 00000000 0000000a 30613162326333643465 00",
    "outbind": "0000001a 0000000b 00000000 00000009 534d534300 7061737300",
    "bind_transmitter_resp_sc_interface_version": (
        "0000001a 80000002 00000000 00000001 534d534300 0210 0001 34"
    ),
}
