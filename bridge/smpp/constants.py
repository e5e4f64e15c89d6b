"""SMPP 3.4 constants as enums, named exactly as the specification names them.

Sources: SMPP v3.4 (the edition of 12 Oct 1999) section 5.1.2 (command_id), 5.1.3
(command_status), 5.2.5/5.2.6 (TON/NPI), 5.2.12 (esm_class), 5.2.17
(registered_delivery), 5.2.19 (data_coding), 5.2.25 (dest_flag), 5.2.28
(message_state) and 5.3.2 (optional parameter tags).
"""

from __future__ import annotations

import enum

#: SMPP 3.4 section 5.2.4: interface_version in bind PDUs.
INTERFACE_VERSION_34 = 0x34

#: SMPP 3.4 section 5.1.2: bit 31 of command_id marks a response.
RESPONSE_BIT = 0x80000000


class CommandId(enum.IntEnum):
    """SMPP 3.4 section 5.1.2.1, table 5-1."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


def is_response(command_id: int) -> bool:
    """True for a response command_id (SMPP 3.4 section 5.1.2: bit 31 set)."""
    return bool(command_id & RESPONSE_BIT)


class CommandStatus(enum.IntEnum):
    """SMPP 3.4 section 5.1.3, table 5-2 (error codes)."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


# The meanings as table 5-2 words them (lightly normalised).
_STATUS_TEXT: dict[int, str] = {
    0x00: "No Error",
    0x01: "Message Length is invalid",
    0x02: "Command Length is invalid",
    0x03: "Invalid Command ID",
    0x04: "Incorrect BIND Status for given command",
    0x05: "ESME Already in Bound State",
    0x06: "Invalid Priority Flag",
    0x07: "Invalid Registered Delivery Flag",
    0x08: "System Error",
    0x0A: "Invalid Source Address",
    0x0B: "Invalid Destination Address",
    0x0C: "Message ID is invalid",
    0x0D: "Bind Failed",
    0x0E: "Invalid Password",
    0x0F: "Invalid System ID",
    0x11: "Cancel SM Failed",
    0x13: "Replace SM Failed",
    0x14: "Message Queue Full",
    0x15: "Invalid Service Type",
    0x33: "Invalid number of destinations",
    0x34: "Invalid Distribution List name",
    0x40: "Destination flag is invalid (submit_multi)",
    0x42: "Invalid 'submit with replace' request",
    0x43: "Invalid esm_class field data",
    0x44: "Cannot Submit to Distribution List",
    0x45: "submit_sm or submit_multi failed",
    0x48: "Invalid Source address TON",
    0x49: "Invalid Source address NPI",
    0x50: "Invalid Destination address TON",
    0x51: "Invalid Destination address NPI",
    0x53: "Invalid system_type field",
    0x54: "Invalid replace_if_present flag",
    0x55: "Invalid number of messages",
    0x58: "Throttling error (ESME has exceeded allowed message limits)",
    0x61: "Invalid Scheduled Delivery Time",
    0x62: "Invalid message validity period (Expiry time)",
    0x63: "Predefined Message Invalid or Not Found",
    0x64: "ESME Receiver Temporary App Error Code",
    0x65: "ESME Receiver Permanent App Error Code",
    0x66: "ESME Receiver Reject Message Error Code",
    0x67: "query_sm request failed",
    0xC0: "Error in the optional part of the PDU Body",
    0xC1: "Optional Parameter not allowed",
    0xC2: "Invalid Parameter Length",
    0xC3: "Expected Optional Parameter missing",
    0xC4: "Invalid Optional Parameter Value",
    0xFE: "Delivery Failure (used for data_sm_resp)",
    0xFF: "Unknown Error",
}


def describe(status: int) -> str:
    """'ESME_RTHROTTLED (0x00000058): Throttling error ...' for any 32-bit value.

    Values the table does not name are still described by the range table 5-2
    reserves them in, so vendor codes in logs stay readable.
    """
    try:
        name = CommandStatus(status).name
    except ValueError:
        name = None
    if name is not None:
        return f"{name} (0x{status:08X}): {_STATUS_TEXT[status]}"
    if 0x400 <= status <= 0x4FF:
        meaning = "SMSC vendor specific error"
    elif 0x100 <= status <= 0x3FF:
        meaning = "reserved for SMPP extension"
    else:
        meaning = "reserved / unknown"
    return f"0x{status:08X}: {meaning}"


