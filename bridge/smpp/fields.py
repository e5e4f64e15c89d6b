"""The wire markers of PDU fields (SMPP 3.4 sections 3.1, 4): how each field travels.

pdus.py annotates every body field with one of these; the codec (codec.py) and
the framing's length checks (framing.py) compile them once at import. A marker
says how the field is encoded (C-octet string of at most N octets including the
NUL, 1- or 4-octet integer, sm_length + short_message, a list, the TLVs) and,
for strings, which command_status a malformed value is answered with (the idea
of mozes/smpp.pdu: each field knows its error).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bridge.smpp.constants import CommandStatus as S


@dataclass(frozen=True, slots=True)
class COctet:
    """C-octet string (section 3.1): at most ``max_size`` octets including the NUL."""

    max_size: int
    status: int


@dataclass(frozen=True, slots=True)
class Int:
    """Unsigned big-endian integer of ``size`` octets (section 3.1)."""

    size: int


@dataclass(frozen=True, slots=True)
class Special:
    """sm_length+short_message, submit_multi dest list, unsuccess_sme list, TLVs."""

    kind: str


I1 = Int(1)
I4 = Int(4)
SHORT_MESSAGE = Special("short_message")
DEST_ADDRESS = Special("dest_address")
UNSUCCESS_SME = Special("unsuccess_sme")
TLVS = Special("tlvs")

SERVICE_TYPE = COctet(6, S.ESME_RINVSERTYP)
SOURCE_ADDR = COctet(21, S.ESME_RINVSRCADR)
DESTINATION_ADDR = COctet(21, S.ESME_RINVDSTADR)
SOURCE_ADDR_65 = COctet(65, S.ESME_RINVSRCADR)  # data_sm / alert_notification
DESTINATION_ADDR_65 = COctet(65, S.ESME_RINVDSTADR)
SCHEDULE = COctet(17, S.ESME_RINVSCHED)
VALIDITY = COctet(17, S.ESME_RINVEXPIRY)
MESSAGE_ID = COctet(65, S.ESME_RINVMSGID)
SYSTEM_ID = COctet(16, S.ESME_RINVSYSID)
PASSWORD = COctet(9, S.ESME_RINVPASWD)
SYSTEM_TYPE = COctet(13, S.ESME_RINVSYSTYP)
ADDRESS_RANGE = COctet(41, S.ESME_RBINDFAIL)
DL_NAME = COctet(21, S.ESME_RINVDLNAME)
FINAL_DATE = COctet(17, S.ESME_RQUERYFAIL)


# -- the items of submit_multi's list fields (section 4.5) ---------------------------


class SmeAddress(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Section 4.5.1.1: dest_flag 1, an SME address."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


class DistributionList(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Section 4.5.1.2: dest_flag 2, a distribution list defined on the SMSC."""

    dl_name: str = ""


DestAddress = SmeAddress | DistributionList


class UnsuccessSme(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Section 4.5.2: one destination submit_multi could not deliver to."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0
