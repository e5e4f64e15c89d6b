"""Hypothesis strategies for valid SMPP 3.4 PDUs of every type.

Field strategies follow the wire markers declared on the PDU classes (pdus.py),
with the spec's limits: C-octet strings of at most max_size - 1 octets without
NUL, times of 16 characters or empty (section 7.1), integers of their width,
short_message of 0..254 octets, 1..254 destinations. TLVs mix typed standard
parameters (packed through tlv.pack from typed values) and unknown tags with
raw values, repeated tags included.
"""

from __future__ import annotations

import typing
from typing import Any

from hypothesis import strategies as st

from bridge.smpp import fields as F
from bridge.smpp import pdus as P
from bridge.smpp import tlv

_KNOWN_TAGS = sorted(tlv.TLV_TYPES)
_LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=255)

times = st.one_of(
    st.just(""),
    st.text(st.sampled_from("0123456789"), min_size=15, max_size=15).map(lambda s: s + "+"),
    st.text(st.sampled_from("0123456789"), min_size=15, max_size=15).map(lambda s: s + "R"),
)


def c_octet(max_size: int) -> st.SearchStrategy[str]:
    if max_size == 17:  # every 17-octet field is a time (section 7.1)
        return times
    return st.text(_LATIN1_NO_NUL, max_size=max_size - 1)


def integer(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, (1 << (8 * size)) - 1)


@st.composite
def typed_tlv(draw: st.DrawFn) -> tuple[int, bytes]:
    tag = draw(st.sampled_from(_KNOWN_TAGS))
    kind, low, high = tlv.TLV_TYPES[tag]
    value: int | str | bytes
    if kind is tlv.Kind.INT:
        value = draw(integer(low))
    elif kind is tlv.Kind.COCTET:
        value = draw(st.text(_LATIN1_NO_NUL, min_size=low - 1, max_size=min(high, 80) - 1))
    else:
        value = draw(st.binary(min_size=low, max_size=min(high, 80)))
    packed = tlv.pack(tag, value)
    assert tlv.unpack(*packed) == value
    return packed


unknown_tlv = st.tuples(
    st.integers(0, 0xFFFF).filter(lambda t: t not in tlv.TLV_TYPES), st.binary(max_size=40)
)
tlvs = st.lists(st.one_of(typed_tlv(), unknown_tlv), max_size=6).map(tuple)

sme_address = st.builds(
    P.SmeAddress,
    dest_addr_ton=integer(1),
    dest_addr_npi=integer(1),
    destination_addr=c_octet(21),
)
distribution_list = st.builds(P.DistributionList, dl_name=c_octet(21))
unsuccess_sme = st.builds(
    P.UnsuccessSme,
    dest_addr_ton=integer(1),
    dest_addr_npi=integer(1),
    destination_addr=c_octet(21),
    error_status_code=integer(4),
)

_SPECIAL: dict[F.Special, st.SearchStrategy[Any]] = {
    F.SHORT_MESSAGE: st.binary(max_size=254),
    F.DEST_ADDRESS: st.lists(st.one_of(sme_address, distribution_list), min_size=1, max_size=6).map(
        tuple
    ),
    F.UNSUCCESS_SME: st.lists(unsuccess_sme, max_size=4).map(tuple),
    F.TLVS: tlvs,
}


def _field_strategy(marker: object) -> st.SearchStrategy[Any]:
    if isinstance(marker, F.COctet):
        return c_octet(marker.max_size)
    if isinstance(marker, F.Int):
        return integer(marker.size)
    assert isinstance(marker, F.Special)
    return _SPECIAL[marker]


def body_fields(cls: type[P.Pdu]) -> dict[str, st.SearchStrategy[Any]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        name: _field_strategy(hints[name].__metadata__[0]) for name in cls.__struct_fields__[2:]
    }


def pdus_of(cls: type[P.Pdu]) -> st.SearchStrategy[P.Pdu]:
    """Valid PDUs of ``cls``; responses also come bodiless when that is allowed."""
    header = {"sequence_number": integer(4), "command_status": integer(4)}
    fields = body_fields(cls)
    full = st.builds(cls, **header, **fields)
    if not (cls.command_id & 0x80000000 and fields):
        return full
    # Section 4.4.2: an error response may have no body; deliver_sm_resp never needs one.
    status = integer(4) if cls is P.DeliverSmResp else st.integers(1, 0xFFFFFFFF)
    bodiless = st.builds(cls, sequence_number=integer(4), command_status=status)
    return st.one_of(full, bodiless)


any_pdu = st.one_of([pdus_of(cls) for cls in P.ALL_PDU_CLASSES])
