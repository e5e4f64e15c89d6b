"""The receipt TLVs (SMPP 3.4 section 5.3.2), read without bridge.smpp.

dlr is pure and independent of the wire codec: the caller hands over the
optional parameters as ``{tag: value bytes}``. Each reader returns None for an
absent or malformed TLV (wrong length, empty id) so that the text can still
supply the field; a malformed TLV never fails a receipt on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlr.receipt import NetworkError

# SMPP 3.4 section 5.3.2 (receipted_message_id): C-Octet String, at most 65
# octets including the NUL; the SMSC message id the receipt is for.
RECEIPTED_MESSAGE_ID = 0x001E
# SMPP 3.4 section 5.3.2 (network_error_code): 3 octets, the network type
# (1 octet) then the error code (2 octets, big-endian).
NETWORK_ERROR_CODE = 0x0423
# SMPP 3.4 section 5.3.2 (message_payload): the text of a data_sm (or a
# deliver_sm with an empty short_message).
MESSAGE_PAYLOAD = 0x0424
# SMPP 3.4 section 5.3.2 (message_state): 1 octet, the section 5.2.28 values.
MESSAGE_STATE = 0x0427

Tlvs = Mapping[int, bytes | bytearray | memoryview]


def _octets(tlvs: Tlvs, tag: int) -> bytes | None:
    # Only bytes-like values count; anything else is treated as absent.
    value = tlvs.get(tag)
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


def message_payload(tlvs: Tlvs) -> bytes | None:
    """0x0424's octets, or None."""
    return _octets(tlvs, MESSAGE_PAYLOAD)


def receipt_tlvs(tlvs: Tlvs) -> tuple[str | None, int | None, NetworkError | None]:
    """(receipted_message_id, message_state, network_error_code) in one pass.

    Each value up to its rule: the id up to the first NUL (ASCII-or-Latin-1,
    stripped, None when empty), the state exactly one octet, the network error
    exactly three (type, then a big-endian code); anything else is None.
    """
    get = tlvs.get
    value = get(RECEIPTED_MESSAGE_ID)
    receipt_id = None
    if value is not None:
        raw = value if type(value) is bytes else _octets(tlvs, RECEIPTED_MESSAGE_ID)
        if raw:
            nul = raw.find(b"\x00")
            receipt_id = (raw if nul < 0 else raw[:nul]).decode("latin-1").strip() or None
    value = get(MESSAGE_STATE)
    state = None
    if value is not None:
        raw = value if type(value) is bytes else _octets(tlvs, MESSAGE_STATE)
        if raw is not None and len(raw) == 1:
            state = raw[0]
    value = get(NETWORK_ERROR_CODE)
    network_error = None
    if value is not None:
        raw = value if type(value) is bytes else _octets(tlvs, NETWORK_ERROR_CODE)
        if raw is not None and len(raw) == 3:
            network_error = NetworkError(type=raw[0], code=(raw[1] << 8) | raw[2])
    return receipt_id, state, network_error
