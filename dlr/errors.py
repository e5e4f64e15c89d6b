"""The errors of the dlr package.

Two families, kept apart on purpose:

* ``ReceiptError`` (and its subclass ``NotAReceipt``) come out of
  ``parse_receipt``: the deliver_sm / data_sm is not something we can apply.
  The daemon answers or parks such a PDU; it never crashes on one.
* ``MessageIdError`` comes out of ``id_key``: an id does not have the form the
  carrier's configuration says it has (e.g. ``response_id_form = "hex"`` and
  the SMSC sent ``"12G"``). Both submit_sm_resp ids and receipt ids go through
  ``id_key``, so it is not a receipt error; the daemon parks the receipt (or
  flags the part) and counts it, so a misconfigured carrier is visible instead
  of silently mismatching.

All three are ``ValueError`` subclasses: each says that a value from the wire
or the configuration is wrong, never that our code is.
"""

from __future__ import annotations


class ReceiptError(ValueError):
    """The PDU is not a receipt we can apply: garbage, no id, or no state."""


class NotAReceipt(ReceiptError):
    """The PDU is not a delivery receipt at all (e.g. a mobile-originated message).

    SMPP 3.4 section 5.2.12: only esm_class message type 0x04 (SMSC delivery
    receipt) and 0x20 (intermediate delivery notification), or a
    receipted_message_id TLV, mark a deliver_sm / data_sm as a receipt.
    """


class MessageIdError(ValueError):
    """A message id does not have the form configured for it."""

    def __init__(self, message_id: str, form: str, reason: str) -> None:
        super().__init__(f"message id {message_id!r} is not a valid {form} id: {reason}")
        self.message_id = message_id
        self.form = form
