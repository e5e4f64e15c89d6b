"""SMPP 3.4 PDUs (section 4) as frozen, typed values.

Each class declares its mandatory body fields in wire order with the spec's
names; the ``Annotated`` marker on a field (fields.py) says how it travels on
the wire and which command_status a malformed value is answered with. The codec
(codec.py) compiles these markers once at import.

Derived length/count fields are not stored: sm_length is len(short_message),
number_of_dests is len(dest_address), no_unsuccess is len(unsuccess_sme).

Optional parameters (section 5.3) are kept raw in wire order as
``tlvs: tuple[tuple[int, bytes], ...]``: lossless (unknown and repeated tags
survive a decode/encode round trip byte for byte). Typed access by tag goes
through ``tlv()`` and the tables in tlv.py.

Construct PDUs with keywords. (The classes are not ``kw_only`` at runtime only
because msgspec's keyword matching costs ~1 us for 20 fields on this machine,
and the decoder builds instances positionally; see docs/smpp-codec.md.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

import msgspec

from bridge.smpp import tlv as _tlv
from bridge.smpp.constants import CommandId
from bridge.smpp.fields import (
    ADDRESS_RANGE,
    DEST_ADDRESS,
    DESTINATION_ADDR,
    DESTINATION_ADDR_65,
    FINAL_DATE,
    I1,
    MESSAGE_ID,
    PASSWORD,
    SCHEDULE,
    SERVICE_TYPE,
    SHORT_MESSAGE,
    SOURCE_ADDR,
    SOURCE_ADDR_65,
    SYSTEM_ID,
    SYSTEM_TYPE,
    TLVS,
    UNSUCCESS_SME,
    VALIDITY,
    DestAddress,
    UnsuccessSme,
)

# The items of submit_multi's lists, importable from here with the PDUs that carry them.
from bridge.smpp.fields import DistributionList as DistributionList
from bridge.smpp.fields import SmeAddress as SmeAddress

Tlvs = tuple[tuple[int, bytes], ...]


# -- base --------------------------------------------------------------------------


class Pdu(msgspec.Struct, frozen=True, gc=False):
    """Common header fields (section 3.2). command_length is computed by the codec.

    ``gc=False`` (inherited): PDUs hold only str, bytes, int and tuples of those or
    of the small structs below, so they can never be part of a reference cycle;
    untracked instances are cheaper to create and add no work to the collector
    when a bind decodes hundreds of thousands of them.
    """

    command_id: ClassVar[CommandId]
    sequence_number: int = 0
    command_status: int = 0

    @property
    def raw_tlvs(self) -> Mapping[int, bytes]:
        """Optional parameters by tag (first occurrence wins), values as on the wire."""
        tlvs = getattr(self, "tlvs", ())
        found: dict[int, bytes] = dict(tlvs)  # one C call (once per receipt); the last one wins
        if len(found) != len(tlvs):  # a tag repeated: the first occurrence wins
            found = {}
            for tag, value in tlvs:
                found.setdefault(tag, value)
        return found

    def tlv(self, tag: int) -> int | str | bytes | None:
        """The typed value of optional parameter ``tag`` (tlv.py), None if absent."""
        for t, value in getattr(self, "tlvs", ()):
            if t == tag:
                return _tlv.unpack(tag, value)
        return None


class Request(Pdu, frozen=True):
    response_type: ClassVar[type[Pdu]]


# -- section 4.1: bind, outbind --------------------------------------------------------


class _BindResp(Pdu, frozen=True):
    """Section 4.1.2/4.1.4/4.1.6; TLV sc_interface_version."""

    system_id: Annotated[str | None, SYSTEM_ID] = None
    tlvs: Annotated[Tlvs, TLVS] = ()


class BindTransmitterResp(_BindResp, frozen=True):
    command_id = CommandId.BIND_TRANSMITTER_RESP


class BindReceiverResp(_BindResp, frozen=True):
    command_id = CommandId.BIND_RECEIVER_RESP


class BindTransceiverResp(_BindResp, frozen=True):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


class _Bind(Request, frozen=True):
    """Section 4.1.1/4.1.3/4.1.5."""

    system_id: Annotated[str, SYSTEM_ID] = ""
    password: Annotated[str, PASSWORD] = ""
    system_type: Annotated[str, SYSTEM_TYPE] = ""
    interface_version: Annotated[int, I1] = 0x34
    addr_ton: Annotated[int, I1] = 0
    addr_npi: Annotated[int, I1] = 0
    address_range: Annotated[str, ADDRESS_RANGE] = ""


class BindTransmitter(_Bind, frozen=True):
    command_id = CommandId.BIND_TRANSMITTER
    response_type = BindTransmitterResp


class BindReceiver(_Bind, frozen=True):
    command_id = CommandId.BIND_RECEIVER
    response_type = BindReceiverResp


class BindTransceiver(_Bind, frozen=True):
    command_id = CommandId.BIND_TRANSCEIVER
    response_type = BindTransceiverResp


class Outbind(Pdu, frozen=True):
    """Section 4.1.7: the SMSC asks the ESME to bind; no response PDU."""

    command_id = CommandId.OUTBIND
    system_id: Annotated[str, SYSTEM_ID] = ""
    password: Annotated[str, PASSWORD] = ""


# -- header-only PDUs (sections 4.2, 4.3, 4.9.2, 4.10.2, 4.11) ----------------------------


class UnbindResp(Pdu, frozen=True):
    command_id = CommandId.UNBIND_RESP


class Unbind(Request, frozen=True):
    command_id = CommandId.UNBIND
    response_type = UnbindResp


class EnquireLinkResp(Pdu, frozen=True):
    command_id = CommandId.ENQUIRE_LINK_RESP


class EnquireLink(Request, frozen=True):
    command_id = CommandId.ENQUIRE_LINK
    response_type = EnquireLinkResp


class GenericNack(Pdu, frozen=True):
    """Section 4.3: answer to a frame that could not be identified or delimited."""

    command_id = CommandId.GENERIC_NACK


class CancelSmResp(Pdu, frozen=True):
    command_id = CommandId.CANCEL_SM_RESP


class ReplaceSmResp(Pdu, frozen=True):
    command_id = CommandId.REPLACE_SM_RESP


# -- message responses -----------------------------------------------------------------


class SubmitSmResp(Pdu, frozen=True):
    """Section 4.4.2: "The submit_sm_resp PDU Body is not returned if the
    command_status field contains a non-zero value": an error one with message_id
    None is header only. Decoding accepts both forms (a NULL message_id too)."""

    command_id = CommandId.SUBMIT_SM_RESP
    message_id: Annotated[str | None, MESSAGE_ID] = None
    tlvs: Annotated[Tlvs, TLVS] = ()  # 3.4 defines none; SMPP 5.0 peers send some


class DeliverSmResp(Pdu, frozen=True):
    """Section 4.6.2: the body is one field, message_id, "unused and set to NULL".

    Always encoded with it (17 octets), whatever the command_status: SMSCs that read
    the field unconditionally (SMPPSim 2.6.11) drop the bind on a 16-octet one.
    Decoding tolerates its absence (many ESMEs omit it): message_id is then None.
    """

    command_id = CommandId.DELIVER_SM_RESP
    message_id: Annotated[str | None, MESSAGE_ID] = ""
    tlvs: Annotated[Tlvs, TLVS] = ()


class DataSmResp(Pdu, frozen=True):
    """Section 4.7.2: message_id is mandatory and, unlike submit_sm_resp (4.4.2),
    is not dropped on error: an error data_sm_resp carries its failure TLVs
    (delivery_failure_reason, ...) after it. Always encoded with it (NULL when
    None); a bodiless one is decoded with message_id None."""

    command_id = CommandId.DATA_SM_RESP
    message_id: Annotated[str | None, MESSAGE_ID] = ""
    tlvs: Annotated[Tlvs, TLVS] = ()


class QuerySmResp(Pdu, frozen=True):
    """Section 4.8.2."""

    command_id = CommandId.QUERY_SM_RESP
    message_id: Annotated[str | None, MESSAGE_ID] = None
    final_date: Annotated[str | None, FINAL_DATE] = None
    message_state: Annotated[int | None, I1] = None
    error_code: Annotated[int | None, I1] = None
    tlvs: Annotated[Tlvs, TLVS] = ()


class SubmitMultiResp(Pdu, frozen=True):
    """Section 4.5.2."""

    command_id = CommandId.SUBMIT_MULTI_RESP
    message_id: Annotated[str | None, MESSAGE_ID] = None
    unsuccess_sme: Annotated[tuple[UnsuccessSme, ...], UNSUCCESS_SME] = ()
    tlvs: Annotated[Tlvs, TLVS] = ()


# -- message requests ------------------------------------------------------------------


class _ShortMessage(Request, frozen=True):
    """The shared body of submit_sm (4.4.1) and deliver_sm (4.6.1).

    In deliver_sm, schedule_delivery_time, validity_period, replace_if_present_flag
    and sm_default_msg_id are "NULL" (empty / 0) but still on the wire.
    """

    service_type: Annotated[str, SERVICE_TYPE] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR] = ""
    dest_addr_ton: Annotated[int, I1] = 0
    dest_addr_npi: Annotated[int, I1] = 0
    destination_addr: Annotated[str, DESTINATION_ADDR] = ""
    esm_class: Annotated[int, I1] = 0
    protocol_id: Annotated[int, I1] = 0
    priority_flag: Annotated[int, I1] = 0
    schedule_delivery_time: Annotated[str, SCHEDULE] = ""
    validity_period: Annotated[str, VALIDITY] = ""
    registered_delivery: Annotated[int, I1] = 0
    replace_if_present_flag: Annotated[int, I1] = 0
    data_coding: Annotated[int, I1] = 0
    sm_default_msg_id: Annotated[int, I1] = 0
    short_message: Annotated[bytes, SHORT_MESSAGE] = b""
    tlvs: Annotated[Tlvs, TLVS] = ()


class SubmitSm(_ShortMessage, frozen=True):
    command_id = CommandId.SUBMIT_SM
    response_type = SubmitSmResp


class DeliverSm(_ShortMessage, frozen=True):
    command_id = CommandId.DELIVER_SM
    response_type = DeliverSmResp


class DataSm(Request, frozen=True):
    """Section 4.7.1: the payload travels in the message_payload TLV."""

    command_id = CommandId.DATA_SM
    response_type = DataSmResp
    service_type: Annotated[str, SERVICE_TYPE] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR_65] = ""
    dest_addr_ton: Annotated[int, I1] = 0
    dest_addr_npi: Annotated[int, I1] = 0
    destination_addr: Annotated[str, DESTINATION_ADDR_65] = ""
    esm_class: Annotated[int, I1] = 0
    registered_delivery: Annotated[int, I1] = 0
    data_coding: Annotated[int, I1] = 0
    tlvs: Annotated[Tlvs, TLVS] = ()


class SubmitMulti(Request, frozen=True):
    """Section 4.5.1: up to 254 destinations (number_of_dests is one octet)."""

    command_id = CommandId.SUBMIT_MULTI
    response_type = SubmitMultiResp
    service_type: Annotated[str, SERVICE_TYPE] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR] = ""
    dest_address: Annotated[tuple[DestAddress, ...], DEST_ADDRESS] = ()
    esm_class: Annotated[int, I1] = 0
    protocol_id: Annotated[int, I1] = 0
    priority_flag: Annotated[int, I1] = 0
    schedule_delivery_time: Annotated[str, SCHEDULE] = ""
    validity_period: Annotated[str, VALIDITY] = ""
    registered_delivery: Annotated[int, I1] = 0
    replace_if_present_flag: Annotated[int, I1] = 0
    data_coding: Annotated[int, I1] = 0
    sm_default_msg_id: Annotated[int, I1] = 0
    short_message: Annotated[bytes, SHORT_MESSAGE] = b""
    tlvs: Annotated[Tlvs, TLVS] = ()


class QuerySm(Request, frozen=True):
    """Section 4.8.1."""

    command_id = CommandId.QUERY_SM
    response_type = QuerySmResp
    message_id: Annotated[str, MESSAGE_ID] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR] = ""


class CancelSm(Request, frozen=True):
    """Section 4.9.1."""

    command_id = CommandId.CANCEL_SM
    response_type = CancelSmResp
    service_type: Annotated[str, SERVICE_TYPE] = ""
    message_id: Annotated[str, MESSAGE_ID] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR] = ""
    dest_addr_ton: Annotated[int, I1] = 0
    dest_addr_npi: Annotated[int, I1] = 0
    destination_addr: Annotated[str, DESTINATION_ADDR] = ""


class ReplaceSm(Request, frozen=True):
    """Section 4.10.1."""

    command_id = CommandId.REPLACE_SM
    response_type = ReplaceSmResp
    message_id: Annotated[str, MESSAGE_ID] = ""
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR] = ""
    schedule_delivery_time: Annotated[str, SCHEDULE] = ""
    validity_period: Annotated[str, VALIDITY] = ""
    registered_delivery: Annotated[int, I1] = 0
    sm_default_msg_id: Annotated[int, I1] = 0
    short_message: Annotated[bytes, SHORT_MESSAGE] = b""


class AlertNotification(Pdu, frozen=True):
    """Section 4.12.1: the SMSC tells the ESME an MS became available; no response."""

    command_id = CommandId.ALERT_NOTIFICATION
    source_addr_ton: Annotated[int, I1] = 0
    source_addr_npi: Annotated[int, I1] = 0
    source_addr: Annotated[str, SOURCE_ADDR_65] = ""
    esme_addr_ton: Annotated[int, I1] = 0
    esme_addr_npi: Annotated[int, I1] = 0
    esme_addr: Annotated[str, DESTINATION_ADDR_65] = ""
    tlvs: Annotated[Tlvs, TLVS] = ()


ALL_PDU_CLASSES: tuple[type[Pdu], ...] = (
    GenericNack, BindReceiver, BindReceiverResp, BindTransmitter, BindTransmitterResp,
    QuerySm, QuerySmResp, SubmitSm, SubmitSmResp, DeliverSm, DeliverSmResp, Unbind, UnbindResp,
    ReplaceSm, ReplaceSmResp, CancelSm, CancelSmResp, BindTransceiver, BindTransceiverResp,
    Outbind, EnquireLink, EnquireLinkResp, SubmitMulti, SubmitMultiResp, AlertNotification,
    DataSm, DataSmResp,
)  # fmt: skip

#: command_id -> PDU class, for every command_id of SMPP 3.4.
PDU_TYPES: Mapping[int, type[Pdu]] = {cls.command_id: cls for cls in ALL_PDU_CLASSES}
