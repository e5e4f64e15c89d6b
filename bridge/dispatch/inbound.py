"""deliver_sm / data_sm from a carrier -> a receipt row or an MO row (no I/O).

SMPP 3.4 section 4.6.1 / 4.7.1: a deliver_sm (or data_sm) is either a delivery
receipt (esm_class message type 0x04 / 0x20, section 5.2.12, or a
receipted_message_id TLV) or a mobile-originated message. ``dlr`` decides;
nothing here is dropped: a receipt that cannot be parsed is stored as an
inbound message with its raw bytes (and counted) rather than lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

import dlr
from bridge.smpp import DataSm, DeliverSm
from bridge.smpp.constants import DataCoding, EsmClass, Tag
from bridge.store.columns import int4
from segmenter import PartPayload, decode_payload

__all__ = ["RECEIPT_TEXT_PREFIX", "MoRow", "ReceiptRow", "classify"]

# SMPP 3.4 section 5.3.2 (plain ints: raw_tlvs is keyed by the tag's number).
_MESSAGE_PAYLOAD = int(Tag.MESSAGE_PAYLOAD)
_SAR_MSG_REF_NUM = int(Tag.SAR_MSG_REF_NUM)
_SAR_TOTAL = int(Tag.SAR_TOTAL_SEGMENTS)
_SAR_SEQ = int(Tag.SAR_SEGMENT_SEQNUM)
_IEI_CONCAT_8, _IEI_CONCAT_16 = 0x00, 0x08  # TS 23.040 9.2.3.24.1 / .8
# SMPP 3.4 section 5.2.19: Latin-1 is stored as text, 8-bit binary is not (no text).
_UCS2, _LATIN1 = int(DataCoding.UCS2), int(DataCoding.LATIN1)
_BINARY_CODINGS = frozenset({int(DataCoding.OCTET_UNSPECIFIED), int(DataCoding.OCTET_UNSPECIFIED_COMMON)})
_UDHI = int(EsmClass.UDHI)  # section 5.2.12: short_message starts with a UDH
_PENDING, _ACCEPTED = dlr.Status.PENDING, dlr.MessageState.ACCEPTED
# How many first characters of a receipt's ``text:`` are kept (as an HMAC and a length)
# for matching a part whose outcome is unknown. Appendix B quotes the first 20; the
# field is unbounded (everything after ``text:``, up to 65,535 octets in a
# message_payload), and no part's text is longer than this, so a longer prefix would
# never match anyway. It also bounds ``parked_receipts.text_len`` (a smallint).
RECEIPT_TEXT_PREFIX = 255


class ReceiptRow(msgspec.Struct, frozen=True):
    carrier: str
    id_key: str
    status: dlr.Status  # after the carrier's status table
    stat: str | None
    error_code: int | None
    # The parsed receipt, or its JSON form when it comes back from the parking; turned
    # into JSON (receipt_json) only when it is parked, which few receipts are.
    receipt: dlr.Receipt | dict[str, Any]
    raw: bytes
    # The last ones matter only when the receipt is parked (matching a part whose
    # outcome is unknown, docs/pipeline.md): the deliver_sm's addresses (source_addr
    # is the handset, destination_addr the original sender: SMPP 3.4 section 4.6.1),
    # and, for a receipt back from the parking, its stored text HMAC and length.
    accepted: bool = False  # state ACCEPTED and not final by the carrier's table
    source: str = ""
    destination: str = ""
    text_hmac: bytes | None = None
    text_len: int | None = None

    def receipt_json(self) -> dict[str, Any]:
        """What ``parked_receipts.receipt`` (jsonb) stores: msgspec.to_builtins(Receipt),
        NUL-free, without the free text (parked as an HMAC only: it can be an OTP code)."""
        if isinstance(self.receipt, dict):
            return {**self.receipt, "text": None}
        return {**_clean(msgspec.to_builtins(self.receipt)), "text": None}

    def text(self) -> str | None:
        """The receipt's free text (Appendix B ``text:``), NUL-free, its first
        RECEIPT_TEXT_PREFIX characters; None when it has none."""
        text = self.receipt.get("text") if isinstance(self.receipt, dict) else self.receipt.text
        return _text(text)[:RECEIPT_TEXT_PREFIX] if isinstance(text, str) and text else None

    def submit_minute(self) -> datetime | None:
        """The receipt's submit date (SMSC clock, naive) to the minute."""
        if isinstance(self.receipt, dict):
            raw = self.receipt.get("submit_date_text")
            when = dlr.parse_receipt_date(raw) if isinstance(raw, str) else None
        else:
            when = self.receipt.submit_date
        return None if when is None else when.replace(second=0, microsecond=0)

    def raw_for_parking(self) -> bytes | None:
        """``raw`` without the free text (dlr.redact_text)."""
        return dlr.redact_text(self.raw) if self.raw else None


class MoRow(msgspec.Struct, frozen=True):
    carrier: str
    source: str
    source_ton: int
    source_npi: int
    destination: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    body: str | None
    raw: bytes
    concat_ref: int | None
    concat_seq: int | None
    concat_total: int | None
    malformed_receipt: bool = False