def command_status_of(text: str) -> int | None:
    """An error command_status written as a number (``0x58``, ``88``) or an ESME_* name
    (``ESME_RTHROTTLED``), as in a carrier's ``status_actions`` keys; None when it is
    neither a number in 1..0xFFFFFFFF nor a name of section 5.1.3 other than ESME_ROK
    (a success has no retry action)."""
    text = text.strip()
    if text.upper().startswith("ESME_"):
        member = CommandStatus.__members__.get(text.upper())
        return None if member is None or member == 0 else int(member)
    try:
        value = int(text, 0)
    except ValueError:
        return None
    return value if 0 < value <= 0xFFFFFFFF else None


class Ton(enum.IntEnum):
    """Type of Number, SMPP 3.4 section 5.2.5."""

    UNKNOWN = 0x00
    INTERNATIONAL = 0x01
    NATIONAL = 0x02
    NETWORK_SPECIFIC = 0x03
    SUBSCRIBER_NUMBER = 0x04
    ALPHANUMERIC = 0x05
    ABBREVIATED = 0x06


class Npi(enum.IntEnum):
    """Numbering Plan Indicator, SMPP 3.4 section 5.2.6."""

    UNKNOWN = 0x00
    ISDN = 0x01  # E.163 / E.164
    DATA = 0x03  # X.121
    TELEX = 0x04  # F.69
    LAND_MOBILE = 0x06  # E.212
    NATIONAL = 0x08
    PRIVATE = 0x09
    ERMES = 0x0A
    INTERNET = 0x0E  # IP
    WAP_CLIENT_ID = 0x12


class DataCoding(enum.IntEnum):
    """data_coding values, SMPP 3.4 section 5.2.19 (the non-GSM-DCS part)."""

    SMSC_DEFAULT = 0x00
    IA5 = 0x01  # IA5 (CCITT T.50) / ASCII
    OCTET_UNSPECIFIED = 0x02  # 8-bit binary
    LATIN1 = 0x03  # ISO-8859-1
    OCTET_UNSPECIFIED_COMMON = 0x04  # 8-bit binary
    JIS = 0x05  # X 0208-1990
    CYRILLIC = 0x06  # ISO-8859-5
    LATIN_HEBREW = 0x07  # ISO-8859-8
    UCS2 = 0x08  # ISO/IEC-10646
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A  # music codes
    EXTENDED_KANJI = 0x0D  # JIS X 0212-1990
    KS_C_5601 = 0x0E


class EsmClass(enum.IntFlag):
    """esm_class bits, SMPP 3.4 section 5.2.12.

    Three sub-fields share the octet: messaging mode (bits 1-0), message type
    (bits 5-2) and GSM network features (bits 7-6). Compare sub-fields through
    the masks, not with ``in``: several values are multi-bit patterns.
    """

    DEFAULT_MODE = 0x00
    DATAGRAM_MODE = 0x01
    FORWARD_MODE = 0x02  # transaction mode
    STORE_AND_FORWARD_MODE = 0x03
    MODE_MASK = 0x03

    SMSC_DELIVERY_RECEIPT = 0x04
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    CONVERSATION_ABORT = 0x18  # Korean CDMA
    INTERMEDIATE_DELIVERY_NOTIFICATION = 0x20
    TYPE_MASK = 0x3C

    UDHI = 0x40  # UDH indicator: short_message starts with a user data header
    REPLY_PATH = 0x80
    FEATURES_MASK = 0xC0


class RegisteredDelivery(enum.IntFlag):
    """registered_delivery bits, SMPP 3.4 section 5.2.17."""

    NO_RECEIPT = 0x00
    RECEIPT_ON_SUCCESS_OR_FAILURE = 0x01
    RECEIPT_ON_FAILURE = 0x02
    RECEIPT_MASK = 0x03
    SME_DELIVERY_ACK = 0x04
    SME_MANUAL_ACK = 0x08
    SME_ACK_MASK = 0x0C
    INTERMEDIATE_NOTIFICATION = 0x10


class DestFlag(enum.IntEnum):
    """submit_multi dest_flag, SMPP 3.4 section 5.2.25."""

    SME_ADDRESS = 0x01
    DISTRIBUTION_LIST = 0x02


class MessageState(enum.IntEnum):
    """message_state, SMPP 3.4 section 5.2.28 (query_sm_resp and the TLV 0x0427)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class Tag(enum.IntEnum):
    """Optional parameter (TLV) tags, SMPP 3.4 section 5.3.2, table 5-7."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383
