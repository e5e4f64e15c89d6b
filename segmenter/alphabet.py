"""One GSM 7-bit alphabet: a locking shift table plus a single shift table.

Everything a hot path needs is precomputed once per (locking, single) pair,
so classifying a text is one pass in C: ``codecs.charmap_encode`` with an
EncodingMap turns each character into one byte -- a "slot" that says which
septet it is and whether it needs the escape (high bit set) -- or fails on
the first character the pair cannot encode. No per-character Python loops.

Slots: septet code ``c`` of the locking table is byte ``c + 1`` below the
escape (0x1B) and ``c`` above it, so the slots are 0x01-0x7F; the single
shift table uses the same slots plus 0x80. Byte 0x00 must stay U+0000 for
CPython to build a fast EncodingMap (NUL itself is refused before
encoding), and byte 0x80 marks the escape in an escaped stream.
"""

from __future__ import annotations

import codecs
from functools import cache
from typing import Any

from segmenter.tables import ESC, LOCKING, SINGLE

__all__ = ["ESC_SLOT", "Alphabet", "alphabet", "pack_septets", "unpack_septets"]

CR = 0x0D
ESC_SLOT = 0x80
_UNMAPPED = "\ufffe"  # charmap_build's "no character here"
_SINGLE_BYTES = [bytes((b,)) for b in range(256)]
_ESCAPED_BYTES = [bytes((0x80, b)) for b in range(256)]
_LOW_SLOTS = bytes(range(0x80))


def _slot(code: int) -> int:
    return code + 1 if code < ESC else code


# slot byte -> septet byte (ESC for the escape marker)
_SLOT_TO_SEPTET = bytearray(256)
for _code in range(0x80):
    if _code != ESC:
        _SLOT_TO_SEPTET[_slot(_code)] = _code
        _SLOT_TO_SEPTET[0x80 + _slot(_code)] = _code
_SLOT_TO_SEPTET[ESC_SLOT] = ESC
SLOT_TO_SEPTET = bytes(_SLOT_TO_SEPTET)


class Alphabet:
    """The characters of one (locking, single shift) pair and their septets."""

    __slots__ = ("basic", "cmap", "decode_map", "extended", "locking", "single")

    def __init__(self, locking: int, single: int) -> None:
        self.locking = locking
        self.single = single
        lock_table, single_table = LOCKING[locking], SINGLE[single]
        slots = [_UNMAPPED] * 256
        slots[0] = "\x00"
        basic: set[str] = set()
        extended: set[str] = set()
        for code, c in enumerate(lock_table):
            if c != "\x00" and code != ESC:
                slots[_slot(code)] = c
                basic.add(c)
        for code, c in enumerate(single_table):
            # A character in both tables costs 1 septet from the locking table;
            # where a single shift table lists one twice (the Indian tables have
            # "*" and "\u00a1" twice), the first code is used.
            if c != "\x00" and code != ESC and c not in basic and c not in extended:
                slots[0x80 + _slot(code)] = c
                extended.add(c)
        self.basic = frozenset(basic)
        self.extended = frozenset(extended)
        self.cmap: Any = codecs.charmap_build("".join(slots))
        self.decode_map = (lock_table, single_table)

    @property
    def tables(self) -> int:
        """How many UDH information elements announce this pair (0, 1 or 2)."""
        return (self.locking != 0) + (self.single != 0)

    def slots(self, text: str) -> bytes | None:
        """One slot byte per character, or None when the pair cannot encode the text."""
        if "\x00" in text:
            return None
        try:
            return codecs.charmap_encode(text, "strict", self.cmap)[0]
        except UnicodeEncodeError:
            return None

    def encodes(self, text: str) -> bool:
        return self.slots(text) is not None

    def septets(self, text: str) -> bytes:
        """The septets of an encodable text, one per byte (ESC before extensions)."""
        slots = self.slots(text)
        if slots is None:
            raise ValueError("text is not encodable in this alphabet")
        return escape_slots(slots).translate(SLOT_TO_SEPTET)

    def decode(self, septets: bytes) -> str:
        """Septets (one per byte) back to text; ValueError on unassigned codes."""
        lock_table, single_table = self.decode_map
        out: list[str] = []
        escaped = False
        for s in septets:
            if s > 0x7F:
                raise ValueError(f"not a septet: 0x{s:02X}")
            if escaped:
                c = single_table[s]
                escaped = False
            elif s == ESC:
                escaped = True
                continue
            else:
                c = lock_table[s]
            if c == "\x00":
                raise ValueError(f"septet 0x{s:02X} is not assigned in this table")
            out.append(c)
        if escaped:
            raise ValueError("septets end inside an escape sequence")
        return "".join(out)


def extended_count(slots: bytes) -> int:
    """How many characters need the escape (2 septets)."""
    return 0 if slots.isascii() else len(slots.translate(None, _LOW_SLOTS))


def escape_slots(slots: bytes) -> bytes:
    """Put ESC_SLOT before every extension slot: the length is then the septet count."""
    if slots.isascii():
        return slots
    # One bytes.replace per distinct extension character (a handful at most):
    # C speed, unlike re.sub, whose template is expanded in Python per match.
    for slot in set(slots.translate(None, _LOW_SLOTS)):
        slots = slots.replace(_SINGLE_BYTES[slot], _ESCAPED_BYTES[slot])
    return slots


@cache
def alphabet(locking: int = 0, single: int = 0) -> Alphabet:
    return Alphabet(locking, single)


def pack_septets(septets: bytes, fill_bits: int = 0, max_octets: int = 140) -> bytes:
    """Pack septets 8 into 7 octets, after ``fill_bits`` zero bits (TS 23.038 6.1.2.1.1).

    The fill bits align the first septet after a UDH (TS 23.040 9.2.3.24).
    TS 23.038 6.1.2.3.1: when the last octet would hold 7 spare bits, a
    receiver cannot tell them from an "@", so a CR is sent in them and the
    receiver drops a final CR that ends on an octet boundary. A wanted final CR
    that ends on a boundary therefore gets a second CR (the handset shows
    CR CR, which the spec defines as equal to CR) -- unless that would not fit
    in ``max_octets`` (a full part), where the spec leaves no room.
    """
    total = fill_bits + 7 * len(septets)
    if total % 8 == 1 or (
        total % 8 == 0 and septets[-1:] == bytes((CR,)) and total // 8 < max_octets
    ):
        septets += bytes((CR,))
        total += 7
    value = int.from_bytes(_spread(septets), "little") << fill_bits
    return value.to_bytes((total + 7) // 8, "little")


def _spread(septets: bytes) -> bytes:
    # Septets 8 at a time become 7 octets; done with int arithmetic per group of
    # 8 rather than per bit.
    out = bytearray()
    for i in range(0, len(septets), 8):
        group = septets[i : i + 8]
        value = 0
        for j, s in enumerate(group):
            value |= s << (7 * j)
        out += value.to_bytes(7, "little")
    return bytes(out)


def unpack_septets(octets: bytes, fill_bits: int = 0) -> bytes:
    """The inverse of pack_septets: every whole septet after the fill bits.

    A final CR that ends exactly on an octet boundary is padding and removed
    (TS 23.038 6.1.2.3.1).
    """
    bits = 8 * len(octets) - fill_bits
    count = bits // 7
    value = int.from_bytes(octets, "little") >> fill_bits
    septets = bytes((value >> (7 * i)) & 0x7F for i in range(count))
    if count and bits == 7 * count and septets[-1] == CR:
        septets = septets[:-1]
    return septets
