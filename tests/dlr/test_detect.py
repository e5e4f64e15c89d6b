"""Receipt or MO: esm_class message types (SMPP 3.4 section 5.2.12) x detection mode."""

from __future__ import annotations

import pytest

from dlr import (
    MessageState,
    NotAReceipt,
    ReceiptDetect,
    ReceiptError,
    format_receipt,
    is_receipt,
    parse_receipt,
)

RECEIPT = format_receipt(id="123", state=MessageState.DELIVERED, submit_date="2401011200",
                         done_date="2401011201").encode()
MO = b"Hi, call me at 5: ok?"

# Bits 5-2 of esm_class (section 5.2.12); other bits (UDHI 0x40, reply path
# 0x80, messaging mode 0x03) must not matter.
MESSAGE_TYPES = [t << 2 for t in range(16)]
OTHER_BITS = [0x00, 0x03, 0x40, 0x80, 0xC3]


@pytest.mark.parametrize("other", OTHER_BITS)
@pytest.mark.parametrize("kind", MESSAGE_TYPES)
def test_is_receipt_by_message_type(kind: int, other: int) -> None:
    assert is_receipt(kind | other) == (kind in (0x04, 0x20))
    assert is_receipt(kind | other, {0x001E: b"1\x00"})  # receipted_message_id marks it
    assert is_receipt(kind | other, {0x0427: b"\x02"}) == (kind in (0x04, 0x20))


@pytest.mark.parametrize("detect", list(ReceiptDetect))
@pytest.mark.parametrize("kind", MESSAGE_TYPES)
def test_receipt_text_by_type_and_detection(kind: int, detect: ReceiptDetect) -> None:
    accepted = kind in (0x04, 0x20) or (kind == 0 and detect is ReceiptDetect.TEXT)
    if accepted:
        receipt = parse_receipt(RECEIPT, None, kind | 0x80, detect=detect)
        assert receipt.id == "123" and receipt.state is MessageState.DELIVERED
        assert receipt.intermediate == (kind == 0x20)
    else:
        with pytest.raises(NotAReceipt):
            parse_receipt(RECEIPT, None, kind, detect=detect)


@pytest.mark.parametrize("detect", list(ReceiptDetect))
@pytest.mark.parametrize("kind", MESSAGE_TYPES)
def test_mo_text_is_never_a_receipt(kind: int, detect: ReceiptDetect) -> None:
    # Flagged as a receipt but unparseable: a broken receipt, not MO.
    want = ReceiptError if kind in (0x04, 0x20) else NotAReceipt
    with pytest.raises(want) as info:
        parse_receipt(MO, None, kind, detect=detect)
    assert type(info.value) is want


def test_detect_accepts_the_config_strings() -> None:
    assert parse_receipt(RECEIPT, None, 0, detect="text").id == "123"
    with pytest.raises(ValueError):
        parse_receipt(RECEIPT, None, 0, detect="guess")


def test_wrong_short_message_type_is_a_receipt_error() -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(123, None, 0x04)  # type: ignore[arg-type]
    with pytest.raises(ReceiptError):
        parse_receipt(None, {0x0427: b"\x02"}, 0x04)  # type: ignore[arg-type]


def test_not_a_receipt_is_a_receipt_error() -> None:
    # The daemon catches ReceiptError once; NotAReceipt (MO) is the subclass
    # it may route elsewhere first.
    assert issubclass(NotAReceipt, ReceiptError)
    assert issubclass(ReceiptError, ValueError)
    with pytest.raises(ReceiptError):
        parse_receipt(MO, None, 0x00)


def test_receipt_is_frozen() -> None:
    receipt = parse_receipt(RECEIPT)
    with pytest.raises(AttributeError):
        receipt.state = MessageState.UNDELIVERABLE  # type: ignore[misc]


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=lambda w: w.__name__)
def test_tlv_values_may_be_any_bytes_like(wrap: type) -> None:
    tlvs = {0x001E: wrap(b"AB12\x00"), 0x0427: wrap(b"\x05"), 0x0423: wrap(b"\x03\x01\x02")}
    receipt = parse_receipt(b"", tlvs, 0x00)  # receipted_message_id marks it
    assert receipt.id == "AB12"
    assert receipt.state is MessageState.UNDELIVERABLE
    assert receipt.network_error is not None
    assert (receipt.network_error.type, receipt.network_error.code) == (3, 0x0102)


@pytest.mark.parametrize("odd", ["AB12", 5, None, [1, 2]], ids=repr)
def test_tlv_values_that_are_not_octets_count_as_absent(odd: object) -> None:
    tlvs = {0x001E: odd, 0x0427: odd, 0x0423: odd, 0x0424: odd}
    receipt = parse_receipt(RECEIPT, tlvs, 0x04)  # type: ignore[arg-type]
    assert receipt.id == "123" and receipt.state is MessageState.DELIVERED
    assert receipt.network_error is None
    with pytest.raises(ReceiptError):
        parse_receipt(b"", tlvs, 0x04)  # type: ignore[arg-type]
