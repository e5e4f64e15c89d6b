"""deliver_sm / data_sm from a carrier -> a receipt row or an MO row (no I/O).

SMPP 3.4 section 4.6.1 / 4.7.1: a deliver_sm (or data_sm) is either a delivery
receipt (esm_class message type 0x04 / 0x20, section 5.2.12, or a
receipted_message_id TLV) or a mobile-originated message. ``dlr`` decides;
nothing here is dropped: a receipt that cannot be parsed is stored as an
inbound message with its raw bytes (and counted) rather than lost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import msgspec

import dlr
from bridge.smpp import DataSm, DeliverSm
from segmenter import PartPayload, decode_payload

__all__ = ["MoRow", "ReceiptRow", "classify"]

_MESSAGE_PAYLOAD = 0x0424  # SMPP 3.4 section 5.3.2
_SAR_MSG_REF_NUM, _SAR_TOTAL, _SAR_SEQ = 0x020C, 0x020E, 0x020F  # section 5.3.2
_IEI_CONCAT_8, _IEI_CONCAT_16 = 0x00, 0x08  # TS 23.040 9.2.3.24.1 / .8
_UCS2 = 0x08
# SMPP 3.4 section 5.2.19: 0x03 Latin-1; 0x02 / 0x04 8-bit binary (no text to store).
_LATIN1 = 0x03
_BINARY_CODINGS = frozenset({0x02, 0x04})


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    carrier: str
    id_key: str
    status: dlr.Status  # after the carrier's status table
    stat: str | None
    error_code: int | None
    receipt: dict[str, Any]  # msgspec.to_builtins(Receipt): parked as jsonb
    raw: bytes


@dataclass(frozen=True, slots=True)
class MoRow:
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


def _raw(pdu: DeliverSm | DataSm) -> bytes:
    if isinstance(pdu, DeliverSm) and pdu.short_message:
        return pdu.short_message
    return pdu.raw_tlvs.get(_MESSAGE_PAYLOAD, b"")


def classify(
    carrier: str,
    pdu: DeliverSm | DataSm,
    *,
    detect: dlr.ReceiptDetect,
    id_form: dlr.IdForm,
    table: dlr.StatusTable,
) -> ReceiptRow | MoRow:
    """Parse one inbound PDU with the carrier's receipt rules."""
    raw = _raw(pdu)
    tlvs = pdu.raw_tlvs
    try:
        receipt = dlr.parse_receipt(raw, tlvs, pdu.esm_class, detect=detect)
        key = dlr.id_key(receipt.id, id_form)
    except dlr.NotAReceipt:
        return _mo(carrier, pdu, raw)
    except (dlr.ReceiptError, dlr.MessageIdError):
        return dataclasses.replace(_mo(carrier, pdu, raw), malformed_receipt=True)
    status = dlr.Status.PENDING if receipt.intermediate else dlr.status_for(receipt.state, table)
    return ReceiptRow(
        carrier=carrier,
        id_key=key,
        status=status,
        stat=receipt.stat or receipt.state.name,
        error_code=receipt.error_code,
        receipt=msgspec.to_builtins(receipt),
        raw=raw,
    )


def _mo(carrier: str, pdu: DeliverSm | DataSm, raw: bytes) -> MoRow:
    ies: dict[int, bytes] = {}
    body: str | None
    coding = pdu.data_coding & 0x0F if pdu.data_coding & 0xF0 == 0 else pdu.data_coding
    if coding in _BINARY_CODINGS:
        return _mo_row(carrier, pdu, raw, None, {})
    try:
        ies, body = decode_payload(
            PartPayload(short_message=raw, esm_class=pdu.esm_class, data_coding=pdu.data_coding, tlvs=())
        )
        if coding == _LATIN1:
            body = _strip_udh(raw, pdu.esm_class).decode("latin-1")
    except (ValueError, IndexError, UnicodeDecodeError, KeyError):
        body = raw.decode("utf-16-be", "replace") if pdu.data_coding == _UCS2 else None
    return _mo_row(carrier, pdu, raw, body, ies)


def _strip_udh(raw: bytes, esm_class: int) -> bytes:
    # SMPP 3.4 section 5.2.12: UDHI set -> the first octet is the UDH length.
    return raw[1 + raw[0] :] if esm_class & 0x40 and raw else raw


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
        source=pdu.source_addr,
        source_ton=pdu.source_addr_ton,
        source_npi=pdu.source_addr_npi,
        destination=pdu.destination_addr,
        dest_ton=pdu.dest_addr_ton,
        dest_npi=pdu.dest_addr_npi,
        esm_class=pdu.esm_class,
        data_coding=pdu.data_coding,
        body=body,
        raw=raw,
        concat_ref=ref,
        concat_seq=seq,
        concat_total=total,
    )
