"""``phonenumbers.parse(text, None)`` for the usual input, ``+`` and digits only, in a third of the time.

``phonenumbers.parse`` first works out what part of free text is a number:
it looks for the number's start and end, a ``phone-context``, an extension,
an international dialling prefix, letters and non-ASCII digits, each with
regular expressions, about 9 us a number on the development machine (half
of what validating a number costs, and a number is parsed for every
recipient of a send). A destination in E.164 form, ``+`` and 7 to 15 ASCII
digits, has none of those: for it ``parse`` ends in the steps below
(country calling code, national prefix, length, Italian leading zeros), run
here directly, 2.8 us. Any other text, and a number those steps would refuse
(no country calling code), goes to ``phonenumbers.parse`` unchanged, so the
result and the exceptions are the library's own; tests/store/test_e164.py
checks the two against each other.

The steps are ``phonenumbers``' own functions (``phonenumberutil``), in the
order its ``parse`` calls them (phonenumbers 9.x).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import phonenumberutil as _util
from phonenumbers.phonemetadata import PhoneMetadata

__all__ = ["parse"]

# E.164: at most 15 digits (ITU-T E.164 section 6.1); fewer than 7 go the long way.
_PLUS_DIGITS = re.compile(r"\+[0-9]{7,15}")
# A national number after the national prefix is stripped only when its length
# stays possible for the region (as in ``parse``).
_KEEP_UNSTRIPPED = (
    _util.ValidationResult.TOO_SHORT,
    _util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    _util.ValidationResult.INVALID_LENGTH,
)


def _plus_digits(text: str) -> phonenumbers.PhoneNumber | None:
    """``parse``'s result for ``+`` and digits, or None where only ``parse`` can say."""
    country_code, national = _util._extract_country_code(text[1:])
    if country_code == 0:
        return None  # parse raises INVALID_COUNTRY_CODE: let it
    number = phonenumbers.PhoneNumber(country_code=country_code)
    region = _util.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is not None:
        _, stripped, _ = _util._maybe_strip_national_prefix_carrier_code(national, metadata)
        if _util._test_number_length(stripped, metadata) not in _KEEP_UNSTRIPPED:
            national = stripped
    if not _util._MIN_LENGTH_FOR_NSN <= len(national) <= _util._MAX_LENGTH_FOR_NSN:
        return None  # parse raises TOO_SHORT_NSN / TOO_LONG: let it
    _util._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def parse(text: str) -> phonenumbers.PhoneNumber:
    """``phonenumbers.parse(text, None)``: the same number, or the same ``NumberParseException``."""
    if _PLUS_DIGITS.fullmatch(text):
        number = _plus_digits(text)
        if number is not None:
            return number
    return phonenumbers.parse(text, None)
