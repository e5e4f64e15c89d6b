"""Concatenated MO back into one text (pure: no I/O, no clock).

A long MO reaches an ESME as several deliver_sm, each a part of one message:

- with a User Data Header (esm_class UDHI, SMPP 3.4 section 5.2.12) holding a
  concatenation element, 8-bit reference (IEI 0x00, TS 23.040 9.2.3.24.1) or
  16-bit reference (IEI 0x08, TS 23.040 9.2.3.24.8): reference, total, sequence;
- or with the SAR TLVs (sar_msg_ref_num 0x020C, sar_total_segments 0x020E,
  sar_segment_seqnum 0x020F, SMPP 3.4 sections 5.3.2.22-24) and no header.

Parts of one message share (source, destination, reference, total). Their user
data is joined *before* it is decoded: a UCS-2 surrogate pair or a GSM-7 escape
sequence cut between two parts (senders should not, some do) still decodes.
GSM 7-bit text arrives one septet per octet on SMPP (data_coding 0 or 1, the
SMSC unpacks it); the alphabets are the segmenter's (TS 23.038 6.2.1, with the
national shift tables a part announces in its UDH, TS 23.040 9.2.3.24.15/16).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from segmenter.alphabet import alphabet

__all__ = [
    "Concat",
    "Fragment",
    "IncompleteMessage",
    "decode",
    "fragment",
    "join",
    "split_user_data",
]

ESM_CLASS_UDHI = 0x40
IEI_CONCAT_8, IEI_CONCAT_16 = 0x00, 0x08
IEI_SINGLE_SHIFT, IEI_LOCKING_SHIFT = 0x24, 0x25
# SMPP 3.4 section 5.2.19 data_coding: 0 SMSC default (GSM 7-bit here), 1 IA5 (ASCII,
# a subset of the GSM default alphabet's printable letters on the networks we know:
# decoded as GSM), 3 Latin-1, 8 UCS-2; 2 and 4 are binary.
_GSM = frozenset({0x00, 0x01})
_LATIN1 = 0x03
_UCS2 = 0x08


class IncompleteMessage(ValueError):
    """The parts given do not make one whole message."""


@dataclass(frozen=True, slots=True)
class Concat:
    """Where a part belongs: (reference, total, sequence), sequence 1-based."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Fragment:
    """One deliver_sm's user data: the header's elements, the payload after it."""

    data_coding: int
    elements: dict[int, bytes]
    payload: bytes
    concat: Concat | None


def split_user_data(raw: bytes, esm_class: int) -> tuple[dict[int, bytes], bytes]:
    """(UDH information elements by IEI, the octets after the header).

    A header whose length runs past the data, or whose elements overrun it, is
    refused (ValueError): the octets cannot be told apart from text.
    """
    if not esm_class & ESM_CLASS_UDHI or not raw:
        return {}, raw
    header_end = 1 + raw[0]
    if header_end > len(raw):
        raise ValueError("UDH length runs past the user data")
    elements: dict[int, bytes] = {}
    pos = 1
    while pos < header_end:
        if pos + 2 > header_end:
            raise ValueError("UDH element header overruns the UDH")
        iei, length = raw[pos], raw[pos + 1]
        if pos + 2 + length > header_end:
            raise ValueError("UDH element overruns the UDH")
        elements[iei] = raw[pos + 2 : pos + 2 + length]
        pos += 2 + length
    return elements, raw[header_end:]


def _concat_of(elements: dict[int, bytes], sar: tuple[int, int, int] | None) -> Concat | None:
    ie = elements.get(IEI_CONCAT_8)
    if ie is not None and len(ie) == 3:
        found = Concat(ie[0], ie[1], ie[2])
    elif (ie := elements.get(IEI_CONCAT_16)) is not None and len(ie) == 4:
        found = Concat(ie[0] << 8 | ie[1], ie[2], ie[3])
    elif sar is not None:
        found = Concat(*sar)
    else:
        return None
    # TS 23.040 9.2.3.24.1: total 0 or a sequence outside 1..total: "ignore the element".
    if found.total == 0 or not 1 <= found.sequence <= found.total:
        return None
    return found if found.total > 1 else None


def fragment(raw: bytes, esm_class: int, data_coding: int, sar: tuple[int, int, int] | None = None) -> Fragment:
    """One deliver_sm's short_message (or message_payload) as a Fragment.

    ``sar``: (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum) when the PDU
    carried the SAR TLVs; a concatenation element in the UDH wins over them.
    """
    elements, payload = split_user_data(raw, esm_class)
    return Fragment(data_coding, elements, payload, _concat_of(elements, sar))


def decode(data_coding: int, payload: bytes, elements: dict[int, bytes] | None = None) -> str | None:
    """The text of user data (one part or joined parts); None for binary codings.

    Undecodable octets become U+FFFD rather than an error: a probe's body is
    compared, never trusted, and a damaged one is a body mismatch, not a crash.
    """
    if data_coding == _UCS2:
        if len(payload) % 2:
            payload += b"\x00"
        return payload.decode("utf-16-be", "replace")
    if data_coding == _LATIN1:
        return payload.decode("latin-1")
    if data_coding not in _GSM:
        return None
    elements = elements or {}
    locking = elements.get(IEI_LOCKING_SHIFT, b"\x00")[:1] or b"\x00"
    single = elements.get(IEI_SINGLE_SHIFT, b"\x00")[:1] or b"\x00"
    try:
        table = alphabet(locking[0], single[0])
    except (KeyError, IndexError):
        table = alphabet(0, 0)
    try:
        return table.decode(payload)
    except ValueError:
        return "".join(_gsm_char(table.decode_map, s) for s in payload)


def _gsm_char(tables: tuple[str, str], septet: int) -> str:
    lock_table, _ = tables
    if septet > 0x7F or septet == 0x1B or lock_table[septet] == "\x00":
        return "\ufffd"
    return lock_table[septet]


def join(parts: Sequence[Fragment]) -> str | None:
    """The whole text of a message from all its parts (any order).

    Refuses (IncompleteMessage) parts that are not exactly sequences 1..total of
    one (reference, total), or that mix codings. A single part without a
    concatenation element is a whole message on its own.
    """
    if not parts:
        raise IncompleteMessage("no parts")
    if len(parts) == 1 and parts[0].concat is None:
        only = parts[0]
        return decode(only.data_coding, only.payload, only.elements)
    concats = [p.concat for p in parts]
    if any(c is None for c in concats):
        raise IncompleteMessage("a part without a concatenation element among several parts")
    keys = {(c.reference, c.total) for c in concats if c is not None}
    if len(keys) != 1:
        raise IncompleteMessage("parts of different messages")
    (_, total), = keys
    ordered = sorted(parts, key=lambda p: p.concat.sequence if p.concat else 0)
    if [p.concat.sequence for p in ordered if p.concat] != list(range(1, total + 1)):
        raise IncompleteMessage(f"parts {sorted(c.sequence for c in concats if c)} of {total}")
    codings = {p.data_coding for p in ordered}
    if len(codings) != 1:
        raise IncompleteMessage("parts with different data codings")
    # Every part announces the same national tables (TS 23.040 9.2.3.24.15: in each
    # part); the first part's are used for the joined septets.
    return decode(ordered[0].data_coding, b"".join(p.payload for p in ordered), ordered[0].elements)
