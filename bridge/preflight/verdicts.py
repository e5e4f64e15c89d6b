"""Verdicts and the comparisons behind them (pure; docs/preflight.md "Verdicts").

- ``clean``: the sender received equals the session's ``sender_id``;
- ``intercepted``: the message arrived with another sender;
- ``lost``: the session expired with nothing received on that network;
- ``None`` (JSON null): still pending.

How senders compare. A numeric sender id (digits, with an optional ``+`` or
``00`` international prefix) is compared in E.164: both sides are reduced to
their digits without the international prefix, so ``+447700900123``,
``00447700900123`` and an MO source ``447700900123`` (TON international, SMPP
3.4 section 5.2.5) are the same sender. Anything else is alphanumeric and is
compared exactly as the network presents it: case and spaces count, because a
network that changes them has altered the sender the customer chose.

An alphanumeric sender longer than 11 characters cannot arrive intact: the
GSM originating address holds at most 11 (TS 23.040 9.1.2.5, 7-bit packed in
10 octets), so the session's 201 answer says so (``warnings``).

How bodies compare (``body_matched``), after one normalisation of both sides:
Unicode NFC, line ends CRLF / CR to LF, surrounding white space removed. Then
they must be equal exactly (case counts). ``None`` when no ``expected_body``
was given.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

__all__ = [
    "ALPHANUMERIC_MAX",
    "Verdict",
    "body_matches",
    "is_numeric_sender",
    "normalise_body",
    "same_sender",
    "sender_warnings",
    "verdict_for",
]

ALPHANUMERIC_MAX = 11
_NUMERIC = re.compile(r"(\+|00)?[0-9]{1,15}")
_TON_ALPHANUMERIC = 5


class Verdict(StrEnum):
    CLEAN = "clean"
    INTERCEPTED = "intercepted"
    LOST = "lost"


def is_numeric_sender(sender: str) -> bool:
    return _NUMERIC.fullmatch(sender) is not None


def _e164_digits(number: str) -> str:
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


def same_sender(expected: str, received: str, received_ton: int | None = None) -> bool:
    """Does the MO's source (``received``, with its TON) equal the session's sender id?"""
    if received_ton == _TON_ALPHANUMERIC or not is_numeric_sender(received):
        return received == expected
    if not is_numeric_sender(expected):
        return False
    return _e164_digits(expected) == _e164_digits(received)


def verdict_for(expected: str, received: str, received_ton: int | None = None) -> Verdict:
    return Verdict.CLEAN if same_sender(expected, received, received_ton) else Verdict.INTERCEPTED


def normalise_body(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def body_matches(expected: str | None, received: str | None) -> bool | None:
    if expected is None:
        return None
    if received is None:
        return False
    return normalise_body(expected) == normalise_body(received)


def sender_warnings(sender_id: str) -> list[str]:
    """What the 201 answer warns about the sender id (empty: nothing)."""
    if not is_numeric_sender(sender_id) and len(sender_id) > ALPHANUMERIC_MAX:
        return [
            f"The alphanumeric sender id has {len(sender_id)} characters; networks carry at most"
            f" {ALPHANUMERIC_MAX}, so it cannot arrive intact (expect intercepted)."
        ]
    return []
