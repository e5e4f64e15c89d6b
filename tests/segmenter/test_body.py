"""The body character rule (segmenter/body.py): properties and the named cases."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

import segmenter
from segmenter import ForbiddenCharacter, check_body

C0_REFUSED = [chr(c) for c in range(0x20) if chr(c) not in "\n\r\f"]
C1 = [chr(c) for c in range(0x7F, 0xA0)]  # DEL and the C1 controls
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
REFUSED = C0_REFUSED + C1 + BIDI + ["\ud800", "\udfff"]
KEPT_SPECIAL = ["\n", "\r", "\f", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c"]


def refused(char: str) -> bool:
    """The rule written out independently of the implementation's regex."""
    code = ord(char)
    if char in "\n\r\f":
        return False
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
        or 0xD800 <= code <= 0xDFFF
    )


texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
clean_texts = st.text(
    st.one_of(st.characters(exclude_categories=("Cc", "Cs")), st.sampled_from(KEPT_SPECIAL)).filter(
        lambda c: not refused(c)
    ),
    max_size=200,
)


@given(texts)
def test_the_first_refused_character_is_named_with_its_position(text: str) -> None:
    first = next((i for i, c in enumerate(text) if refused(c)), None)
    if first is None:
        check_body(text)
        return
    with pytest.raises(ForbiddenCharacter) as info:
        check_body(text)
    assert info.value.position == first + 1 and info.value.char == text[first]
    assert f"U+{ord(text[first]):04X}" in str(info.value) and f"at character {first + 1}" in str(info.value)


@given(clean_texts, st.sampled_from(REFUSED), clean_texts)
def test_a_refused_character_anywhere_is_found(before: str, bad: str, after: str) -> None:
    with pytest.raises(ForbiddenCharacter) as info:
        check_body(before + bad + after)
    assert info.value.position == len(before) + 1 and info.value.char == bad


@given(clean_texts)
def test_what_the_rule_keeps_segments(text: str) -> None:
    check_body(text)
    seg = segmenter.segment(text)
    assert "".join(seg.parts) == text


@pytest.mark.parametrize("char", KEPT_SPECIAL)
def test_gsm_controls_marks_and_joiners_are_kept(char: str) -> None:
    check_body(f"a{char}b")


def test_gsm_controls_stay_gsm7() -> None:
    # LF and CR are in the GSM 03.38 default alphabet, FF in its extension table.
    assert segmenter.segment("one\ntwo\r\nthree\fpage").encoding is segmenter.Encoding.GSM7


def test_joiners_in_emoji_and_persian() -> None:
    check_body("family \U0001f468\u200d\U0001f469\u200d\U0001f467")  # ZWJ sequence
    check_body("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")  # Persian with ZWNJ
    check_body("\u0915\u094d\u200d\u0937")  # Devanagari with ZWJ


@pytest.mark.parametrize(
    ("char", "words"),
    [
        ("\x07", "BEL, a control character"),
        ("\x1b", "ESC, a control character"),
        ("\t", "replace it with spaces"),
        ("\x00", "NUL"),
        ("\x85", "a C1 control character"),
        ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
        ("\u2066", "LEFT-TO-RIGHT ISOLATE"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_the_error_names_the_character(char: str, words: str) -> None:
    with pytest.raises(ForbiddenCharacter, match=words):
        check_body("code " + char)


def test_the_refused_set_is_exactly_the_documented_one() -> None:
    found = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and _refuses(chr(c))]
    assert found == C0_REFUSED + C1 + BIDI
    assert all(unicodedata.category(c) in ("Cc", "Cf") for c in found)


def _refuses(char: str) -> bool:
    try:
        check_body(char)
    except ForbiddenCharacter:
        return True
    return False
