"""Which characters a message body may contain: one rule, checked where the text enters.

``check_body(text)`` raises ``ForbiddenCharacter`` naming the first character
the rule refuses and its position; enqueue (every send, whatever the API or
command it came from) and `smpp-bridge segment` call it. ``segment`` itself
stays total: it splits and prices any text.

The rule (docs/segmenter.md "Which characters a body may hold"):

- Control characters: only the three GSM 03.38 has are kept (TS 23.038
  6.2.1): LF and CR (in the default alphabet) and FF (in the extension
  table, ESC 0x0A: a page break). Every other C0 control (NUL, BEL, TAB,
  ESC, ...), DEL and the C1 controls U+0080-U+009F are refused: a handset
  shows them as boxes or not at all, or a terminal that logs the text acts
  on them, and a raw ESC would read as the start of a GSM escape sequence.
- Bidirectional embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069) are refused: they open a span that is shown in another
  order than it is written ("Trojan Source"), which turns a link or a code
  into something else on screen, and no language needs them to be written.
- The marks LRM U+200E, RLM U+200F and ALM U+061C are kept: they open no
  span and cannot reorder text; they only give a direction to the neutral
  characters next to them, which Arabic and Hebrew messages need to show a
  number, a code or a Latin name the right way round.
- The joiners ZWNJ U+200C and ZWJ U+200D are kept: emoji sequences, Persian
  and the Indic scripts are written with them.
- A lone surrogate (U+D800-U+DFFF, which JSON's ``\\ud800`` can carry) is not a
  character and cannot be encoded: refused.

Refused, not removed: silently deleting characters changes what the sender
wrote (and what they are billed for); the error says which one and where.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ALLOWED_CONTROLS", "ForbiddenCharacter", "check_body"]

# TS 23.038 6.2.1: LF 0x0A and CR 0x0D in the default alphabet, FF as ESC 0x0A.
ALLOWED_CONTROLS = frozenset("\n\r\f")

_FORBIDDEN = re.compile(
    "[\x00-\x09\x0b\x0e-\x1f\x7f-\x9f"  # C0 but LF, FF, CR; DEL; C1
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides, isolates
    "\ud800-\udfff]"  # lone surrogates
)

# Names for the C0 controls (unicodedata has none for them): ISO 6429 abbreviations.
_C0 = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF", "CR", "SO", "SI",
    "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US",
)  # fmt: skip


def _name(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return f"{_C0[code]}, a control character"
    if code == 0x7F:
        return "DEL, a control character"
    if 0x80 <= code <= 0x9F:
        return "a C1 control character"
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate, not a character"
    return f"{unicodedata.name(char)}, a bidirectional formatting character"


class ForbiddenCharacter(ValueError):
    """A body holds a character the rule refuses; ``position`` counts characters from 1."""

    def __init__(self, char: str, position: int) -> None:
        self.char = char
        self.position = position
        code = ord(char)
        if code == 0x09:
            hint = "replace it with spaces"
        elif code < 0xA0:
            hint = "of the control characters only LF, CR and FF can be sent (GSM 03.38)"
        elif 0xD800 <= code <= 0xDFFF:
            hint = "send the whole character (a surrogate pair) or remove it"
        else:
            hint = "embeddings, overrides and isolates are refused; the LRM/RLM marks are allowed"
        super().__init__(f"U+{code:04X} ({_name(char)}) at character {position}: {hint}")


def check_body(text: str) -> None:
    """Raise ``ForbiddenCharacter`` for the first character the rule refuses; else nothing."""
    found = _FORBIDDEN.search(text)
    if found is not None:
        raise ForbiddenCharacter(found.group(), found.start() + 1)
