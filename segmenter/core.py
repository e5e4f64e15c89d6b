"""Choosing the encoding and splitting a text into SMS segments.

Rules (3GPP TS 23.038 6.2.1, TS 23.040 9.2.3.24.1):
- GSM-7 when every character is in the default alphabet or its extension
  table (extension characters cost 2 septets: ESC + code); otherwise UCS-2,
  where a character outside the BMP costs 2 UTF-16 code units.
- One segment holds 160 septets / 70 units (140 octets). Concatenated parts
  carry a UDH: 6 octets with an 8-bit reference (IEI 0x00), 7 with a 16-bit
  one (IEI 0x08), leaving 153 / 67 or 152 / 66. National language tables
  (opt-in) add 3 octets per table (TS 23.040 9.2.3.24.15/16) to every part.
- Fill greedily; never split an escape sequence or a surrogate pair. Greedy
  is minimal: every part but the last is as long as it can be.

The common path (default alphabet) does no per-character Python work: a
regex finds a character outside the alphabet, ``str.translate`` doubles the
extension characters, and the split points are found once per part.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import msgspec

from segmenter.alphabet import ESC_SLOT, Alphabet, alphabet, escape_slots, extended_count
from segmenter.tables import LANGUAGES

if TYPE_CHECKING:
    from segmenter.payload import PartPayload
    from segmenter.profile import Profile

__all__ = ["Encoding", "MessageTooLong", "Segmentation", "capacity", "price", "segment"]

# TS 23.040 9.2.3.24.1: the number of parts is one octet.
MAX_PARTS = 255


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


class MessageTooLong(ValueError):
    """The text needs more parts than allowed (255 by TS 23.040, or a carrier's limit)."""


def udh_octets(*, concatenated: bool, reference_bits: int, tables: int) -> int:
    """Octets of the UDH including its length octet (TS 23.040 9.2.3.24)."""
    ies = (5 if reference_bits == 8 else 6) if concatenated else 0
    ies += 3 * tables
    return ies + 1 if ies else 0


def capacity(encoding: Encoding, *, concatenated: bool, reference_bits: int = 8,
             tables: int = 0) -> int:
    """Septets (GSM-7) or UTF-16 units (UCS-2) one part holds.

    140 octets of user data; a UDH takes whole octets, and GSM-7 septets start
    on a septet boundary after it (TS 23.040 9.2.3.24: fill bits).
    """
    udh = udh_octets(concatenated=concatenated, reference_bits=reference_bits, tables=tables)
    if encoding is Encoding.GSM7:
        return 160 - (udh * 8 + 6) // 7
    return (140 - udh) // 2


# (single, concatenated) capacities, precomputed: [encoding][reference_bits][tables]
_CAPS = {
    (enc, bits, tables): (
        capacity(enc, concatenated=False, reference_bits=bits, tables=tables),
        capacity(enc, concatenated=True, reference_bits=bits, tables=tables),
    )
    for enc in Encoding
    for bits in (8, 16)
    for tables in (0, 1, 2)
}


class Segmentation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """How one text is split: what is billed and what is sent."""

    encoding: Encoding
    segments: int
    # The text of each part exactly as split; "".join(parts) is the text.
    parts: tuple[str, ...]
    # Septets (GSM-7, ESC included) or UTF-16 code units (UCS-2) per part.
    units_per_part: tuple[int, ...]
    reference_bits: int = 8
    # National language identifiers (TS 23.038 6.2.1.2.4); 0 = default tables.
    locking_shift: int = 0
    single_shift: int = 0

    @property
    def units(self) -> int:
        return sum(self.units_per_part)

    @property
    def tables(self) -> int:
        return (self.locking_shift != 0) + (self.single_shift != 0)

    def payloads(self, ref: int, profile: Profile) -> tuple[PartPayload, ...]:
        """The submit_sm fields of each part for a carrier's profile (segmenter.payload)."""
        from segmenter.payload import build_payloads

        return build_payloads(self, ref, profile)


_DEFAULT = alphabet(0, 0)
# ASCII bytes of the default alphabet that cost one septet: deleting them from
# an ASCII text leaves only extension characters and characters outside GSM.
_ASCII_BASIC = bytes(sorted(ord(c) for c in _DEFAULT.basic if ord(c) < 0x80))
_ASCII_EXTENSION = bytes(sorted(ord(c) for c in _DEFAULT.extended if ord(c) < 0x80))
_ESC = ESC_SLOT


def _too_long(needed: int, limit: int = MAX_PARTS) -> MessageTooLong:
    return MessageTooLong(
        f"message needs {needed} segments; the limit is {limit} "
        "(TS 23.040 9.2.3.24.1: the part count is one octet)"
    )


def _arithmetic(text: str, size: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    # Every character costs one unit: the parts are plain slices.
    parts = tuple([text[i : i + size] for i in range(0, len(text), size)])
    return parts, (size,) * (len(parts) - 1) + (len(text) - size * (len(parts) - 1),)


def _split_escaped(text: str, escaped: bytes, size: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Greedy split when some characters cost 2 units.

    ``escaped`` has one byte per unit, with ESC_SLOT as the first byte of every
    2-unit character (a GSM-7 extension: ESC + code; a UCS-2 character
    outside the BMP: a surrogate pair). A part never ends on that byte, so an
    escape sequence or a surrogate pair is never cut (TS 23.038 6.2.1.1,
    TS 23.038 6.2.3). Each part is then a slice of the text: no decoding.
    """
    parts: list[str] = []
    units: list[int] = []
    total = len(escaped)
    pos = char = 0
    while pos < total:
        end = pos + size
        if end < total and escaped[end - 1] == _ESC:
            end -= 1
        end = min(end, total)
        chars = end - pos - escaped.count(_ESC, pos, end)
        parts.append(text[char : char + chars])
        units.append(end - pos)
        pos, char = end, char + chars
    return tuple(parts), tuple(units)


def _gsm(text: str, slots: bytes | None, single: int, multi: int, bits: int,
         locking: int = 0, shift: int = 0) -> Segmentation:
    """Split a GSM-7 text; ``slots`` is None when every character costs 1 septet."""
    extended = 0 if slots is None else extended_count(slots)
    total = len(text) + extended
    if total <= single:
        return Segmentation(encoding=Encoding.GSM7, segments=1, parts=(text,),
                            units_per_part=(total,), reference_bits=bits,
                            locking_shift=locking, single_shift=shift)
    if -(-total // multi) > MAX_PARTS:  # a lower bound: fail before splitting a huge text
        raise _too_long(-(-total // multi))
    if not extended:
        parts, units = _arithmetic(text, multi)
    else:
        assert slots is not None
        parts, units = _split_escaped(text, escape_slots(slots), multi)
    if len(parts) > MAX_PARTS:
        raise _too_long(len(parts))
    return Segmentation(encoding=Encoding.GSM7, segments=len(parts), parts=parts,
                        units_per_part=units, reference_bits=bits,
                        locking_shift=locking, single_shift=shift)


def _ucs2(text: str, bits: int) -> Segmentation:
    single, multi = _CAPS[Encoding.UCS2, bits, 0]
    try:
        # UTF-32 gives one 4-byte group per character; its third byte is the
        # plane, non-zero exactly for the characters that need a surrogate
        # pair (2 UTF-16 units) in UCS-2/UTF-16.
        planes = text.encode("utf-32-le")[2::4]
    except UnicodeEncodeError as exc:
        raise ValueError(f"text has an unpaired surrogate at index {exc.start}") from None
    astral_planes = planes.translate(None, b"\x00")
    astral = len(astral_planes)
    total = len(text) + astral
    if total <= single:
        return Segmentation(encoding=Encoding.UCS2, segments=1, parts=(text,),
                            units_per_part=(total,), reference_bits=bits)
    if -(-total // multi) > MAX_PARTS:
        raise _too_long(-(-total // multi))
    if not astral:
        parts, units = _arithmetic(text, multi)
    else:
        escaped = planes
        for plane in set(astral_planes):
            escaped = escaped.replace(bytes((plane,)), bytes((_ESC, plane)))
        parts, units = _split_escaped(text, escaped, multi)
    if len(parts) > MAX_PARTS:
        raise _too_long(len(parts))
    return Segmentation(encoding=Encoding.UCS2, segments=len(parts), parts=parts,
                        units_per_part=units, reference_bits=bits)


def segment(text: str, *, reference_bits: int = 8,
            shift_tables: tuple[str, ...] = ()) -> Segmentation:
    """Split ``text`` into the fewest SMS segments.

    ``reference_bits`` is the concatenation reference size the carrier uses
    (8 or 16); ``shift_tables`` the national language tables it allows, as
    ISO 639-1 codes ("tr", "es", "pt", "hi", ...). Raises MessageTooLong past
    255 parts and ValueError for an unpaired surrogate.
    """
    if reference_bits != 8 and reference_bits != 16:
        raise ValueError(f"reference_bits must be 8 or 16, not {reference_bits!r}")
    if shift_tables:
        return _national(text, reference_bits, shift_tables)
    single, multi = _CAPS[Encoding.GSM7, reference_bits, 0]
    if text.isascii():
        # One C pass: delete the one-septet characters; what is left (usually
        # nothing) is extension characters or characters outside GSM.
        rest = text.encode("ascii").translate(None, _ASCII_BASIC)
        if not rest:
            return _gsm(text, None, single, multi, reference_bits)
        if rest.translate(None, _ASCII_EXTENSION):
            return _ucs2(text, reference_bits)
    slots = _DEFAULT.slots(text)
    if slots is None:
        return _ucs2(text, reference_bits)
    return _gsm(text, slots, single, multi, reference_bits)


def _candidates(shift_tables: tuple[str, ...]) -> list[Alphabet]:
    ids = []
    for code in shift_tables:
        try:
            ids.append(LANGUAGES[code])
        except KeyError:
            known = ", ".join(sorted(LANGUAGES))
            raise ValueError(f"unknown shift table {code!r}; known: {known}") from None
    from segmenter.tables import LOCKING, SINGLE

    lockings = [0] + [i for i in ids if i in LOCKING]
    singles = [0] + [i for i in ids if i in SINGLE]
    return [alphabet(lock, single) for lock in lockings for single in singles]


def _national(text: str, bits: int, shift_tables: tuple[str, ...]) -> Segmentation:
    # TS 23.038 6.2.1.2.4: try every allowed (locking, single shift) pair and
    # keep the cheapest: fewest segments, then fewest UDH elements (more
    # handsets understand it), then fewest septets.
    best: Segmentation | None = None
    too_long: MessageTooLong | None = None
    for abc in _candidates(shift_tables):
        slots = abc.slots(text)
        if slots is None:
            continue
        single, multi = _CAPS[Encoding.GSM7, bits, abc.tables]
        try:
            seg = _gsm(text, slots, single, multi, bits, abc.locking, abc.single)
        except MessageTooLong as exc:
            too_long = exc
            continue
        if best is None or (seg.segments, seg.tables, seg.units) < (
            best.segments, best.tables, best.units
        ):
            best = seg
    if best is not None:
        return best
    if too_long is not None:
        raise too_long
    return _ucs2(text, bits)


_PRICE_QUANTUM = Decimal("0.0001")


def price(segmentation: Segmentation, rate: Decimal | int | str) -> Decimal:
    """Segments x rate per segment, exact, to 4 decimal places (half up).

    Floats are refused: a binary fraction is not a price.
    """
    if isinstance(rate, float):
        raise TypeError("rate must be a Decimal, int or str, never a float")
    value = Decimal(rate)
    if not value.is_finite() or value < 0:
        raise ValueError(f"rate must be a finite, non-negative amount, not {rate!r}")
    return (value * segmentation.segments).quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_UP)
