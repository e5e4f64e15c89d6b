"""Hypothesis: formatted receipts parse back; no input escapes as anything but ReceiptError."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dlr import (
    STAT_WORD_OF,
    MessageState,
    Receipt,
    ReceiptDetect,
    ReceiptError,
    format_receipt,
    parse_receipt,
    parse_text,
)
from dlr.parse import _parse_general
from dlr.text import _parse_tolerant

STRIP = "\x00 \t\r\n"

ids = st.one_of(
    st.from_regex(r"[0-9]{1,64}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F]{1,64}", fullmatch=True),
    st.uuids().map(str),
    # Anything printable without white space, colons included.
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64),
)
dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))
raw_dates = st.one_of(
    dates.map(lambda d: d.strftime("%y%m%d%H%M")),
    dates.map(lambda d: d.strftime("%y%m%d%H%M%S")),
    st.from_regex(r"[0-9]{10}|[0-9]{12}", fullmatch=True),  # often not a calendar date
)
errs = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8)
texts = st.one_of(st.none(), st.text(st.characters(max_codepoint=0xFF), max_size=40))
counts = st.integers(0, 999)


def _expected_text(text: str | None) -> str | None:
    # The whole message loses trailing NUL / white space, the text its leading white space.
    return None if text is None else text.rstrip(STRIP).lstrip()


@given(ids, st.sampled_from(MessageState), counts, counts, raw_dates, raw_dates, errs, texts)
def test_formatted_receipt_parses_back(
    rid: str, state: MessageState, sub: int, dlvrd: int, submitted: str, done: str,
    err: str, text: str | None,
) -> None:
    message = format_receipt(id=rid, state=state, sub=sub, dlvrd=dlvrd, submit_date=submitted,
                             done_date=done, err=err, text=text)
    got = parse_receipt(message.encode("latin-1") + b"\x00")
    assert got == Receipt(
        id=rid, state=state, stat=STAT_WORD_OF[state], err=err, sub=sub, dlvrd=dlvrd,
        submit_date_text=submitted, done_date_text=done, text=_expected_text(text),
    )


@given(dates, dates, st.booleans())
def test_dates_round_trip(submitted: datetime, done: datetime, seconds: bool) -> None:
    message = format_receipt(id="1", state=MessageState.DELIVERED, submit_date=submitted,
                             done_date=done, seconds=seconds)
    got = parse_receipt(message)
    def cut(d: datetime) -> datetime:
        return d.replace(microsecond=0) if seconds else d.replace(second=0, microsecond=0)

    assert got.submit_date == cut(submitted)
    assert got.done_date == cut(done)


# Keys as SMSCs spell them: any case, with the date keys' inner separator varied.
def _spell(draw: Any, key: str) -> str:
    if key in ("submit date", "done date"):
        first, second = key.split(" ")
        key = first + draw(st.sampled_from([" ", "  ", "\n", "_", "", "\t"])) + second
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in key)


@st.composite
def shuffled_receipts(draw: Any) -> tuple[str, dict[str, Any]]:
    fields: dict[str, Any] = {
        "id": draw(ids),
        "stat": draw(st.sampled_from(sorted(STAT_WORD_OF.values()))),
    }
    optional = {
        "sub": draw(counts), "dlvrd": draw(counts), "submit date": draw(raw_dates),
        "done date": draw(raw_dates), "err": draw(errs),
    }
    for key, value in optional.items():
        if draw(st.booleans()):
            fields[key] = value
    order = draw(st.permutations(list(fields)))
    extras = draw(st.lists(
        st.tuples(st.from_regex(r"[a-z]{2,8}", fullmatch=True), st.from_regex(r"[!-~]{0,8}", fullmatch=True)),
        max_size=3,
    ))
    known = {"id", "sub", "dlvrd", "stat", "err", "text", "submitdate", "donedate"}
    parts = []
    for key in order:
        value = fields[key]
        shown = f"{value:03d}" if isinstance(value, int) else value
        sep = draw(st.sampled_from(["", " ", "  "]))  # after the colon
        parts.append(f"{_spell(draw, key)}:{sep}{shown}")
    for name, value in extras:
        if name not in known:
            # An unknown field never goes first: it would sit in no one's segment.
            parts.insert(draw(st.integers(1, len(parts))), f"{name}:{value}")
    text = draw(texts)
    if text is not None:
        parts.append(f"{_spell(draw, 'text')}:{text}")
    glue = draw(st.sampled_from([" ", "  ", "\t", " \r\n "]))
    return glue.join(parts), {**fields, "text": _expected_text(text)}


@given(shuffled_receipts())
def test_any_order_case_and_spacing_parses_to_the_same_fields(case: tuple[str, dict[str, Any]]) -> None:
    message, fields = case
    got = parse_receipt(message.encode("latin-1"))
    assert got.id == fields["id"]
    assert got.stat == fields["stat"]
    assert got.sub == fields.get("sub")
    assert got.dlvrd == fields.get("dlvrd")
    assert got.submit_date_text == fields.get("submit date")
    assert got.done_date_text == fields.get("done date")
    assert got.err == fields.get("err")
    assert got.text == fields["text"]


@given(ids, st.sampled_from(MessageState), counts, counts, raw_dates, raw_dates, errs, texts)
def test_fast_path_and_tolerant_parser_agree(
    rid: str, state: MessageState, sub: int, dlvrd: int, submitted: str, done: str,
    err: str, text: str | None,
) -> None:
    message = format_receipt(id=rid, state=state, sub=sub, dlvrd=dlvrd, submit_date=submitted,
                             done_date=done, err=err, text=text).strip(STRIP)
    assert parse_text(message) == _parse_tolerant(message)


tlv_maps = st.dictionaries(
    st.one_of(st.sampled_from([0x001E, 0x0427, 0x0423, 0x0424]), st.integers(0, 0xFFFF)),
    st.binary(max_size=80),
    max_size=5,
)
esm_classes = st.one_of(st.sampled_from([0x00, 0x04, 0x08, 0x20, 0x24, 0x44, 0x84]),
                        st.integers(0, 255))


@given(ids, st.sampled_from(MessageState), counts, counts, raw_dates, raw_dates, errs, texts,
       st.one_of(st.none(), tlv_maps), st.sampled_from([0x04, 0x20, 0x44, 0x84, 0x60]))
def test_fast_path_with_tlvs_agrees_with_the_general_path(
    rid: str, state: MessageState, sub: int, dlvrd: int, submitted: str, done: str,
    err: str, text: str | None, tlvs: dict[int, bytes] | None, esm: int,
) -> None:
    # A canonical receipt text, any TLVs (well formed or not): the fast path of
    # parse_receipt gives what the general path (parse_text, then _assemble) gives.
    message = format_receipt(id=rid, state=state, sub=sub, dlvrd=dlvrd, submit_date=submitted,
                             done_date=done, err=err, text=text)
    kind = esm & 0x3C
    assert parse_receipt(message, tlvs, esm) == _parse_general(message, tlvs, kind, ReceiptDetect.ESM_CLASS)


def _parses_or_receipt_error(message: bytes, tlvs: dict[int, bytes] | None, esm: int,
                             detect: ReceiptDetect) -> None:
    try:
        got = parse_receipt(message, tlvs, esm, detect=detect)
    except ReceiptError:
        return
    assert isinstance(got, Receipt)
    # No whitespace around the id, in the parser's sense: ASCII whitespace, as SMSCs
    # write receipt text. Python's str.strip() also strips Unicode spaces such as
    # U+0085 and U+00A0, which the parser (re.ASCII) keeps as part of a word.
    assert got.id and got.id == got.id.strip(string.whitespace)
    assert isinstance(got.state, MessageState)


@given(st.binary(max_size=300), st.one_of(st.none(), tlv_maps), esm_classes,
       st.sampled_from(ReceiptDetect))
def test_any_bytes_parse_or_raise_receipt_error(
    message: bytes, tlvs: dict[int, bytes] | None, esm: int, detect: ReceiptDetect
) -> None:
    _parses_or_receipt_error(message, tlvs, esm, detect)


# Random bytes rarely look like a receipt; these fragments do, nearly.
fragments = st.sampled_from([
    "id:", "ID:", "sub:", "dlvrd:", "submit date:", "done\ndate:", "stat:", "err:", "text:",
    "Text:", "DELIVRD", "undeliv", "ACCEPTD", "0", "12", "2401011200", "ff", " ", "  ", "\t",
    "\x00", "\r\n", ":", "x", "\xe9", "\x85", "\xa0", "\u0663",
])


@given(st.lists(fragments, max_size=40).map("".join), st.one_of(st.none(), tlv_maps),
       esm_classes, st.sampled_from(ReceiptDetect))
def test_receipt_like_noise_parses_or_raises_receipt_error(
    message: str, tlvs: dict[int, bytes] | None, esm: int, detect: ReceiptDetect
) -> None:
    _parses_or_receipt_error(message.encode("utf-8"), tlvs, esm, detect)
    _parse_str_or_receipt_error(message, tlvs, esm, detect)


def _parse_str_or_receipt_error(message: str, tlvs: dict[int, bytes] | None, esm: int,
                                detect: ReceiptDetect) -> None:
    try:
        parse_receipt(message, tlvs, esm, detect=detect)
    except ReceiptError:
        pass


odd_tlv_values = st.one_of(st.binary(max_size=70), st.binary(max_size=70).map(bytearray),
                           st.binary(max_size=70).map(memoryview), st.none(), st.integers(),
                           st.text(max_size=10))
odd_tlv_maps = st.dictionaries(st.sampled_from([0x001E, 0x0427, 0x0423, 0x0424, 0x1400]),
                               odd_tlv_values, max_size=5)


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)), odd_tlv_maps,
       st.integers(-1, 0x1FF), st.sampled_from(ReceiptDetect))
def test_odd_tlv_values_and_str_input_parse_or_raise_receipt_error(
    message: bytes | str, tlvs: dict[int, Any], esm: int, detect: ReceiptDetect
) -> None:
    try:
        got = parse_receipt(message, tlvs, esm, detect=detect)
    except ReceiptError:
        return
    assert got.id and isinstance(got.state, MessageState)


@given(ids, st.sampled_from(MessageState), counts, counts, raw_dates, raw_dates, errs,
       st.one_of(st.none(), st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)),
                                    max_size=30)))
def test_ucs2_receipt_parses_like_its_text(
    rid: str, state: MessageState, sub: int, dlvrd: int, submitted: str, done: str,
    err: str, text: str | None,
) -> None:
    message = format_receipt(id=rid, state=state, sub=sub, dlvrd=dlvrd, submit_date=submitted,
                             done_date=done, err=err, text=text)
    assert parse_receipt(message.encode("utf-16-be")) == parse_receipt(message)
