"""Receipt dates: ``YYMMDDhhmm`` or ``YYMMDDhhmmss`` (SMPP 3.4 Appendix B).

Appendix B gives ``submit date`` and ``done date`` as 10 digits
(``YYMMDDhhmm``); many SMSCs add seconds (12 digits) and a few write a
four-digit year (14 digits, ``YYYYMMDDhhmmss``), which we accept too.

The text carries no time zone: it is the SMSC's local time, whatever that
is. So the result is a *naive* ``datetime`` in the SMSC's clock, never
silently labelled UTC. Two-digit years are 2000-2099. A date that is not a
valid calendar time (month 13, 24:61, too few digits, ...) is ``None``; the
raw text always stays on the receipt, and a bad date never fails a receipt.
"""

from __future__ import annotations

from datetime import datetime


def parse_receipt_date(text: str | None) -> datetime | None:
    """A naive datetime (SMSC local time) for a receipt date, or None if invalid."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    n = len(text)
    try:
        if n == 10:
            return datetime(
                2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]),
                int(text[6:8]), int(text[8:10]),
            )
        if n == 12:
            return datetime(
                2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]),
                int(text[6:8]), int(text[8:10]), int(text[10:12]),
            )
        if n == 14:
            return datetime(
                int(text[0:4]), int(text[4:6]), int(text[6:8]),
                int(text[8:10]), int(text[10:12]), int(text[12:14]),
            )
    except ValueError:  # not a calendar date or time
        return None
    return None


def format_receipt_date(when: datetime, seconds: bool = False) -> str:
    """``YYMMDDhhmm`` (Appendix B) or, with ``seconds``, ``YYMMDDhhmmss``."""
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"receipt dates have two-digit years (2000-2099), not {when.year}")
    return when.strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M")
