"""Concatenated MO reassembly and decoding: golden vectors and hypothesis round trips."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.preflight.reassembly import (
    Concat,
    Fragment,
    IncompleteMessage,
    decode,
    fragment,
    join,
    split_user_data,
)
from segmenter import Profile, segment_for
from segmenter.alphabet import alphabet
from segmenter.payload import build_payloads
from segmenter.profile import Concat as Scheme

GSM = alphabet(0, 0)
gsm_text = st.text(alphabet=sorted(GSM.basic | GSM.extended), min_size=0, max_size=600)
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300)


def _parts(text: str, scheme: Scheme, ref: int) -> list[Fragment]:
    seg = segment_for(text, Profile(concat=scheme, max_parts=255))
    out = []
    for p in build_payloads(seg, ref, Profile(concat=scheme, max_parts=255)):
        tlvs = dict(p.tlvs)
        sar = None
        if 0x020C in tlvs:
            sar = (int.from_bytes(tlvs[0x020C], "big"), tlvs[0x020E][0], tlvs[0x020F][0])
        out.append(fragment(p.short_message, p.esm_class, p.data_coding, sar))
    return out


@pytest.mark.parametrize("scheme", [Scheme.UDH8, Scheme.UDH16, Scheme.SAR])
@given(text=st.one_of(gsm_text, any_text), ref=st.integers(0, 255), seed=st.integers(0, 2**16))
def test_the_segmenters_parts_in_any_order_join_back_to_the_text(scheme: Scheme, text: str, ref: int, seed: int) -> None:
    parts = _parts(text, scheme, ref)
    random.Random(seed).shuffle(parts)
    assert join(parts) == text


@given(text=gsm_text.filter(lambda t: len(t) > 170), drop=st.integers(0, 10))
def test_a_missing_part_is_incomplete(text: str, drop: int) -> None:
    parts = _parts(text, Scheme.UDH8, 7)
    del parts[drop % len(parts)]
    with pytest.raises(IncompleteMessage):
        join(parts)


def test_ucs2_surrogate_pair_cut_between_parts_joins() -> None:
    data = "ok 😀".encode("utf-16-be")
    head, tail = data[:8], data[8:]  # inside the pair
    parts = [
        fragment(bytes((5, 0, 3, 9, 2, 2)) + tail, 0x40, 8),
        fragment(bytes((5, 0, 3, 9, 2, 1)) + head, 0x40, 8),
    ]
    assert join(parts) == "ok 😀"


def test_gsm_escape_cut_between_parts_joins() -> None:
    septets = GSM.septets("price 10€")
    cut = septets.index(0x1B) + 1
    parts = [
        fragment(bytes((6, 8, 4, 1, 2, 2, 1)) + septets[:cut], 0x40, 0),
        fragment(bytes((6, 8, 4, 1, 2, 2, 2)) + septets[cut:], 0x40, 0),
    ]
    assert parts[0].concat == Concat(0x0102, 2, 1)
    assert join(parts) == "price 10€"


def test_sar_applies_without_a_header_and_the_header_wins_over_it() -> None:
    assert fragment(b"abc", 0, 0, (5, 2, 1)).concat == Concat(5, 2, 1)
    assert fragment(bytes((5, 0, 3, 9, 3, 2)) + b"abc", 0x40, 0, (5, 2, 1)).concat == Concat(9, 3, 2)


@pytest.mark.parametrize(("element", "expected"), [
    (bytes((5, 0, 3, 1, 0, 1)), None),  # total 0: ignored (TS 23.040 9.2.3.24.1)
    (bytes((5, 0, 3, 1, 2, 3)), None),  # sequence past total
    (bytes((5, 0, 3, 1, 1, 1)), None),  # one part of one: a whole message
])  # fmt: skip
def test_odd_concatenation_elements_are_ignored(element: bytes, expected: Concat | None) -> None:
    assert fragment(element + b"hi", 0x40, 0).concat is expected


@given(raw=st.binary(max_size=200), esm=st.sampled_from([0, 0x40]), coding=st.sampled_from([0, 1, 3, 4, 8]))
def test_any_octets_decode_or_are_refused_never_crash(raw: bytes, esm: int, coding: int) -> None:
    try:
        elements, payload = split_user_data(raw, esm)
    except ValueError:
        return
    text = decode(coding, payload, elements)
    assert text is None or isinstance(text, str)
    part = fragment(raw, esm, coding)
    try:
        join([part])
    except IncompleteMessage:
        assert part.concat is not None


def test_national_shift_tables_of_the_header_are_used() -> None:
    turkish = alphabet(1, 1)
    septets = turkish.septets("ğış")
    assert decode(0, septets, {0x25: b"\x01", 0x24: b"\x01"}) == "ğış"
