"""One GSM 7-bit alphabet: a locking shift table plus a single shift table.

Everything a hot path needs is precomputed once per (locking, single) pair:
a compiled regex that finds the first character the pair cannot encode, a
``str.translate`` map that doubles every extension character into ESC + char
(so the translated string's length *is* the septet count and a split point
can be checked for a cut escape by looking at one character), and the
encode/decode maps for the payload bytes. No per-character Python loops.
"""

from __future__ import annotations

import re
from functools import cache

from segmenter.tables import ESC, LOCKING, SINGLE

__all__ = ["Alphabet", "alphabet", "pack_septets", "unpack_septets"]

# The marker placed before an extension character in an "escaped" string. It
# can never be a character of an encodable text: 0x1B is not in any table.
ESC_CHAR = chr(ESC)
CR = 0x0D


class Alphabet:
    """The characters of one (locking, single shift) pair and their septets."""

    __slots__ = (
        "basic", "decode_map", "encode_map", "escape", "extended", "invalid", "locking", "single",
    )

    def __init__(self, locking: int, single: int) -> None:
        self.locking = locking
        self.single = single
        lock_table, single_table = LOCKING[locking], SINGLE[single]
        basic = {c: code for code, c in enumerate(lock_table) if c != "\x00" and code != ESC}
        extended: dict[str, int] = {}
        for code, c in enumerate(single_table):
            # A character in both tables costs 1 septet from the locking table;
            # where a single shift table lists one twice (Indian tables: "*" and
            # "\u00a1"), the first code is used.
            if c != "\x00" and code != ESC and c not in basic and c not in extended:
                extended[c] = code
        self.basic = frozenset(basic)
        self.extended = frozenset(extended)
        allowed = "".join(re.escape(c) for c in sorted(basic.keys() | extended.keys()))
        self.invalid = re.compile(f"[^{allowed}]")
        self.escape = {ord(c): ESC_CHAR + c for c in extended}
        self.encode_map = {ord(c): chr(code) for c, code in basic.items()} | {
            ord(c): ESC_CHAR + chr(code) for c, code in extended.items()
        }
        self.decode_map = (lock_table, single_table)

    @property
    def tables(self) -> int:
        """How many UDH information elements announce this pair (0, 1 or 2)."""
        return (self.locking != 0) + (self.single != 0)

    def encodes(self, text: str) -> bool:
        return self.invalid.search(text) is None

    def septets(self, text: str) -> bytes:
        """The septets of an encodable text, one per byte (ESC before extensions)."""
        return text.translate(self.encode_map).encode("latin-1")

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
