"""``bridge.store.e164.parse`` against its oracle, ``phonenumbers.parse(text, None)``.

The fast path must give the library's number (every field: country code,
national number, Italian leading zeros) or the library's exception, for
E.164-looking input and for input near it (other lengths, a leading 0,
national prefixes, country codes of shared plans such as +1 and +7, Italy's
leading zeros, non-geographic codes).
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import e164
from bridge.store.plan import parse_number

# Country calling codes with a national prefix, shared plans, leading zeros,
# non-geographic numbering, and unassigned codes.
_CODES = ["1", "7", "20", "33", "39", "44", "49", "52", "54", "55", "60", "61", "62", "65", "81", "86",
          "91", "225", "242", "379", "800", "808", "870", "882", "883", "888", "979", "999", "0", "28"]  # fmt: skip


def _oracle(text: str) -> phonenumbers.PhoneNumber | str:
    try:
        return phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        return f"error {exc.error_type}"


def _fast(text: str) -> phonenumbers.PhoneNumber | str:
    try:
        return e164.parse(text)
    except phonenumbers.NumberParseException as exc:
        return f"error {exc.error_type}"


def _same(text: str) -> None:
    got, want = _fast(text), _oracle(text)
    assert got == want, text
    if isinstance(want, phonenumbers.PhoneNumber):
        assert isinstance(got, phonenumbers.PhoneNumber)
        # PhoneNumber's == compares these too; said here so a change of it shows
        assert (got.italian_leading_zero, got.number_of_leading_zeros) == (
            want.italian_leading_zero, want.number_of_leading_zeros)  # fmt: skip


@given(st.sampled_from(_CODES), st.text("0123456789", min_size=0, max_size=16))
@settings(max_examples=3000, deadline=None)
def test_plus_digits_as_the_library(code: str, rest: str) -> None:
    _same("+" + code + rest)


@given(st.text("0123456789", min_size=0, max_size=18))
@settings(max_examples=2000, deadline=None)
def test_any_plus_digits_as_the_library(digits: str) -> None:
    _same("+" + digits)


@given(st.text("+0123456789 -().x#", max_size=20))
@settings(max_examples=1000, deadline=None)
def test_other_text_as_the_library(text: str) -> None:
    _same(text)


@pytest.mark.parametrize(
    "text",
    ["+60123456789", "+600123456789", "+390612345678", "+3903123456", "+14155552671", "+79123456789",
     "+447911123456", "+4407911123456", "+80012345678", "+5491123456789", "+6591234567", "+000123456789",
     "+1234567", "+123456789012345", "+1234567890123456"],
)  # fmt: skip
def test_known_numbers_as_the_library(text: str) -> None:
    _same(text)


@given(st.sampled_from(_CODES), st.text("0123456789", min_size=4, max_size=13))
@settings(max_examples=1000, deadline=None)
def test_parse_number_as_before(code: str, rest: str) -> None:
    """``parse_number``: valid, E.164 form and region exactly as with the library's own calls."""
    text = "+" + code + rest
    want = None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        want = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                phonenumbers.region_code_for_number(parsed))  # fmt: skip
    got = parse_number(text)
    assert (None if got is None else (got.e164, got.country)) == want
