"""Every corpus receipt parses to exactly its expected value."""

from __future__ import annotations

import pytest

from dlr import (
    ReceiptError,
    id_key,
    parse_receipt,
    parse_text,
)
from dlr.text import _parse_tolerant
from tests.dlr.corpus import DIFFERENT_PART_IDS, SAME_PART_IDS, SAMPLES, Sample

GOOD = [s for s in SAMPLES if not isinstance(s.expected, type)]
BAD = [s for s in SAMPLES if isinstance(s.expected, type)]


def test_corpus_names_are_unique() -> None:
    assert len({s.name for s in SAMPLES}) == len(SAMPLES)


@pytest.mark.parametrize("sample", GOOD, ids=lambda s: s.name)
def test_receipt_parses_to_expected(sample: Sample) -> None:
    got = parse_receipt(sample.short_message, sample.tlvs or None, sample.esm_class,
                        detect=sample.detect)
    assert got == sample.expected


@pytest.mark.parametrize("sample", GOOD, ids=lambda s: s.name)
def test_receipt_parses_the_same_from_str_bytearray_and_memoryview(sample: Sample) -> None:
    args = (sample.tlvs or None, sample.esm_class)
    want = sample.expected
    text = sample.short_message.decode("latin-1")
    assert parse_receipt(text, *args, detect=sample.detect) == want
    assert parse_receipt(bytearray(sample.short_message), *args, detect=sample.detect) == want
    assert parse_receipt(memoryview(sample.short_message), *args, detect=sample.detect) == want


@pytest.mark.parametrize("sample", BAD, ids=lambda s: s.name)
def test_non_receipt_raises_expected_error(sample: Sample) -> None:
    assert isinstance(sample.expected, type)
    with pytest.raises(sample.expected) as info:
        parse_receipt(sample.short_message, sample.tlvs or None, sample.esm_class,
                      detect=sample.detect)
    # NotAReceipt only for "not a receipt"; a broken receipt is not MO.
    assert type(info.value) is sample.expected


@pytest.mark.parametrize("sample", GOOD, ids=lambda s: s.name)
def test_fast_and_tolerant_parsers_agree(sample: Sample) -> None:
    text = sample.short_message.decode("latin-1").strip("\x00 \t\r\n")
    assert parse_text(text) == _parse_tolerant(text)


def test_dates_of_corpus_receipts() -> None:
    by_name = {s.name: s.expected for s in GOOD}
    r = by_name["twelve-digit-dates-20-digit-id"]
    assert not isinstance(r, type)
    assert r.submit_date is not None and r.submit_date.isoformat() == "2025-06-07T08:09:10"
    assert r.submit_date.tzinfo is None  # SMSC local time, naive on purpose
    r = by_name["invalid-date"]
    assert not isinstance(r, type)
    assert r.submit_date is None and r.done_date is None
    assert r.submit_date_text == "2413011200"
    r = by_name["four-digit-year"]
    assert not isinstance(r, type)
    assert r.done_date is not None and r.done_date.isoformat() == "2024-07-07T07:08:09"


def test_error_codes_of_corpus_receipts() -> None:
    codes = {s.name: s.expected.error_code for s in GOOD if not isinstance(s.expected, type)}
    assert codes["undeliv-decimal-err"] == 75
    assert codes["rejected-hex-err"] == 0x0B
    assert codes["undeliv-0x-err-no-text"] == 0x1F
    assert codes["alphanumeric-err"] == 0xA3
    assert codes["id-and-stat-only"] is None


@pytest.mark.parametrize(("a", "a_form", "b", "b_form"), SAME_PART_IDS)
def test_ids_of_one_part_meet(a: str, a_form: str, b: str, b_form: str) -> None:
    assert id_key(a, a_form) == id_key(b, b_form)


@pytest.mark.parametrize(("a", "a_form", "b", "b_form"), DIFFERENT_PART_IDS)
def test_ids_of_different_parts_stay_apart(a: str, a_form: str, b: str, b_form: str) -> None:
    assert id_key(a, a_form) != id_key(b, b_form)


def test_receipt_error_is_a_value_error() -> None:
    assert issubclass(ReceiptError, ValueError)
