"""Why a message will not be (or was not) sent: its ``error`` code in words.

``messages.error`` holds a short code. Enqueue writes the codes of the
recipients it refuses (``invalid`` and ``failed`` at enqueue, never charged);
the pipeline writes the carrier's (a receipt's stat, ``submit_error_N``, ...).
`smpp-bridge send` and `status` show the code as ``error`` and this text as
``reason``, so an operator sees why without reading the database.
"""

from __future__ import annotations

import re

__all__ = ["ENQUEUE_REASONS", "describe"]

# The codes enqueue stores (bridge/store/plan.py), and what each means.
ENQUEUE_REASONS: dict[str, str] = {
    "invalid_number": "not a valid phone number: E.164 is + then the country code and the number, "
    "e.g. +60123456789",
    "no_route": "no route to this destination: no [[routes]] prefix, country or default matches it",
    "no_rate": "no rate for this destination's country: [rates.countries] has none and there is no default",
    "too_long": "longer than the route allows: more parts than its carriers' segmentation.max_parts",
    "sender_alphanumeric_not_allowed": "the route's carriers do not accept an alphanumeric sender id "
    "(carriers.source.allow_alphanumeric)",
    "sender_international_not_allowed": "the route's carriers do not accept a phone number as sender id "
    "(carriers.source.allow_international)",
    "sender_short_code_not_allowed": "the route's carriers do not accept a short code as sender id "
    "(carriers.source.allow_short_code)",
}

# SMPP 3.4 section 5.2.28 message states as receipts write them (Appendix B "stat").
_RECEIPT_STATS: dict[str, str] = {
    "UNDELIV": "undeliverable",
    "EXPIRED": "validity period expired",
    "REJECTD": "rejected",
    "DELETED": "deleted",
    "UNKNOWN": "unknown",
}

_SUBMIT_ERROR = re.compile(r"^submit_error_(\d+)$")


def describe(code: str | None, detail: str | None = None) -> str | None:
    """The reason in words for an error code (None for None); ``detail`` is appended."""
    if code is None:
        return None
    text = ENQUEUE_REASONS.get(code)
    if text is None and code in _RECEIPT_STATS:
        text = f"the carrier's delivery receipt says {code} ({_RECEIPT_STATS[code]})"
    if text is None and (match := _SUBMIT_ERROR.match(code)):
        text = f"the carrier refused the submit_sm (command_status 0x{int(match.group(1)):08X})"
    if text is None:
        text = code.replace("_", " ")
    return f"{text} ({detail})" if detail else text
