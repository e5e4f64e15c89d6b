"""The bytes of each part for submit_sm: short_message, esm_class, data_coding, TLVs.

Independent of bridge.smpp: TLVs are (tag, value) pairs with the SMPP 3.4 tag
numbers below; the SMPP codec writes them.
"""

from __future__ import annotations

import msgspec

from segmenter.alphabet import alphabet, pack_septets, unpack_septets
from segmenter.core import Encoding, MessageTooLong, Segmentation
from segmenter.profile import Concat, Profile

__all__ = [
    "DATA_CODING_UCS2",
    "ESM_CLASS_UDHI",
    "MESSAGE_PAYLOAD",
    "SAR_MSG_REF_NUM",
    "SAR_SEGMENT_SEQNUM",
    "SAR_TOTAL_SEGMENTS",
    "PartPayload",
    "build_payloads",
    "decode_payload",
]

# SMPP 3.4 section 5.3.2 (TLV tags): 5.3.2.22-24 and 5.3.2.32.
SAR_MSG_REF_NUM = 0x020C
SAR_TOTAL_SEGMENTS = 0x020E
SAR_SEGMENT_SEQNUM = 0x020F
MESSAGE_PAYLOAD = 0x0424

# SMPP 3.4 5.2.12: esm_class bit 6 (GSM UDHI): short_message starts with a UDH.
ESM_CLASS_UDHI = 0x40
# SMPP 3.4 5.2.19: 8 = UCS2 (ISO/IEC-10646).
DATA_CODING_UCS2 = 8

# TS 23.040 9.2.3.24: information element identifiers.
IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25


class PartPayload(msgspec.Struct, frozen=True, kw_only=True):
    short_message: bytes
    esm_class: int
    data_coding: int
    tlvs: tuple[tuple[int, bytes], ...] = ()


def _national_ies(seg: Segmentation) -> bytes:
    # TS 23.040 9.2.3.24.15 (single shift) / 9.2.3.24.16 (locking shift): in
    # every part, so each part decodes on its own.
    ies = b""
    if seg.single_shift:
        ies += bytes((IEI_SINGLE_SHIFT, 1, seg.single_shift))
    if seg.locking_shift:
        ies += bytes((IEI_LOCKING_SHIFT, 1, seg.locking_shift))
    return ies


def _check(seg: Segmentation, ref: int, profile: Profile) -> None:
    if seg.reference_bits != profile.reference_bits:
        raise ValueError(
            f"segmented for {seg.reference_bits}-bit references but the profile uses "
            f"{profile.reference_bits}: segment with segment_for(text, profile)"
        )
    from segmenter.tables import LANGUAGES

    allowed = {LANGUAGES[code] for code in profile.shift_tables} | {0}
    if seg.locking_shift not in allowed or seg.single_shift not in allowed:
        raise ValueError("segmented with shift tables this profile does not allow")
    if seg.segments > profile.max_parts:
        raise MessageTooLong(
            f"message needs {seg.segments} segments; this carrier allows at most "
            f"{profile.max_parts} (max_parts)"
        )
    limit = 0xFF if profile.reference_bits == 8 else 0xFFFF
    if not 0 <= ref <= limit:
        raise ValueError(f"ref must be 0..{limit} for {profile.reference_bits}-bit references")


def _body(seg: Segmentation, text: str, profile: Profile, udh: bytes) -> bytes:
    """UDH (with its length octet) followed by the encoded text."""
    header = bytes((len(udh),)) + udh if udh else b""
    if seg.encoding is Encoding.UCS2:
        return header + text.encode("utf-16-be")
    septets = alphabet(seg.locking_shift, seg.single_shift).septets(text)
    if not profile.packed_gsm7:
        # One septet per octet; the SMSC packs (and adds fill bits) itself.
        return header + septets
    fill = (7 - (len(header) * 8) % 7) % 7
    return header + pack_septets(septets, fill, 140 - len(header))


def build_payloads(seg: Segmentation, ref: int, profile: Profile) -> tuple[PartPayload, ...]:
    """The submit_sm fields of every part; ``ref`` is the stored concatenation reference."""
    _check(seg, ref, profile)
    data_coding = DATA_CODING_UCS2 if seg.encoding is Encoding.UCS2 else profile.gsm_data_coding
    national = _national_ies(seg)
    total = seg.segments
    if profile.concat is Concat.PAYLOAD:
        body = _body(seg, "".join(seg.parts), profile, national)
        return (PartPayload(short_message=b"", esm_class=ESM_CLASS_UDHI if national else 0,
                            data_coding=data_coding, tlvs=((MESSAGE_PAYLOAD, body),)),)
    out = []
    for seq, text in enumerate(seg.parts, start=1):
        udh = national
        tlvs: tuple[tuple[int, bytes], ...] = ()
        if total > 1:
            if profile.concat is Concat.UDH8:
                udh = bytes((IEI_CONCAT_8, 3, ref, total, seq)) + national
            elif profile.concat is Concat.UDH16:
                udh = bytes((IEI_CONCAT_16, 4, ref >> 8, ref & 0xFF, total, seq)) + national
            else:  # SAR: the SMSC writes the concatenation UDH
                tlvs = (
                    (SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
                    (SAR_TOTAL_SEGMENTS, bytes((total,))),
                    (SAR_SEGMENT_SEQNUM, bytes((seq,))),
                )
        out.append(PartPayload(short_message=_body(seg, text, profile, udh),
                               esm_class=ESM_CLASS_UDHI if udh else 0,
                               data_coding=data_coding, tlvs=tlvs))
    return tuple(out)


def decode_payload(part: PartPayload, *, packed: bool = False) -> tuple[dict[int, bytes], str]:
    """A part back to (UDH information elements by IEI, text); for MO and tests."""
    data = part.short_message or dict(part.tlvs).get(MESSAGE_PAYLOAD, b"")
    ies: dict[int, bytes] = {}
    header_len = 0
    if part.esm_class & ESM_CLASS_UDHI:
        header_len = 1 + data[0]
        pos = 1
        while pos < header_len:
            iei, length = data[pos], data[pos + 1]
            ies[iei] = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
        if pos != header_len:
            raise ValueError("UDH information elements overrun the UDH length")
    body = data[header_len:]
    if part.data_coding == DATA_CODING_UCS2:
        return ies, body.decode("utf-16-be")
    locking = ies.get(IEI_LOCKING_SHIFT, b"\x00")[0]
    single = ies.get(IEI_SINGLE_SHIFT, b"\x00")[0]
    if packed:
        fill = (7 - (header_len * 8) % 7) % 7
        body = unpack_septets(body, fill)
    return ies, alphabet(locking, single).decode(body)
