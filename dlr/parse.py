"""deliver_sm / data_sm -> Receipt: detection, text, TLVs.

Is it a receipt? SMPP 3.4 section 5.2.12: bits 5-2 of esm_class (mask 0x3C)
give the message type; 0x04 is an SMSC delivery receipt and 0x20 an
intermediate delivery notification. A receipted_message_id TLV (section
5.3.2) marks a receipt too. Everything else is MO (or an SME
acknowledgement) and raises ``NotAReceipt``, so a subscriber's message is
never applied as a receipt, unless the carrier is configured with
``receipt_detect = "text"``: then a message of the default type (0) whose
text is an Appendix B receipt with an id and a recognised ``stat:`` word is
accepted too.

Which values win? The TLVs, where present and well formed
(receipted_message_id, message_state, network_error_code); the text
supplies the rest. A receipt must end up with an id and a state, otherwise
``ReceiptError``. Whatever the input bytes, nothing but ``ReceiptError``
escapes.

Bytes are decoded as Latin-1: it never fails, and the Appendix B keys,
digits and ids are the same octets in ASCII, Latin-1 and the unpacked GSM
7-bit default alphabet (3GPP TS 23.038 6.2.1), so the structured fields
come out right whatever the data_coding. Only the informational ``text:``
part may show GSM-specific characters as their Latin-1 twins. A receipt
written in UCS-2 (big-endian, data_coding 8) is read as such when the Latin-1
reading finds no field at all.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlr.errors import NotAReceipt, ReceiptError
from dlr.receipt import Receipt, ReceiptDetect
from dlr.states import STAT_WORDS, MessageState
from dlr.text import _FAST, _STRIP, TextFields, _parse_tolerant, parse_text
from dlr.tlv import (
    RECEIPTED_MESSAGE_ID,
    Tlvs,
    message_payload,
    receipt_tlvs,
)

# SMPP 3.4 section 5.2.12: esm_class bits 5-2, the message type.
ESM_MESSAGE_TYPE_MASK = 0x3C
ESM_DEFAULT = 0x00
ESM_DELIVERY_RECEIPT = 0x04
ESM_INTERMEDIATE_NOTIFICATION = 0x20

_RECEIPT_TYPES = frozenset({ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION})
_STATES = {int(s): s for s in MessageState}
_STAT_WORDS = dict(STAT_WORDS)  # a plain dict: the hot path looks words up here
# "0".."999" and "000".."099" as ints: a dict lookup is cheaper than int().
_COUNTS = {**{str(i): i for i in range(1000)}, **{f"{i:03d}": i for i in range(100)},
           **{f"{i:02d}": i for i in range(10)}}


def is_receipt(esm_class: int, tlvs: Mapping[int, object] | None = None) -> bool:
    """True when esm_class or a receipted_message_id TLV marks a receipt (5.2.12)."""
    return (esm_class & ESM_MESSAGE_TYPE_MASK) in _RECEIPT_TYPES or (
        tlvs is not None and RECEIPTED_MESSAGE_ID in tlvs
    )


def state_of_word(word: str) -> MessageState | None:
    """The state a ``stat:`` word names (any case), or None if unrecognised."""
    state = _STAT_WORDS.get(word)
    if state is None:
        state = _STAT_WORDS.get(word.upper())
    return state


def parse_receipt(
    short_message: bytes | bytearray | memoryview | str,
    tlvs: Tlvs | None = None,
    esm_class: int = ESM_DELIVERY_RECEIPT,
    *,
    detect: ReceiptDetect | str = ReceiptDetect.ESM_CLASS,
) -> Receipt:
    """Parse a receipt from a deliver_sm / data_sm's short_message, TLVs and esm_class.

    Raises ``NotAReceipt`` for a PDU that is not a receipt, ``ReceiptError``
    for a receipt without a usable id or state; never anything else.
    """
    kind = esm_class & ESM_MESSAGE_TYPE_MASK
    # Fast path: the common case is a 0x04 (or 0x20) receipt with the canonical
    # text, with or without the TLVs of section 5.3.2 (the same precedence as
    # _assemble: a TLV's id and known message_state win over the text's).
    if kind in _RECEIPT_TYPES:
        # _decode, its common case inlined (one call less per receipt)
        message = (
            short_message.decode("latin-1") if type(short_message) is bytes else _decode(short_message)
        ).strip(_STRIP)
        match = _FAST.fullmatch(message)
        if match is not None:
            sid, sub, dlvrd, submit_date, done_date, stat, err, text = match.groups()
            state = network_error = None
            if tlvs:
                tlv_id, raw_state, network_error = receipt_tlvs(tlvs)
                sid = tlv_id or sid
                if raw_state is not None:
                    state = _STATES.get(raw_state)
            if state is None:
                state = _STAT_WORDS.get(stat) or state_of_word(stat) or MessageState.UNKNOWN
            return Receipt(
                id=sid,
                state=state,
                stat=stat,
                err=err,
                network_error=network_error,
                sub=_COUNTS[sub],
                dlvrd=_COUNTS[dlvrd],
                submit_date_text=submit_date,
                done_date_text=done_date,
                text=None if text is None else text.lstrip(),
                intermediate=kind == ESM_INTERMEDIATE_NOTIFICATION,
            )
        if tlvs:
            return _parse_general(short_message, tlvs, kind, detect)
        fields = _parse_tolerant(message)
        if fields.id is None and fields.stat is None:
            fields = _ucs2_fields(short_message, fields)
        return _assemble(fields, None, intermediate=kind == ESM_INTERMEDIATE_NOTIFICATION)
    return _parse_general(short_message, tlvs, kind, detect)


def _decode(short_message: bytes | bytearray | memoryview | str) -> str:
    if isinstance(short_message, str):
        return short_message
    if isinstance(short_message, bytes):
        return short_message.decode("latin-1")
    if isinstance(short_message, bytearray | memoryview):
        return bytes(short_message).decode("latin-1")
    raise ReceiptError(f"short_message must be bytes or str, not {type(short_message).__name__}")


def _ucs2_fields(raw: object, fields: TextFields) -> TextFields:
    """The fields of a receipt text sent in UCS-2, else ``fields`` unchanged.

    A few SMSCs write the receipt in UCS-2 (data_coding 8, SMPP 3.4 section
    5.2.19), which Latin-1 reads as "\\x00i\\x00d\\x00:". Only tried when the
    Latin-1 reading found neither an id nor a stat, and only for octets that
    look like big-endian UTF-16 of ASCII (a NUL before each of the first two
    characters), so no Latin-1 or GSM receipt is read twice.
    """
    if isinstance(raw, str):  # the same octets, read as Latin-1 by the caller
        try:
            octets = raw.encode("latin-1")
        except UnicodeEncodeError:  # a real text, not octets in disguise
            return fields
    elif isinstance(raw, bytes | bytearray | memoryview):
        octets = bytes(raw)
    else:
        return fields
    if len(octets) < 4 or octets[0] != 0 or octets[2] != 0:
        return fields
    if len(octets) % 2:  # a lone trailing NUL (C-Octet String) is not a character
        octets = octets[:-1]
    return parse_text(octets.decode("utf-16-be", "replace"))


def _parse_general(
    short_message: bytes | bytearray | memoryview | str,
    tlvs: Tlvs | None,
    kind: int,
    detect: ReceiptDetect | str,
) -> Receipt:
    flagged = kind in _RECEIPT_TYPES or (tlvs is not None and RECEIPTED_MESSAGE_ID in tlvs)
    if not flagged and (kind != ESM_DEFAULT or ReceiptDetect(detect) is not ReceiptDetect.TEXT):
        raise NotAReceipt(f"esm_class message type 0x{kind:02X} is not a delivery receipt")
    raw: bytes | bytearray | memoryview | str | None = short_message
    message = _decode(short_message)
    if tlvs and not message.strip(_STRIP):
        # SMPP 3.4 section 5.3.2 (message_payload): data_sm and some
        # deliver_sm carry the text here instead of short_message.
        raw = message_payload(tlvs)
        message = "" if raw is None else raw.decode("latin-1")
    fields = parse_text(message)
    if fields.id is None and fields.stat is None:
        fields = _ucs2_fields(raw, fields)
    # Text detection: only a proper Appendix B receipt counts, so MO that
    # happens to contain a colon is still MO.
    if not flagged and (
        fields.id is None or fields.stat is None or state_of_word(fields.stat) is None
    ):
        raise NotAReceipt("esm_class 0 and the text is not a delivery receipt")
    return _assemble(fields, tlvs, intermediate=kind == ESM_INTERMEDIATE_NOTIFICATION)


def _assemble(fields: TextFields, tlvs: Tlvs | None, *, intermediate: bool) -> Receipt:
    receipt_id = fields.id
    state: MessageState | None = None
    network_error = None
    if tlvs:
        tlv_id, raw_state, network_error = receipt_tlvs(tlvs)
        receipt_id = tlv_id or receipt_id
        # A message_state outside section 5.2.28 (e.g. SMPP 5.0's 0 SCHEDULED
        # or 9 SKIPPED) is not trusted over the text; see below.
        state = None if raw_state is None else _STATES.get(raw_state)
        if state is None and raw_state is not None and fields.stat is None:
            state = MessageState.UNKNOWN
    if state is None and fields.stat is not None:
        state = state_of_word(fields.stat) or MessageState.UNKNOWN
    if receipt_id is None:
        raise ReceiptError("receipt without a message id (no id: field, no receipted_message_id)")
    if state is None:
        raise ReceiptError(f"receipt for {receipt_id!r} without a state (no stat:, no message_state)")
    return Receipt(
        id=receipt_id,
        state=state,
        stat=fields.stat,
        err=fields.err,
        network_error=network_error,
        sub=fields.sub,
        dlvrd=fields.dlvrd,
        submit_date_text=fields.submit_date,
        done_date_text=fields.done_date,
        text=fields.text,
        intermediate=intermediate,
    )
