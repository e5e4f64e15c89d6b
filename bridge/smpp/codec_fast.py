"""Hand-written fast paths for the hot PDUs (docs/design.md "Performance rules").

The bridge encodes a submit_sm per message part and decodes its submit_sm_resp
and a deliver_sm per receipt; these functions do that work in as few Python
operations as possible. They share one contract with the table-driven codec
(codec.py), which stays the reference:

- a fast path never raises on bad input: it returns None, and the generic path
  redoes the work and reports the precise error (or applies a tolerance, such
  as an overlong C-octet string that must be counted);
- for any input it accepts, it returns exactly what the generic path returns
  (tests/smpp/test_codec_vectors.py, test_codec_roundtrip.py and
  test_codec_fuzz.py compare both).

Tricks, each measured (docs/smpp-codec.md, "Figures"):
- encode packs header and submit_sm body up to sm_length (SMPP 3.4 sections
  3.2, 4.4.1) with one ``struct.Struct`` chosen by the lengths of the C-octet
  strings (cached); the fields come out of the PDU in one
  ``msgspec.structs.astuple`` call;
- decode matches the five C-octet strings of submit_sm / deliver_sm with one
  precompiled regular expression on the frame decoded once as latin-1, whose
  character offsets are the octet offsets; the one-octet integers in between
  are read by index from the bytes (no struct tuples to allocate).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

import msgspec

from bridge.smpp import pdus as P
from bridge.smpp import tlv as _tlv

HEADER = struct.Struct(">IIII")
_TL = struct.Struct(">HH")
_MAX_SM = 254  # section 4.4.1: sm_length 0..254
_INT_LENGTHS: dict[int, int] = {int(tag): n for tag, n in _tlv.INT_LENGTHS.items()}
# Integer tags a peer may size either way: the length does not equal any single
# size, so the fast path leaves those PDUs to the generic decoder, which checks the range.
_INT_LENGTHS.update({int(tag): -1 for tag in _tlv.INT_RANGES})
_astuple = msgspec.structs.astuple

# -- encode --------------------------------------------------------------------------------

# Section 4.4.1 / 4.6.1, header to sm_length, as one struct per combination of
# C-octet string lengths: header, service_type, source ton/npi/addr, dest
# ton/npi/addr, esm_class, protocol_id, priority_flag, schedule_delivery_time,
# validity_period, registered_delivery, replace_if_present_flag, data_coding,
# sm_default_msg_id, sm_length. An "Ns" field of a string of N - 1 octets gets
# its NUL from struct's padding. short_message and the TLVs follow as bytes.
#
# The cache holds layouts for valid lengths only, so a hit also proves the lengths:
# service_type <= 5, source_addr and destination_addr <= 20 octets (section 4.4.1),
# each time 0 or 16 (section 7.1).
_SM_LAYOUTS: dict[tuple[int, int, int, int, int], struct.Struct] = {}
_SM_LAYOUTS_MAX = 4096  # a bound, not a tuning knob: real traffic has a few dozen
_TIME_LENGTHS = (0, 16)


def _sm_layout(key: tuple[int, int, int, int, int]) -> struct.Struct | None:
    st, sa, da, sdt, vp = key
    if st > 5 or sa > 20 or da > 20 or sdt not in _TIME_LENGTHS or vp not in _TIME_LENGTHS:
        return None
    if len(_SM_LAYOUTS) >= _SM_LAYOUTS_MAX:
        _SM_LAYOUTS.clear()
    layout = struct.Struct(f">IIII{st + 1}sBB{sa + 1}sBB{da + 1}sBBB{sdt + 1}s{vp + 1}sBBBBB")
    _SM_LAYOUTS[key] = layout
    return layout


def _encoder(command_id: int) -> Callable[[Any, int], bytes | None]:
    def encode_sm(p: Any, seq: int) -> bytes | None:
        """submit_sm / deliver_sm; None unless every field is plainly valid."""
        try:
            (_, status, st, ston, snpi, sa, dton, dnpi, da, esm, pid, prio, sdt, vp,
             rd, rip, dc, sdm, sm, tlvs) = _astuple(p)  # fmt: skip
            # ``"\0" in x`` is also a type check: it raises TypeError for bytes or None.
            if (
                "\0" in sa
                or "\0" in da
                or "\0" in st
                or "\0" in sdt
                or "\0" in vp
                or type(sm) is not bytes
            ):
                return None
            n = len(sm)
            key = (len(st), len(sa), len(da), len(sdt), len(vp))
            layout = _SM_LAYOUTS.get(key) or _sm_layout(key)
            if layout is None or n > _MAX_SM:
                return None
            if tlvs:
                sm += encode_tlvs_fast(tlvs)
            # struct refuses an integer outside 0..255 (or of another type) and
            # UnicodeEncodeError a character beyond latin-1: the generic path then names
            # the field.
            return layout.pack(
                layout.size + len(sm), command_id, status, seq,
                st.encode("latin-1") if st else b"", ston, snpi, sa.encode("latin-1"),
                dton, dnpi, da.encode("latin-1"), esm, pid, prio,
                sdt.encode("latin-1") if sdt else b"", vp.encode("latin-1") if vp else b"",
                rd, rip, dc, sdm, n,
            ) + sm  # fmt: skip
        except (UnicodeEncodeError, OverflowError, TypeError, ValueError, AttributeError,
                struct.error):  # fmt: skip
            return None

    return encode_sm


encode_submit_sm = _encoder(int(P.SubmitSm.command_id))
encode_deliver_sm = _encoder(int(P.DeliverSm.command_id))

_HEADER = struct.Struct(">IIII")
_MAX_MESSAGE_ID = 64  # section 4.4.2: message_id, C-octet string of at most 65 octets


def _resp_encoder(command_id: int, *, always_body: bool) -> Callable[[Any, int], bytes | None]:
    def encode_resp(p: Any, seq: int) -> bytes | None:
        """submit_sm_resp / deliver_sm_resp without TLVs; None for anything else.

        The same bytes as the generic path (codec._encode_body): an error
        submit_sm_resp without a message_id has no body (section 4.4.2); a
        deliver_sm_resp always has one, a NULL message_id (section 4.6.2): a
        constant octet, no per-PDU work.
        """
        try:
            _, status, message_id, tlvs = _astuple(p)
            if tlvs:
                return None
            if message_id is None:
                body = b"" if status and not always_body else b"\0"
            elif message_id == "":
                body = b"\0"
            elif type(message_id) is str and len(message_id) <= _MAX_MESSAGE_ID and "\0" not in message_id:
                body = message_id.encode("latin-1") + b"\0"
            else:
                return None
            return _HEADER.pack(16 + len(body), command_id, status, seq) + body
        except (UnicodeEncodeError, OverflowError, TypeError, ValueError, struct.error):
            return None

    return encode_resp


# The daemon answers every receipt with a deliver_sm_resp, the simulator every
# submit_sm with a submit_sm_resp: one of each per message.
encode_submit_sm_resp = _resp_encoder(int(P.SubmitSmResp.command_id), always_body=False)
encode_deliver_sm_resp = _resp_encoder(int(P.DeliverSmResp.command_id), always_body=True)


def encode_tlvs_fast(tlvs: P.Tlvs) -> bytes:
    """Wire bytes of plain (tag, bytes) pairs.

    ValueError / TypeError / struct.error (the caller falls back to the generic
    path) for anything malformed; LocalProtocolError for a value length the tag
    does not allow, exactly as the generic path raises it.
    """
    parts = []
    check = _tlv.check
    for tag, value in tlvs:
        if type(value) is not bytes:
            raise ValueError("not bytes")
        check(tag, value)  # a wrong length: LocalProtocolError, as the generic path says
        parts.append(_TL.pack(tag, len(value)) + value)
    return b"".join(parts)


# -- decode --------------------------------------------------------------------------------

# The five C-octet strings of submit_sm / deliver_sm within the spec's sizes, with
# the fixed-size integers between them (``.`` with DOTALL: any octet).
_SM_STRINGS = re.compile(
    "([^\0]{0,5})\0.."  # service_type, source_addr_ton, source_addr_npi
    "([^\0]{0,20})\0.."  # source_addr, dest_addr_ton, dest_addr_npi
    "([^\0]{0,20})\0..."  # destination_addr, esm_class, protocol_id, priority_flag
    "([^\0]{0,16})\0"  # schedule_delivery_time
    "([^\0]{0,16})\0",  # validity_period
    re.DOTALL,
)
_match_sm = _SM_STRINGS.match
_unpack_tl = _TL.unpack_from
_DeliverSm = P.DeliverSm
_SubmitSm = P.SubmitSm


def decode_sm(buf: bytes, seq: int, status: int) -> P.Pdu | None:
    """submit_sm / deliver_sm within the spec's limits, sections 4.4.1 and 4.6.1."""
    m = _match_sm(buf.decode("latin-1"), 16)
    if m is None:
        return None
    st, sa, da, sdt, vp = m.groups()
    # Offsets from the string lengths (cheaper than asking the match for spans):
    e1 = 16 + len(st)  # NUL after service_type; source ton, npi follow
    e2 = e1 + 3 + len(sa)  # NUL after source_addr; dest ton, npi follow
    e3 = e2 + 3 + len(da)  # NUL after destination_addr; esm_class, protocol_id, priority
    i = e3 + 6 + len(sdt) + len(vp)  # registered_delivery .. sm_default_msg_id, sm_length
    end = len(buf)
    try:
        j = i + 5 + buf[i + 4]  # end of short_message
    except IndexError:
        return None
    if j > end or j - i - 5 > _MAX_SM:
        return None  # the generic path answers ESME_RINVMSGLEN or counts the overlong one
    if j < end:  # TLVs (section 5.3), inlined: one call less per receipt
        found = []
        k = j
        try:
            while k < end:
                tag, size = _unpack_tl(buf, k)  # struct.error: a TLV header cut off
                k += 4
                stop = k + size
                if stop > end or _INT_LENGTHS.get(tag, size) != size:
                    return None
                found.append((tag, buf[k:stop]))
                k = stop
        except struct.error:
            return None
        tlvs: P.Tlvs = tuple(found)
    else:
        tlvs = ()
    return (_DeliverSm if buf[7] == 5 else _SubmitSm)(  # low octet of command_id
        seq, status, st, buf[e1 + 1], buf[e1 + 2], sa, buf[e2 + 1], buf[e2 + 2], da,
        buf[e3 + 1], buf[e3 + 2], buf[e3 + 3], sdt, vp,
        buf[i], buf[i + 1], buf[i + 2], buf[i + 3], buf[i + 5 : j], tlvs,
    )  # fmt: skip


_RESP_CLASSES: dict[int, Callable[..., P.Pdu]] = {
    0x04: P.SubmitSmResp,  # low octet of command_id 0x80000004
    0x05: P.DeliverSmResp,
    0x03: P.DataSmResp,  # 0x80000103
}


def decode_resp(buf: bytes, seq: int, status: int) -> P.Pdu | None:
    """submit_sm_resp / deliver_sm_resp / data_sm_resp: a message_id and no TLVs."""
    end = len(buf)
    if end == 16:  # section 4.4.2: no body on error; deliver_sm_resp may omit it always
        return _RESP_CLASSES[buf[7]](seq, status, None) if status or buf[7] == 5 else None
    if buf[-1] or end > 16 + 65:  # message_id ends the PDU: 0..64 octets and its NUL
        return None
    message_id = buf[16:-1].decode("latin-1")
    if "\0" in message_id:
        return None  # TLVs follow, or garbage: the generic path decides
    return _RESP_CLASSES[buf[7]](seq, status, message_id)
