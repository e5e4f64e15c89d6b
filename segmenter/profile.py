"""A carrier's segmentation profile: how long messages go on the wire.

Embedded in the TOML configuration (config.schema), so it forbids unknown
fields; enqueue segments with it (``segment_for``) and the carrier sends
``Segmentation.payloads(ref, profile)`` with the same one, so the parts
billed are the parts sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from segmenter.core import MAX_PARTS, Segmentation, segment
from segmenter.tables import LANGUAGES

__all__ = ["Concat", "Profile", "segment_for"]


class Concat(StrEnum):
    """How the parts of a long message are tied together."""

    # UDH IE 0x00, 8-bit reference (TS 23.040 9.2.3.24.1)
    UDH8 = "udh8"
    # UDH IE 0x08, 16-bit reference (TS 23.040 9.2.3.24.8)
    UDH16 = "udh16"
    # sar_* TLVs; the SMSC writes the UDH (SMPP 3.4 5.3.2.22-24)
    SAR = "sar"
    # the whole text in one message_payload TLV (SMPP 3.4 5.3.2.32)
    PAYLOAD = "payload"


class Profile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    concat: Concat = Concat.UDH8
    # data_coding for GSM-7 (SMPP 3.4 5.2.19): 0 "SMSC default" or 1 "IA5";
    # carriers differ in which one means GSM 03.38.
    gsm_data_coding: Literal[0, 1] = 0
    # Septets packed 8 into 7 octets instead of one per octet (rare over SMPP).
    packed_gsm7: bool = False
    # National language tables allowed (ISO 639-1 codes, TS 23.038 Annex A).
    shift_tables: tuple[str, ...] = ()
    max_parts: Annotated[int, Meta(ge=1, le=MAX_PARTS)] = MAX_PARTS

    def __post_init__(self) -> None:
        # Meta constraints are checked when decoding config; construction in
        # code is checked here.
        if not 1 <= self.max_parts <= MAX_PARTS:
            raise ValueError(f"max_parts must be 1..{MAX_PARTS}, not {self.max_parts}")
        unknown = [code for code in self.shift_tables if code not in LANGUAGES]
        if unknown:
            raise ValueError(
                f"unknown shift table(s) {unknown}; known: {', '.join(sorted(LANGUAGES))}"
            )

    @property
    def reference_bits(self) -> int:
        # SAR TLVs carry a 16-bit reference and message_payload leaves the
        # split to the SMSC, which may use 16-bit references: budget for the
        # smaller part (152 / 66) so the count we bill is never too low.
        return 8 if self.concat is Concat.UDH8 else 16


def segment_for(text: str, profile: Profile) -> Segmentation:
    """segment() with a carrier profile's parameters (what enqueue bills)."""
    return segment(text, reference_bits=profile.reference_bits, shift_tables=profile.shift_tables)
