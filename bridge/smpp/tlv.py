"""Optional parameters (TLVs), SMPP 3.4 section 5.3.

PDUs carry their TLVs raw, in wire order (``tuple[tuple[int, bytes], ...]``) so
that unknown or vendor tags and repeated tags re-encode byte for byte. This
module knows the value type of every standard 3.4 tag (section 5.3.2, table
5-7) and converts between raw values and typed ones:

- integers of 1, 2 or 4 octets -> ``int`` (their length is checked on decode:
  a wrong one is ESME_RINVPARLEN; source_telematics_id may be 1 or 2 octets);
- C-octet strings (additional_status_info_text, receipted_message_id) -> ``str``;
  a missing NUL is tolerated on decode because the TLV length already delimits
  the value, and several SMSCs omit it;
- octet strings and unknown tags -> ``bytes``.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping

from bridge.smpp.constants import CommandStatus, Tag
from bridge.smpp.constants import CommandStatus as S
from bridge.smpp.errors import BodyError, LocalProtocolError

Tlvs = tuple[tuple[int, bytes], ...]


class Kind(enum.Enum):
    INT = "int"
    COCTET = "c-octet string"
    OCTET = "octet string"


# tag -> (kind, min length, max length) in octets, from section 5.3.2.
_INT1 = (Kind.INT, 1, 1)
_INT2 = (Kind.INT, 2, 2)
TLV_TYPES: Mapping[int, tuple[Kind, int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: _INT1,  # 5.3.2.1
    Tag.DEST_NETWORK_TYPE: _INT1,  # 5.3.2.3
    Tag.DEST_BEARER_TYPE: _INT1,  # 5.3.2.5
    Tag.DEST_TELEMATICS_ID: _INT2,  # 5.3.2.7
    Tag.SOURCE_ADDR_SUBUNIT: _INT1,  # 5.3.2.2
    Tag.SOURCE_NETWORK_TYPE: _INT1,  # 5.3.2.4
    Tag.SOURCE_BEARER_TYPE: _INT1,  # 5.3.2.6
    # 5.3.2.8. Implementations disagree on its size (1 octet here, in line with
    # dest_addr_subunit and friends; 2 in smpplib and node-smpp): sent as 1,
    # accepted as 1 or 2, so such a peer is not answered ESME_RINVPARLEN.
    Tag.SOURCE_TELEMATICS_ID: (Kind.INT, 1, 2),
    Tag.QOS_TIME_TO_LIVE: (Kind.INT, 4, 4),  # 5.3.2.9
    Tag.PAYLOAD_TYPE: _INT1,  # 5.3.2.10
    Tag.ADDITIONAL_STATUS_INFO_TEXT: (Kind.COCTET, 1, 256),  # 5.3.2.11
    Tag.RECEIPTED_MESSAGE_ID: (Kind.COCTET, 1, 65),  # 5.3.2.12
    Tag.MS_MSG_WAIT_FACILITIES: _INT1,  # 5.3.2.13
    Tag.PRIVACY_INDICATOR: _INT1,  # 5.3.2.14
    Tag.SOURCE_SUBADDRESS: (Kind.OCTET, 2, 23),  # 5.3.2.15
    Tag.DEST_SUBADDRESS: (Kind.OCTET, 2, 23),  # 5.3.2.16
    Tag.USER_MESSAGE_REFERENCE: _INT2,  # 5.3.2.17
    Tag.USER_RESPONSE_CODE: _INT1,  # 5.3.2.18
    Tag.SOURCE_PORT: _INT2,  # 5.3.2.20
    Tag.DESTINATION_PORT: _INT2,  # 5.3.2.21
    Tag.SAR_MSG_REF_NUM: _INT2,  # 5.3.2.22
    Tag.LANGUAGE_INDICATOR: _INT1,  # 5.3.2.19
    Tag.SAR_TOTAL_SEGMENTS: _INT1,  # 5.3.2.23
    Tag.SAR_SEGMENT_SEQNUM: _INT1,  # 5.3.2.24
    Tag.SC_INTERFACE_VERSION: _INT1,  # 5.3.2.25
    Tag.CALLBACK_NUM_PRES_IND: _INT1,  # 5.3.2.37
    Tag.CALLBACK_NUM_ATAG: (Kind.OCTET, 0, 65),  # 5.3.2.38
    Tag.NUMBER_OF_MESSAGES: _INT1,  # 5.3.2.39
    Tag.CALLBACK_NUM: (Kind.OCTET, 4, 19),  # 5.3.2.36
    Tag.DPF_RESULT: _INT1,  # 5.3.2.28
    Tag.SET_DPF: _INT1,  # 5.3.2.29
    Tag.MS_AVAILABILITY_STATUS: _INT1,  # 5.3.2.30
    Tag.NETWORK_ERROR_CODE: (Kind.OCTET, 3, 3),  # 5.3.2.31
    Tag.MESSAGE_PAYLOAD: (Kind.OCTET, 0, 0xFFFF),  # 5.3.2.32
    Tag.DELIVERY_FAILURE_REASON: _INT1,  # 5.3.2.33
    Tag.MORE_MESSAGES_TO_SEND: _INT1,  # 5.3.2.34
    Tag.MESSAGE_STATE: _INT1,  # 5.3.2.35
    Tag.USSD_SERVICE_OP: (Kind.OCTET, 1, 1),  # 5.3.2.44
    Tag.DISPLAY_TIME: _INT1,  # 5.3.2.26
    Tag.SMS_SIGNAL: _INT2,  # 5.3.2.40
    Tag.MS_VALIDITY: _INT1,  # 5.3.2.27
    Tag.ALERT_ON_MESSAGE_DELIVERY: (Kind.OCTET, 0, 0),  # 5.3.2.41: no value
    Tag.ITS_REPLY_TYPE: _INT1,  # 5.3.2.42
    Tag.ITS_SESSION_INFO: (Kind.OCTET, 2, 2),  # 5.3.2.43
}

#: tag -> exact value length, for the integer tags of one size; the decoders check these.
INT_LENGTHS: Mapping[int, int] = {
    tag: spec[1] for tag, spec in TLV_TYPES.items() if spec[0] is Kind.INT and spec[1] == spec[2]
}
#: tag -> (shortest, longest) value length, for the integer tags a peer may size either way.
INT_RANGES: Mapping[int, tuple[int, int]] = {
    tag: (spec[1], spec[2]) for tag, spec in TLV_TYPES.items() if spec[0] is Kind.INT and spec[1] != spec[2]
}


def unpack(tag: int, raw: bytes) -> int | str | bytes:
    """Typed value of a raw TLV value (unknown tags stay bytes)."""
    spec = TLV_TYPES.get(tag)
    if spec is None or spec[0] is Kind.OCTET:
        return bytes(raw)
    if spec[0] is Kind.INT:
        return int.from_bytes(raw, "big")
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return bytes(raw).decode("latin-1")


def pack(tag: int, value: int | str | bytes) -> tuple[int, bytes]:
    """(tag, raw value) for a typed value; LocalProtocolError if it does not fit."""
    if not 0 <= tag <= 0xFFFF:
        raise LocalProtocolError(f"TLV tag {tag!r} is not 16-bit", CommandStatus.ESME_RINVOPTPARSTREAM)
    spec = TLV_TYPES.get(tag)
    name = _name(tag)
    if spec is None:
        if not isinstance(value, bytes):
            raise LocalProtocolError(f"{name}: unknown tag takes raw bytes")
        raw = value
    elif spec[0] is Kind.INT:
        if not isinstance(value, int) or not 0 <= value < 1 << (8 * spec[1]):
            raise LocalProtocolError(
                f"{name}: {value!r} is not a {spec[1]}-octet integer",
                CommandStatus.ESME_RINVOPTPARAMVAL,
            )
        raw = value.to_bytes(spec[1], "big")
    elif spec[0] is Kind.COCTET:
        if not isinstance(value, str) or "\0" in value:
            raise LocalProtocolError(f"{name}: needs a str without NUL")
        try:
            raw = value.encode("latin-1") + b"\0"
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"{name}: not latin-1: {exc}") from None
    else:
        if not isinstance(value, bytes):
            raise LocalProtocolError(f"{name}: needs bytes")
        raw = value
    check(tag, raw)
    return tag, raw


def check(tag: int, raw: bytes) -> None:
    """LocalProtocolError unless ``raw`` is a valid value length for ``tag``."""
    spec = TLV_TYPES.get(tag)
    low, high = (0, 0xFFFF) if spec is None else spec[1:]
    if not low <= len(raw) <= high:
        raise LocalProtocolError(
            f"{_name(tag)}: value of {len(raw)} octets, allowed {low}..{high}",
            CommandStatus.ESME_RINVPARLEN,
        )


def make(**named: int | str | bytes) -> Tlvs:
    """Build a TLV tuple from typed values by lower-case tag name, in the given order.

    ``make(message_payload=b"...", sar_msg_ref_num=7)``
    """
    out = []
    for key, value in named.items():
        try:
            tag = Tag[key.upper()]
        except KeyError:
            raise LocalProtocolError(f"unknown optional parameter name {key!r}") from None
        out.append(pack(tag, value))
    return tuple(out)


def _name(tag: int) -> str:
    try:
        return Tag(tag).name.lower()
    except ValueError:
        return f"tag 0x{tag:04X}"


# -- the TLV stream on the wire (section 5.3: tag, length, value) ----------------------

_TL = struct.Struct(">HH")





def encode_tlvs(tlvs: Tlvs) -> bytes:
    """Raw TLVs to wire bytes, checking tag range and value length per tag."""
    parts = []
    try:
        for tag, value in tlvs:
            if not isinstance(value, bytes) or not isinstance(tag, int) or not 0 <= tag <= 0xFFFF:
                raise LocalProtocolError(f"TLV ({tag!r}, {value!r}) is not (16-bit tag, bytes)")
            check(tag, value)
            parts.append(_TL.pack(tag, len(value)) + value)
    except (TypeError, ValueError):
        raise LocalProtocolError(f"tlvs must be (tag, bytes) pairs, got {tlvs!r}") from None
    return b"".join(parts)


def decode_tlvs(buf: bytes, i: int, end: int) -> Tlvs:
    """Raw TLVs from buf[i:end] (section 5.3); integer tags must have their length."""
    out = []
    unpack = _TL.unpack_from
    int_lengths = INT_LENGTHS
    int_ranges = INT_RANGES
    while i < end:
        if i + 4 > end:
            raise BodyError(f"{end - i} stray octets where a TLV header was expected", S.ESME_RINVOPTPARSTREAM)
        tag, n = unpack(buf, i)
        i += 4
        j = i + n
        if j > end:
            raise BodyError(f"TLV 0x{tag:04X} length {n} overruns the PDU", S.ESME_RINVOPTPARSTREAM)
        want = int_lengths.get(tag)
        if want is not None and want != n:
            raise BodyError(f"TLV 0x{tag:04X} has length {n}, the spec says {want}", S.ESME_RINVPARLEN)
        sizes = int_ranges.get(tag)
        if sizes is not None and not sizes[0] <= n <= sizes[1]:
            raise BodyError(f"TLV 0x{tag:04X} has length {n}, allowed {sizes[0]}..{sizes[1]}", S.ESME_RINVPARLEN)
        out.append((tag, buf[i:j]))
        i = j
    return tuple(out)
