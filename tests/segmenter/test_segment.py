"""segment(): encoding choice, part boundaries, limits (TS 23.038 6.2.1, TS 23.040 9.2.3.24)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import segmenter
from segmenter import Encoding, MessageTooLong, Segmentation, price, segment
from segmenter.core import _split_escaped
from segmenter.tables import LANGUAGES

from .reference import greedy, gsm_costs, minimal_parts, ucs2_costs
from .strategies import any_texts, gsm_texts, national_texts, ucs2_texts

LIMITS = {  # (encoding, reference bits, tables) -> (one part, each concatenated part)
    (Encoding.GSM7, 8, 0): (160, 153),
    (Encoding.GSM7, 16, 0): (160, 152),
    (Encoding.UCS2, 8, 0): (70, 67),
    (Encoding.UCS2, 16, 0): (70, 66),
    (Encoding.GSM7, 8, 1): (155, 149),
    (Encoding.GSM7, 8, 2): (152, 146),
    (Encoding.GSM7, 16, 1): (155, 148),
    (Encoding.GSM7, 16, 2): (152, 145),
}


def test_public_api() -> None:
    for name in ("segment", "segment_for", "Segmentation", "Encoding", "PartPayload",
                 "Profile", "MessageTooLong", "price"):
        assert hasattr(segmenter, name), name
    assert issubclass(MessageTooLong, ValueError)
    assert [e.value for e in Encoding] == ["GSM-7", "UCS-2"]


def test_capacities_follow_from_the_udh_sizes() -> None:
    for (enc, bits, tables), (one, many) in LIMITS.items():
        assert segmenter.capacity(enc, concatenated=False, reference_bits=bits, tables=tables) == one
        assert segmenter.capacity(enc, concatenated=True, reference_bits=bits, tables=tables) == many


def _check(seg: Segmentation, text: str) -> None:
    """The invariants every segmentation has."""
    assert "".join(seg.parts) == text
    assert seg.segments == len(seg.parts) == len(seg.units_per_part)
    one, many = LIMITS[seg.encoding, seg.reference_bits, seg.tables]
    limit = one if seg.segments == 1 else many
    if seg.encoding is Encoding.GSM7:
        costs = gsm_costs(text, seg.locking_shift, seg.single_shift)
        assert costs is not None
        per_part = [sum(c) for c in _chunks(costs, [len(p) for p in seg.parts])]
    else:
        per_part = [len(p.encode("utf-16-be")) // 2 for p in seg.parts]
        for part in seg.parts[1:]:
            assert not 0xDC00 <= ord(part[0]) <= 0xDFFF
    assert list(seg.units_per_part) == per_part
    assert all(units <= limit for units in per_part)


def _chunks(costs: list[int], lengths: list[int]) -> list[list[int]]:
    out, pos = [], 0
    for n in lengths:
        out.append(costs[pos : pos + n])
        pos += n
    return out


@given(any_texts, st.sampled_from([8, 16]))
def test_parts_join_back_within_limits_and_match_the_naive_model(text: str, bits: int) -> None:
    seg = segment(text, reference_bits=bits)
    _check(seg, text)
    costs = gsm_costs(text)
    if costs is None:
        assert seg.encoding is Encoding.UCS2
        costs = ucs2_costs(text)
    else:
        assert seg.encoding is Encoding.GSM7
    one, many = LIMITS[seg.encoding, bits, 0]
    assert [len(p) for p in seg.parts] == greedy(costs, one, many)
    if seg.segments > 1:
        assert seg.segments == minimal_parts(costs, many)


@given(gsm_texts)
def test_gsm_texts_stay_gsm_and_escapes_are_never_cut(text: str) -> None:
    seg = segment(text)
    assert seg.encoding is Encoding.GSM7
    _check(seg, text)  # units per part come from whole characters: no half escape


@given(ucs2_texts, st.sampled_from([8, 16]))
def test_surrogate_pairs_are_never_cut(text: str, bits: int) -> None:
    seg = segment(text, reference_bits=bits)
    assert seg.encoding is Encoding.UCS2
    _check(seg, text)
    for part in seg.parts:
        part.encode("utf-16-le")  # a lone surrogate would not encode


@given(st.lists(st.sampled_from([1, 1, 1, 2]), max_size=60), st.integers(2, 9))
def test_greedy_split_is_minimal(costs: list[int], size: int) -> None:
    # The split loop with small parts against dynamic programming: greedy
    # filling never needs more parts than the optimum.
    escaped = b"".join(b"\x80\x01" if c == 2 else b"\x00" for c in costs)
    text = "".join("E" if c == 2 else "a" for c in costs)
    parts, units = _split_escaped(text, escaped, size)
    assert "".join(parts) == text
    assert all(u <= size for u in units)
    assert len(parts) == (minimal_parts(costs, size) if costs else 0)


@given(national_texts, st.sampled_from([("tr",), ("es",), ("pt",), ("tr", "es"), ("pt", "es")]))
def test_national_tables_pick_the_cheapest_pair(text: str, tables: tuple[str, ...]) -> None:
    seg = segment(text, shift_tables=tables)
    _check(seg, text)
    ids = [LANGUAGES[t] for t in tables]
    options = []
    for lock in [0, *ids]:
        for single in [0, *ids]:
            costs = gsm_costs(text, lock, single) if lock in (0, 1, 3) else None
            if costs is not None:
                n = (lock != 0) + (single != 0)
                one, many = LIMITS[Encoding.GSM7, 8, n]
                options.append(len(greedy(costs, one, many)))
    if options:
        assert seg.encoding is Encoding.GSM7
        assert seg.segments == min(options)
    else:
        assert seg.encoding is Encoding.UCS2


# --- golden cases at every boundary ---------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units"),
    [
        ("", Encoding.GSM7, (0,)),
        ("a" * 160, Encoding.GSM7, (160,)),
        ("a" * 161, Encoding.GSM7, (153, 8)),
        ("€" * 80, Encoding.GSM7, (160,)),
        # 161 septets: 76 euros fill 152, the 77th would be cut after its ESC.
        ("€" * 80 + "a", Encoding.GSM7, (152, 9)),
        ("a" * 306, Encoding.GSM7, (153, 153)),
        ("a" * 307, Encoding.GSM7, (153, 153, 1)),
        # 306 septets, yet 3 parts: the euro straddles the 153 boundary.
        ("a" * 152 + "€" + "a" * 152, Encoding.GSM7, (152, 153, 1)),
        ("a" * 153 + "€" + "a" * 151, Encoding.GSM7, (153, 153)),
        ("ж" * 70, Encoding.UCS2, (70,)),
        ("ж" * 71, Encoding.UCS2, (67, 4)),
        ("😀" * 35, Encoding.UCS2, (70,)),
        ("ж" * 134, Encoding.UCS2, (67, 67)),
        # 134 units, yet 3 parts: the emoji straddles the 67 boundary.
        ("ж" * 66 + "😀" + "ж" * 66, Encoding.UCS2, (66, 67, 1)),
        ("ж" * 67 + "😀" + "ж" * 65, Encoding.UCS2, (67, 67)),
    ],
)
def test_boundaries(text: str, encoding: Encoding, units: tuple[int, ...]) -> None:
    seg = segment(text)
    assert seg.encoding is encoding
    assert seg.units_per_part == units
    assert seg.segments == len(units)
    _check(seg, text)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("a" * 304, (152, 152)),
        ("a" * 305, (152, 152, 1)),
        ("a" * 151 + "€" + "a" * 151, (151, 152, 1)),
        ("ж" * 132, (66, 66)),
        ("ж" * 133, (66, 66, 1)),
        ("ж" * 65 + "😀" + "ж" * 4, (65, 6)),
    ],
)
def test_boundaries_with_16_bit_references(text: str, units: tuple[int, ...]) -> None:
    assert segment(text, reference_bits=16).units_per_part == units


def test_255_parts_and_no_more() -> None:
    assert segment("a" * 153 * 255).segments == 255
    assert segment("ж" * 67 * 255).segments == 255
    for text in ("a" * (153 * 255 + 1), "ж" * (67 * 255 + 1), "a" * 100_000):
        with pytest.raises(MessageTooLong, match="255"):
            segment(text)
    # 255 * 153 septets of euros cannot fit: each part holds 76 of them.
    with pytest.raises(MessageTooLong):
        segment("€" * (76 * 255 + 1))
    assert segment("€" * (76 * 255)).segments == 255


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x1b", "\t", "‘", "’", "“", "”", "`", "ç", "Α", "Β", "Ε", "Η", "Κ", "Ο", "Ρ", "Τ", "Χ"],
)
def test_characters_outside_the_gsm_tables_force_ucs2(char: str) -> None:
    assert segment("Hello " + char).encoding is Encoding.UCS2
    assert segment("Hello " + char + " " * 200).encoding is Encoding.UCS2


@pytest.mark.parametrize("char", ["\f", "^", "{", "}", "\\", "[", "~", "]", "|", "€"])
def test_extension_characters_cost_two_septets(char: str) -> None:
    seg = segment(char * 80)
    assert (seg.encoding, seg.units_per_part) == (Encoding.GSM7, (160,))
    assert segment("a" + char * 80).segments == 2


def test_every_default_alphabet_character_costs_one_septet() -> None:
    basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    assert len(basic) == 127
    seg = segment(basic)
    assert (seg.encoding, seg.units_per_part) == (Encoding.GSM7, (127,))


def test_unpaired_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        segment("ж\ud83d")


def test_bad_reference_bits() -> None:
    with pytest.raises(ValueError):
        segment("a", reference_bits=12)


# --- national language tables (TS 23.038 Annex A) ---------------------------


def test_national_capacities_155_149_146() -> None:
    # Spanish has only a single shift table: "á" is ESC + 0x61 (A.2.2).
    one = segment("á" + "a" * 153, shift_tables=("es",))
    assert (one.single_shift, one.locking_shift, one.units_per_part) == (2, 0, (155,))
    two = segment("á" + "a" * 154, shift_tables=("es",))
    assert two.units_per_part == (149, 7)
    # "ı" only in Turkish tables, "á" only in the Spanish one: Turkish locking
    # plus Spanish single shift, two elements in every UDH.
    both = segment("ıá" + "a" * 149, shift_tables=("tr", "es"))
    assert (both.locking_shift, both.single_shift, both.units_per_part) == (1, 2, (152,))
    assert segment("ıá" + "a" * 150, shift_tables=("tr", "es")).units_per_part == (146, 7)


def test_turkish_nine_ucs2_segments_become_four() -> None:
    sentence = "Şu güzel Iğdırlı çocuk öğretmenini çok seviyor ve ona her gün çiçek getiriyor. "
    text = (sentence * 8)[:590]
    plain = segment(text)
    assert (plain.encoding, plain.segments) == (Encoding.UCS2, 9)
    turkish = segment(text, shift_tables=("tr",))
    assert (turkish.encoding, turkish.segments, turkish.locking_shift) == (Encoding.GSM7, 4, 1)
    assert turkish.units_per_part == (149, 149, 149, 143)


def test_default_tables_win_ties() -> None:
    seg = segment("plain text", shift_tables=("tr", "es", "pt"))
    assert (seg.locking_shift, seg.single_shift, seg.units_per_part) == (0, 0, (10,))


def test_unknown_shift_table() -> None:
    with pytest.raises(ValueError, match="xx"):
        segment("a", shift_tables=("xx",))


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_language_is_usable(code: str) -> None:
    seg = segment("hello", shift_tables=(code,))
    assert seg.encoding is Encoding.GSM7


def test_hindi_locking_table() -> None:
    text = "नमस्ते, आप कैसे हैं?"
    assert segment(text).encoding is Encoding.UCS2
    seg = segment(text, shift_tables=("hi",))
    assert (seg.encoding, seg.locking_shift) == (Encoding.GSM7, 6)
    assert seg.units_per_part == (len(text),)


# --- price -------------------------------------------------------------------


def test_price_is_exact_decimal() -> None:
    seg = segment("a" * 152 + "€" + "a" * 152)
    assert price(seg, Decimal("0.0525")) == Decimal("0.1575")
    assert price(seg, "0.1") == Decimal("0.3000")
    assert str(price(segment("x"), 1)) == "1.0000"
    # 3 x 0.00005 = 0.00015 -> 0.0002 (half up)
    assert price(seg, "0.00005") == Decimal("0.0002")


def test_price_refuses_floats_and_nonsense() -> None:
    seg = segment("x")
    with pytest.raises(TypeError):
        price(seg, 0.1)  # type: ignore[arg-type]
    for bad in ("-1", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            price(seg, bad)
