"""The parsed receipt: a frozen, typed value (house rule 4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from dlr.states import MessageState
from dlr.timestamps import parse_receipt_date

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class ReceiptDetect(StrEnum):
    """How a carrier's receipts are told apart from MO (config: ``receipt_detect``).

    ``esm_class``: SMPP 3.4 section 5.2.12 only (message type 0x04 or 0x20, or
    a receipted_message_id TLV). ``text``: additionally, a deliver_sm with
    message type 0 (default) whose text is an Appendix B receipt with an id
    and a recognised ``stat:`` word, for SMSCs that send receipts as plain
    messages.
    """

    ESM_CLASS = "esm_class"
    TEXT = "text"


class NetworkError(msgspec.Struct, frozen=True, kw_only=True):
    """SMPP 3.4 section 5.3.2 network_error_code (0x0423): type + code.

    ``type``: 1 ANSI-136 access denied reason, 2 IS-95, 3 GSM, 4 ANSI 136
    cause code, 5 IS-95 cause code, 6 ANSI-41, 7 SMPP error, 8 message
    center specific; ``code``: the network's error code.
    """

    type: int
    code: int


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt, as parsed from a deliver_sm or data_sm.

    ``id`` and ``state`` are always present; everything else is what the SMSC
    chose to send (``None`` when absent). Where both the TLVs and the text
    carry a value, the TLV wins (SMPP 3.4 section 5.3.2: receipted_message_id,
    message_state, network_error_code); the raw texts are kept as sent, so
    nothing is lost for logging or for a carrier-specific rule later.
    """

    id: str
    state: MessageState
    # The raw ``stat:`` word, e.g. "DELIVRD" (or an unrecognised one, with
    # state UNKNOWN); None when the state came from the TLV only.
    stat: str | None = None
    # The raw ``err:`` text ("000", "0B", "A3", ...): decimal or hex by
    # carrier, so kept as text; ``error_code`` reads it as a number.
    err: str | None = None
    network_error: NetworkError | None = None
    sub: int | None = None
    dlvrd: int | None = None
    # The raw date texts; ``submit_date`` / ``done_date`` parse them.
    submit_date_text: str | None = None
    done_date_text: str | None = None
    text: str | None = None
    # SMPP 3.4 section 5.2.12: esm_class message type 0x20, an intermediate
    # delivery notification (not the final outcome).
    intermediate: bool = False

    @property
    def submit_date(self) -> datetime | None:
        """When the SMSC took the message: naive, SMSC local time; None if invalid."""
        return parse_receipt_date(self.submit_date_text)

    @property
    def done_date(self) -> datetime | None:
        """When the message reached this state: naive, SMSC local time; None if invalid."""
        return parse_receipt_date(self.done_date_text)

    @property
    def error_code(self) -> int | None:
        """``err`` as a number: decimal digits as decimal, ``0x..`` or a-f digits as hex.

        Appendix B leaves the format to the SMSC; "000" / "075" are decimal in
        practice, "0B" / "0x1F" hex. Anything else (or nothing) is None.
        """
        err = self.err
        if err is None or not err.isascii() or len(err) > 16:
            return None
        if err.isdigit():
            return int(err)
        digits = err[2:] if err[:2] in ("0x", "0X") else err
        if digits and all(c in _HEX_DIGITS for c in digits):
            return int(digits, 16)
        return None