def classify(
    carrier: str,
    pdu: DeliverSm | DataSm,
    *,
    detect: dlr.ReceiptDetect,
    id_form: dlr.IdForm,
    table: dlr.StatusTable,
) -> ReceiptRow | MoRow:
    """Parse one inbound PDU with the carrier's receipt rules."""
    tlvs = pdu.raw_tlvs
    raw = pdu.short_message if type(pdu) is DeliverSm and pdu.short_message else tlvs.get(_MESSAGE_PAYLOAD, b"")
    try:
        receipt = dlr.parse_receipt(raw, tlvs, pdu.esm_class, detect=detect)
        key = dlr.id_key(receipt.id, id_form)
    except dlr.NotAReceipt:
        return _mo(carrier, pdu, raw)
    except (dlr.ReceiptError, dlr.MessageIdError):
        return msgspec.structs.replace(_mo(carrier, pdu, raw), malformed_receipt=True)
    status = dlr.Status.PENDING if receipt.intermediate else dlr.status_for(receipt.state, table)
    stat = receipt.stat or receipt.state.name
    return ReceiptRow(
        carrier,
        key.replace("\x00", "") if "\x00" in key else key,  # _text, inlined (twice per receipt)
        status,
        stat.replace("\x00", "") if "\x00" in stat else stat,
        int4(receipt.error_code),
        receipt,
        raw,
        status is _PENDING and receipt.state is _ACCEPTED and not receipt.intermediate,
        pdu.source_addr,
        pdu.destination_addr,
    )


def _text(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL; wire bytes decoded as Latin-1 can.
    return value.replace("\x00", "") if "\x00" in value else value


def _clean(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: _text(v) if isinstance(v, str) else v for k, v in receipt.items()}


def _mo(carrier: str, pdu: DeliverSm | DataSm, raw: bytes) -> MoRow:
    ies: dict[int, bytes] = {}
    body: str | None = None
    coding = pdu.data_coding
    try:
        if coding in _BINARY_CODINGS:
            ies, _ = decode_payload(_header_only(raw, pdu.esm_class))
        elif coding == _LATIN1:
            ies, _ = decode_payload(_header_only(raw, pdu.esm_class))
            body = _strip_udh(raw, pdu.esm_class).decode("latin-1")
        else:  # GSM 7-bit (0, 1) and UCS-2 (8): the segmenter's decoder
            ies, body = decode_payload(
                PartPayload(short_message=raw, esm_class=pdu.esm_class, data_coding=coding, tlvs=())
            )
    except (ValueError, IndexError, UnicodeDecodeError, KeyError):
        body = raw.decode("utf-16-be", "replace") if coding == _UCS2 else None
    return _mo_row(carrier, pdu, raw, body, ies)


def _header_only(raw: bytes, esm_class: int) -> PartPayload:
    """Just the UDH (for its concatenation elements), as a UCS-2 part with no text."""
    header = raw[: 1 + raw[0]] if esm_class & _UDHI and raw else b""
    return PartPayload(short_message=header, esm_class=esm_class if header else 0, data_coding=_UCS2, tlvs=())


def _strip_udh(raw: bytes, esm_class: int) -> bytes:
    # UDHI set: the first octet is the UDH length.
    return raw[1 + raw[0] :] if esm_class & _UDHI and raw else raw


def _mo_row(
    carrier: str, pdu: DeliverSm | DataSm, raw: bytes, body: str | None, ies: dict[int, bytes]
) -> MoRow:
    ref = seq = total = None
    if (ie := ies.get(_IEI_CONCAT_8)) is not None and len(ie) == 3:
        ref, total, seq = ie[0], ie[1], ie[2]
    elif (ie := ies.get(_IEI_CONCAT_16)) is not None and len(ie) == 4:
        ref, total, seq = ie[0] << 8 | ie[1], ie[2], ie[3]
    else:
        tlvs = pdu.raw_tlvs
        if _SAR_MSG_REF_NUM in tlvs and _SAR_TOTAL in tlvs and _SAR_SEQ in tlvs:
            ref = int.from_bytes(tlvs[_SAR_MSG_REF_NUM], "big")
            total = tlvs[_SAR_TOTAL][0] if tlvs[_SAR_TOTAL] else None
            seq = tlvs[_SAR_SEQ][0] if tlvs[_SAR_SEQ] else None
    return MoRow(
        carrier=carrier,
        source=_text(pdu.source_addr),
        source_ton=pdu.source_addr_ton,
        source_npi=pdu.source_addr_npi,
        destination=_text(pdu.destination_addr),
        dest_ton=pdu.dest_addr_ton,
        dest_npi=pdu.dest_addr_npi,
        esm_class=pdu.esm_class,
        data_coding=pdu.data_coding,
        body=None if body is None else _text(body),
        raw=raw,
        concat_ref=ref,
        concat_seq=seq,
        concat_total=total,
    )
