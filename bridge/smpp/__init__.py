"""SMPP 3.4 protocol core, sans-I/O (no sockets, no trio, no clock).

Codec: ``encode(pdu) -> bytes``, ``decode(frame) -> Pdu``, ``FrameReader`` for
cutting a byte stream into frames; PDU classes with the spec's field names;
constants as enums; the two protocol error types. See docs/smpp-codec.md.
"""

from bridge.smpp import tlv
from bridge.smpp.codec import DEFAULT_DECODER, Decoder, decode, encode, peek_header
from bridge.smpp.constants import (
    CommandId,
    CommandStatus,
    DataCoding,
    DestFlag,
    EsmClass,
    MessageState,
    Npi,
    RegisteredDelivery,
    Tag,
    Ton,
    describe,
    is_response,
)
from bridge.smpp.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from bridge.smpp.fields import DestAddress, DistributionList, SmeAddress, UnsuccessSme
from bridge.smpp.framing import DEFAULT_MAX_LENGTH, FrameReader, FrameTooLong
from bridge.smpp.pdus import (
    PDU_TYPES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    Request,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    Unbind,
    UnbindResp,
)

# --- connection state machine (added by the connection helper) ---
# isort: split
from bridge.smpp import events as events
from bridge.smpp.connection import Connection as Connection
from bridge.smpp.state import BindMode as BindMode
from bridge.smpp.state import Role as Role
from bridge.smpp.state import State as State

# --- end connection ---

__all__ = [
    "DEFAULT_DECODER",
    "DEFAULT_MAX_LENGTH",
    "PDU_TYPES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "CommandId",
    "CommandStatus",
    "DataCoding",
    "DataSm",
    "DataSmResp",
    "Decoder",
    "DeliverSm",
    "DeliverSmResp",
    "DestAddress",
    "DestFlag",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "EsmClass",
    "FrameReader",
    "FrameTooLong",
    "GenericNack",
    "LocalProtocolError",
    "MessageState",
    "Npi",
    "Outbind",
    "Pdu",
    "ProtocolError",
    "QuerySm",
    "QuerySmResp",
    "RegisteredDelivery",
    "RemoteProtocolError",
    "ReplaceSm",
    "ReplaceSmResp",
    "Request",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "Tlvs",
    "Ton",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "decode",
    "describe",
    "encode",
    "is_response",
    "peek_header",
    "tlv",
]
