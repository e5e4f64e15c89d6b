"""Payload bytes per carrier profile: UDH, SAR TLVs, message_payload, packing, limits."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from segmenter import (
    MESSAGE_PAYLOAD,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
    Concat,
    Encoding,
    MessageTooLong,
    PartPayload,
    Profile,
    decode_payload,
    segment,
    segment_for,
)
from segmenter.alphabet import pack_septets, unpack_septets
from segmenter.core import Segmentation

from .strategies import any_texts, national_texts

PROFILES = [
    Profile(),
    Profile(concat=Concat.UDH16),
    Profile(concat=Concat.SAR),
    Profile(concat=Concat.PAYLOAD),
    Profile(packed_gsm7=True),
    Profile(concat=Concat.UDH16, packed_gsm7=True, gsm_data_coding=1),
]
NATIONAL_PROFILES = [
    Profile(shift_tables=("tr",)),
    Profile(shift_tables=("es", "pt"), concat=Concat.UDH16),
    Profile(shift_tables=("tr", "es"), packed_gsm7=True),
    Profile(shift_tables=("pt",), concat=Concat.SAR),
]


def test_profile_defaults_and_config_decoding() -> None:
    p = Profile()
    assert (p.concat, p.gsm_data_coding, p.packed_gsm7, p.shift_tables, p.max_parts) == (
        Concat.UDH8, 0, False, (), 255,
    )
    decoded = msgspec.toml.decode(b'concat = "sar"\nmax_parts = 10\nshift_tables = ["tr"]\n', type=Profile)
    assert decoded == Profile(concat=Concat.SAR, max_parts=10, shift_tables=("tr",))
    assert decoded.reference_bits == 16
    for bad in (b'conkat = "sar"\n', b"max_parts = 256\n", b'concat = "udh7"\n'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.toml.decode(bad, type=Profile)
    with pytest.raises(ValueError):
        Profile(shift_tables=("klingon",))
    with pytest.raises(ValueError):
        Profile(max_parts=0)


def _reassemble(parts: tuple[PartPayload, ...], profile: Profile, ref: int) -> str:
    """Decode every part and check its concatenation information."""
    texts = []
    for seq, part in enumerate(parts, start=1):
        ies, text = decode_payload(part, packed=profile.packed_gsm7)
        data = part.short_message or dict(part.tlvs).get(MESSAGE_PAYLOAD, b"")
        if profile.concat is not Concat.PAYLOAD:
            assert len(data) <= (254 if not profile.packed_gsm7 else 140)
        if len(parts) > 1 and profile.concat is Concat.UDH8:
            assert ies[0x00] == bytes((ref, len(parts), seq))
        if len(parts) > 1 and profile.concat is Concat.UDH16:
            assert ies[0x08] == bytes((ref >> 8, ref & 0xFF, len(parts), seq))
        if len(parts) > 1 and profile.concat is Concat.SAR:
            tlvs = dict(part.tlvs)
            assert tlvs[SAR_MSG_REF_NUM] == ref.to_bytes(2, "big")
            assert tlvs[SAR_TOTAL_SEGMENTS] == bytes((len(parts),))
            assert tlvs[SAR_SEGMENT_SEQNUM] == bytes((seq,))
        assert bool(part.esm_class & 0x40) == bool(ies)
        texts.append(text)
    return "".join(texts)


def _bits_on_air(seg: Segmentation, part: PartPayload, profile: Profile) -> int:
    """User data bits this part takes in the SMS (TS 23.040 9.2.3.24: UDH + fill + septets)."""
    data = part.short_message
    udh = 1 + data[0] if part.esm_class & 0x40 else 0
    if seg.encoding is Encoding.UCS2:
        return 8 * len(data)
    if profile.packed_gsm7:
        return 8 * len(data)
    return 8 * udh + (-8 * udh) % 7 + 7 * (len(data) - udh)


@given(any_texts, st.sampled_from(PROFILES), st.integers(0, 255))
def test_payloads_decode_back_and_fit(text: str, profile: Profile, ref: int) -> None:
    seg = segment_for(text, profile)
    if profile.packed_gsm7:
        # TS 23.038 6.1.2.3.1: a final CR on an octet boundary is padding to the
        # receiver; the sender doubles a wanted one (CR CR shows as CR).
        assume(not any(p.endswith("\r") for p in seg.parts))
    parts = seg.payloads(ref, profile)
    assert _reassemble(parts, profile, ref) == text
    if profile.concat is Concat.PAYLOAD:
        assert len(parts) == 1 and parts[0].short_message == b""
        return
    assert len(parts) == seg.segments
    for part in parts:
        assert _bits_on_air(seg, part, profile) <= 1120
        assert part.data_coding == (8 if seg.encoding is Encoding.UCS2 else profile.gsm_data_coding)


@given(national_texts, st.sampled_from(NATIONAL_PROFILES), st.integers(0, 255))
def test_national_payloads_carry_the_table_elements_in_every_part(
    text: str, profile: Profile, ref: int
) -> None:
    seg = segment_for(text, profile)
    if profile.packed_gsm7:
        assume(not any(p.endswith("\r") for p in seg.parts))
    parts = seg.payloads(ref, profile)
    assert _reassemble(parts, profile, ref) == text
    for part in parts:
        ies, _ = decode_payload(part, packed=profile.packed_gsm7)
        assert ies.get(0x24) == (bytes((seg.single_shift,)) if seg.single_shift else None)
        assert ies.get(0x25) == (bytes((seg.locking_shift,)) if seg.locking_shift else None)
        assert _bits_on_air(seg, part, profile) <= 1120


def test_golden_udh_8_and_16_bit() -> None:
    seg = segment("a" * 161)
    p1, p2 = seg.payloads(0xAB, Profile())
    assert p1.short_message == b"\x05\x00\x03\xab\x02\x01" + b"a" * 153
    assert p2.short_message == b"\x05\x00\x03\xab\x02\x02" + b"a" * 8
    assert (p1.esm_class, p1.data_coding, p1.tlvs) == (0x40, 0, ())
    seg16 = segment("a" * 161, reference_bits=16)
    q1, q2 = seg16.payloads(0x1234, Profile(concat=Concat.UDH16))
    assert q1.short_message == b"\x06\x08\x04\x12\x34\x02\x01" + b"a" * 152
    assert q2.short_message == b"\x06\x08\x04\x12\x34\x02\x02" + b"a" * 9


def test_golden_single_part_and_escape_bytes() -> None:
    (only,) = segment("€5 [x]").payloads(0, Profile(gsm_data_coding=1))
    assert only.short_message == b"\x1b\x655 \x1b\x3cx\x1b\x3e"
    assert (only.esm_class, only.data_coding) == (0, 1)
    (ucs,) = segment("жа😀").payloads(0, Profile())
    assert ucs.short_message == "жа😀".encode("utf-16-be")
    assert (ucs.esm_class, ucs.data_coding) == (0, 8)


def test_golden_sar_and_message_payload() -> None:
    seg = segment("a" * 200, reference_bits=16)
    p1, p2 = seg.payloads(0x0102, Profile(concat=Concat.SAR))
    assert p1.short_message == b"a" * 152 and p1.esm_class == 0
    assert p1.tlvs == ((0x020C, b"\x01\x02"), (0x020E, b"\x02"), (0x020F, b"\x01"))
    assert p2.tlvs[2] == (0x020F, b"\x02")
    (whole,) = seg.payloads(7, Profile(concat=Concat.PAYLOAD))
    assert whole.tlvs == ((0x0424, b"a" * 200),) and whole.short_message == b""


def test_golden_national_udh() -> None:
    seg = segment("ıá" + "a" * 150, shift_tables=("tr", "es"))
    p1, _ = seg.payloads(9, Profile(shift_tables=("tr", "es")))
    # UDHL 11: concat (00 03 09 02 01), single shift Spanish (24 01 02),
    # locking shift Turkish (25 01 01); then "ı" = 0x07 in A.3.1, "á" = ESC 0x61 in A.2.2.
    assert p1.short_message[:14] == bytes.fromhex("0b000309020124010225010107") + b"\x1b"
    assert p1.short_message[14] == 0x61


def test_max_parts_and_reference_range() -> None:
    seg = segment("a" * 1000)
    with pytest.raises(MessageTooLong, match="at most 3"):
        seg.payloads(1, Profile(max_parts=3))
    with pytest.raises(ValueError, match="ref"):
        seg.payloads(256, Profile())
    assert len(segment("a" * 1000, reference_bits=16).payloads(65535, Profile(concat=Concat.UDH16))) == 7


def test_payloads_refuse_a_mismatched_profile() -> None:
    with pytest.raises(ValueError, match="segment_for"):
        segment("a" * 200).payloads(1, Profile(concat=Concat.UDH16))
    with pytest.raises(ValueError, match="shift tables"):
        segment("ı", shift_tables=("tr",)).payloads(1, Profile())


# --- packing (TS 23.038 6.1.2.1.1, 6.1.2.3.1) ------------------------------


def test_packing_golden() -> None:
    # "hellohello" is the classic example: E8 32 9B FD 46 97 D9 EC 37.
    assert pack_septets(b"hellohello") == bytes.fromhex("e8329bfd4697d9ec37")
    # 7 septets leave 7 spare bits: CR is sent in them, and dropped again.
    packed = pack_septets(b"1234567")
    assert len(packed) == 7 and packed[-1] >> 1 == 0x0D
    assert unpack_septets(packed) == b"1234567"
    # A wanted final CR on an octet boundary gets a second CR.
    assert unpack_septets(pack_septets(b"abcdefg\r")) == b"abcdefg\r\r"


@given(st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_packing_round_trip(septets: bytes, fill: int) -> None:
    assume(not septets.endswith(b"\r"))
    packed = pack_septets(septets, fill, max_octets=1000)
    assert len(packed) == -(-(fill + 7 * len(septets)) // 8)
    assert unpack_septets(packed, fill) == septets
