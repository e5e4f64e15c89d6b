"""Delivery receipts: parsing, id matching, status mapping (pure: no I/O).

The daemon's receipt path is::

    receipt = parse_receipt(pdu.short_message, pdu.raw_tlvs, pdu.esm_class,
                            detect=carrier.receipt_detect)      # ReceiptError
    key = id_key(receipt.id, carrier.receipt_id_form)           # MessageIdError
    part_status = status_for(receipt.state, carrier_status_table)
    message = message_status(statuses_of_all_parts)

See docs/dlr.md for the formats accepted and the rules.
"""

from dlr.aggregate import message_status
from dlr.errors import MessageIdError, NotAReceipt, ReceiptError
from dlr.ids import (
    MAX_ID_LENGTH,
    SPEC_ID_LENGTH,
    IdForm,
    id_key,
    id_octets,
    propose_id_forms,
    response_key,
)
from dlr.parse import is_receipt, parse_receipt, state_of_word
from dlr.receipt import NetworkError, Receipt, ReceiptDetect
from dlr.states import (
    DEFAULT_STATUS,
    STAT_WORD_OF,
    STAT_WORDS,
    MessageState,
    Status,
    StatusTable,
    status_for,
)
from dlr.text import format_receipt, parse_text, redact_text
from dlr.timestamps import format_receipt_date, parse_receipt_date
from dlr.tlv import MESSAGE_PAYLOAD, MESSAGE_STATE, NETWORK_ERROR_CODE, RECEIPTED_MESSAGE_ID

__all__ = [
    "DEFAULT_STATUS",
    "MAX_ID_LENGTH",
    "MESSAGE_PAYLOAD",
    "MESSAGE_STATE",
    "NETWORK_ERROR_CODE",
    "RECEIPTED_MESSAGE_ID",
    "SPEC_ID_LENGTH",
    "STAT_WORDS",
    "STAT_WORD_OF",
    "IdForm",
    "MessageIdError",
    "MessageState",
    "NetworkError",
    "NotAReceipt",
    "Receipt",
    "ReceiptDetect",
    "ReceiptError",
    "Status",
    "StatusTable",
    "format_receipt",
    "format_receipt_date",
    "id_key",
    "id_octets",
    "is_receipt",
    "message_status",
    "parse_receipt",
    "parse_receipt_date",
    "parse_text",
    "propose_id_forms",
    "redact_text",
    "response_key",
    "state_of_word",
    "status_for",
]
