"""Sender ids: what kind each is, and the TON/NPI that goes with it.

A wrong TON/NPI is what makes carriers rewrite a sender id, so the kind is
decided once at enqueue and stored with the message:

- alphanumeric, up to 11 GSM characters (TS 23.040 9.1.2.5: the TP-OA
  holds 11 septets): TON 5 alphanumeric / NPI 0 unknown (SMPP 3.4 5.2.5/5.2.6)
- international number, 9-15 digits with or without '+': TON 1 / NPI 1 (E.164)
- short code, 3-8 digits: TON 3 network specific / NPI 0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from config.schema import SourceRules

__all__ = ["InvalidSender", "Sender", "SenderKind", "classify_sender"]


class SenderKind(StrEnum):
    ALPHANUMERIC = "alphanumeric"
    INTERNATIONAL = "international"
    SHORT_CODE = "short_code"


@dataclass(frozen=True, slots=True)
class Sender:
    address: str  # as it goes into source_addr (no '+')
    kind: SenderKind
    ton: int
    npi: int

    def allowed_by(self, rules: SourceRules) -> bool:
        return {
            SenderKind.ALPHANUMERIC: rules.allow_alphanumeric,
            SenderKind.INTERNATIONAL: rules.allow_international,
            SenderKind.SHORT_CODE: rules.allow_short_code,
        }[self.kind]


class InvalidSender(ValueError):
    pass


_INTERNATIONAL = re.compile(r"^\+?([1-9]\d{8,14})$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
# Characters of the GSM 7-bit default alphabet that are safe in a sender id
# (TS 23.038 6.2.1); extension-table characters would cost two septets each
# and many SMSCs mangle them, so they are refused.
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 !\"#$%&'()*+,\-./:;<=>?@_]{1,11}$")


def classify_sender(sender_id: str) -> Sender:
    text = sender_id.strip()
    if match := _INTERNATIONAL.match(text):
        return Sender(match.group(1), SenderKind.INTERNATIONAL, 1, 1)
    if _SHORT_CODE.match(text):
        return Sender(text, SenderKind.SHORT_CODE, 3, 0)
    if _ALPHANUMERIC.match(text) and not text.lstrip("+").isdigit():
        return Sender(text, SenderKind.ALPHANUMERIC, 5, 0)
    raise InvalidSender(
        f"sender id {sender_id!r} is neither up to 11 GSM letters/digits, "
        "an international number nor a 3-8 digit short code"
    )
