"""Differential tests against smpplib.gsm.make_parts: agree where it is right, document where not.

smpplib 2.2.4 encodes with its own GSM table and splits the *encoded bytes*
every 153 (GSM) or 134 (UCS-2) octets. That is right for texts where every
character costs one unit, and wrong otherwise -- each claim below is asserted
against smpplib itself, so the test fails if smpplib changes.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmenter import Encoding, Profile, segment

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    smpplib_gsm = pytest.importorskip("smpplib.gsm")

UDH8 = 6


def _ours(text: str) -> tuple[int, list[bytes]]:
    seg = segment(text)
    return (0 if seg.encoding is Encoding.GSM7 else 8), [
        p.short_message[UDH8:] if seg.segments > 1 else p.short_message
        for p in seg.payloads(0, Profile())
    ]


def _theirs(text: str) -> tuple[int, list[bytes]]:
    parts, encoding, _esm = smpplib_gsm.make_parts(text)
    return encoding, [p[UDH8:] if len(parts) > 1 else p for p in parts]


# One-septet GSM characters smpplib also knows (its table lacks "§" and
# treats "`" as a GSM character, see below) and BMP-only UCS-2 text.
_SIMPLE_GSM = "abcXYZ0189 .,!?@$_£¥èéÄÖÑÜäöñüàΔΩ\n\r"


@given(st.text(alphabet=_SIMPLE_GSM, max_size=800))
def test_agrees_on_one_septet_gsm_text(text: str) -> None:
    assert _ours(text) == _theirs(text)


@given(st.text(alphabet="жщяабв abc,.", max_size=400).map(lambda s: "ж" + s))
def test_agrees_on_bmp_ucs2_text(text: str) -> None:
    assert _ours(text) == _theirs(text)


def test_agrees_on_extension_characters_inside_a_part() -> None:
    assert _ours("price: 5€ {ok}") == _theirs("price: 5€ {ok}")


def test_smpplib_cuts_an_escape_sequence() -> None:
    text = "a" * 152 + "€" + "a" * 152
    encoding, parts = _theirs(text)
    assert encoding == 0 and len(parts) == 2
    assert parts[0].endswith(b"\x1b")  # ESC at the end of part 1 ...
    assert parts[1].startswith(b"\x65")  # ... and 0x65 ("e") opening part 2
    # Ours: three parts, the euro whole in the second.
    seg = segment(text)
    assert seg.units_per_part == (152, 153, 1) and seg.parts[1].startswith("€")


def test_smpplib_cuts_a_surrogate_pair() -> None:
    text = "ж" * 66 + "😀" + "ж" * 66
    encoding, parts = _theirs(text)
    assert encoding == 8 and len(parts) == 2
    assert parts[0][-2:] == b"\xd8\x3d"  # high surrogate ends part 1
    assert parts[1][:2] == b"\xde\x00"  # low surrogate opens part 2
    with pytest.raises(UnicodeDecodeError):
        parts[0].decode("utf-16-be")
    assert segment(text).units_per_part == (66, 67, 1)


def test_smpplib_table_has_a_backtick_where_the_section_sign_belongs() -> None:
    # TS 23.038 6.2.1: 0x5F is the section sign. smpplib's table has "`"
    # there, so "`" goes out as 0x5F (a handset shows "§") and "§" is not
    # GSM to smpplib (it falls back to UCS-2).
    assert smpplib_gsm.GSM_CHARACTER_TABLE[0x5F] == "`"
    assert smpplib_gsm.make_parts("`")[:2] == ([b"\x5f"], 0)
    assert smpplib_gsm.make_parts("§")[1] == 8
    assert segment("`").encoding is Encoding.UCS2
    assert segment("§").encoding is Encoding.GSM7
    assert segment("§").payloads(0, Profile())[0].short_message == b"\x5f"


def test_smpplib_sends_a_raw_escape_as_gsm() -> None:
    # Its table lists ESC (0x1B) as a character; a lone ESC is not text.
    assert smpplib_gsm.make_parts("\x1b")[:2] == ([b"\x1b"], 0)
    assert segment("\x1b").encoding is Encoding.UCS2
