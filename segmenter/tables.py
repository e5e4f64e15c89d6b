"""GSM 7-bit character tables: 3GPP TS 23.038 section 6.2.1 and Annex A.

A table is a string of 128 characters indexed by septet value. NUL marks a
cell the spec leaves unassigned (no table assigns U+0000: NUL is not
sendable); index 0x1B is the escape to the single shift table and is never a
character, whatever the table string holds there.

Locking shift tables replace the default alphabet for the whole message;
single shift tables replace the extension table (characters reached with
ESC, 2 septets each). Both are announced in the UDH (TS 23.040 9.2.3.24.15
and 9.2.3.24.16) by their national language identifier (TS 23.038 6.2.1.2.4).

We do not use the gsmcodecs package: its Kannada locking table has PA at both
0x24 and 0x3D (DDA is missing), see tables_indic.py and the tests.
"""

from __future__ import annotations

from segmenter.tables_indic import INDIC_LOCKING, INDIC_SINGLE

__all__ = ["ESC", "LANGUAGES", "LOCKING", "SINGLE"]

ESC = 0x1B

# TS 23.038 6.2.1: the GSM 7 bit default alphabet. 0x1B (ESC) is NUL here.
_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# TS 23.038 A.3.1: Turkish locking shift table.
_TURKISH_LOCKING = (
    "@£$¥€éùıòÇ\nĞğ\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ŞşßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "İABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "çabcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# TS 23.038 A.3.3: Portuguese locking shift table.
_PORTUGUESE_LOCKING = (
    "@£$¥êéúíóç\nÔô\rÁá"
    "Δ_ªÇÀ∞^\\€Ó|\x00ÂâÊÉ"
    " !\"#º%&'()*+,-./"
    "0123456789:;<=>?"
    "ÍABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÃÕÚÜ§"
    "~abcdefghijklmno"
    "pqrstuvwxyzãõ`üà"
)


def _sparse(cells: dict[int, str]) -> str:
    table = ["\x00"] * 128
    for code, char in cells.items():
        table[code] = char
    return "".join(table)


# TS 23.038 6.2.1.1: the default extension table (form feed, ^ { } \ [ ~ ] | and
# the euro sign). 0x0D (CR2) and 0x1B (SS2) are control functions we never send.
_EXTENSION_CELLS = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}
_DEFAULT_EXTENSION = _sparse(_EXTENSION_CELLS)

# TS 23.038 A.2.1: Turkish single shift table.
_TURKISH_SINGLE = _sparse(
    _EXTENSION_CELLS
    | {0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş"}
)

# TS 23.038 A.2.2: Spanish single shift table (there is no Spanish locking table).
_SPANISH_SINGLE = _sparse(
    _EXTENSION_CELLS
    | {0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú",
       0x61: "á", 0x69: "í", 0x6F: "ó", 0x75: "ú"}
)

# TS 23.038 A.2.3: Portuguese single shift table.
_PORTUGUESE_SINGLE = _sparse(
    _EXTENSION_CELLS
    | {0x05: "ê", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô", 0x0E: "Á", 0x0F: "á",
       0x12: "Φ", 0x13: "Γ", 0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ",
       0x1F: "Ê", 0x41: "À", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x5B: "Ã", 0x5C: "Õ",
       0x61: "Â", 0x69: "í", 0x6F: "ó", 0x75: "ú", 0x7B: "ã", 0x7C: "õ", 0x7F: "â"}
)

# National language identifier (TS 23.038 6.2.1.2.4) -> table. 0 is the default.
LOCKING: dict[int, str] = {0: _DEFAULT, 1: _TURKISH_LOCKING, 3: _PORTUGUESE_LOCKING} | INDIC_LOCKING
SINGLE: dict[int, str] = {
    0: _DEFAULT_EXTENSION,
    1: _TURKISH_SINGLE,
    2: _SPANISH_SINGLE,
    3: _PORTUGUESE_SINGLE,
} | INDIC_SINGLE

# ISO 639-1 code -> national language identifier (TS 23.038 6.2.1.2.4).
LANGUAGES: dict[str, int] = {
    "tr": 1, "es": 2, "pt": 3, "bn": 4, "gu": 5, "hi": 6, "kn": 7,
    "ml": 8, "or": 9, "pa": 10, "ta": 11, "te": 12, "ur": 13,
}
