"""The pure helpers of the store: numbers, types, senders, routes, money, ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store.accounts import money
from bridge.store.enqueue import classify_type, parse_number
from bridge.store.models import _PAIRS, iso_millis, new_public_id, new_public_ids, public_ids
from bridge.store.routing import RouteTable
from bridge.store.senders import InvalidSender, SenderKind, classify_sender
from config.load import parse_config
from config.schema import Classify

RULES = Classify()


@pytest.mark.parametrize(
    ("raw", "e164", "country"),
    [
        ("+60123456789", "+60123456789", "MY"),
        ("60123456789", "+60123456789", "MY"),  # the seed validates with a leading '+'
        (" +60 12-345 6789 ", "+60123456789", "MY"),
        ("+6591234567", "+6591234567", "SG"),
        ("+14155552671", "+14155552671", "US"),
    ],
)
def test_valid_numbers(raw: str, e164: str, country: str) -> None:
    number = parse_number(raw)
    assert number is not None and (number.e164, number.country) == (e164, country)


@pytest.mark.parametrize("raw", ["", "+", "12345", "+60123", "abc", "+999123456789", "0123456789"])
def test_invalid_numbers(raw: str) -> None:
    assert parse_number(raw) is None


@given(st.text(max_size=20))
def test_parse_number_never_raises(raw: str) -> None:
    number = parse_number(raw)
    assert number is None or re.fullmatch(r"\+[1-9]\d{6,14}", number.e164)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Your verification code is 482915", "otp"),
        ("Code: 1234", "otp"),
        ("Use 12345678 to log in", "otp"),
        ("Your order 123 has shipped", "transactional"),  # 3 digits is not a code
        ("Ref 123456789 confirmed", "transactional"),  # 9 digits is not a code
        ("Big SALE this weekend", "marketing"),
        ("Get 20% OFF today", "marketing"),
        ("Wholesale order confirmed", "transactional"),  # "sale" only as a word
        ("Your appointment is tomorrow at 10:00", "transactional"),
        ("SALE! code 4821 " + "x" * 160, "marketing"),  # too long for an OTP
    ],
)
def test_classify_type(body: str, kind: str) -> None:
    assert classify_type(body, RULES) == kind


def test_promotional_words_are_configurable() -> None:
    rules = Classify(promotional_words=("flash",))
    assert classify_type("Flash deal", rules) == "marketing"
    assert classify_type("Big SALE", rules) == "transactional"


@pytest.mark.parametrize(
    ("sender", "address", "kind", "ton", "npi"),
    [
        ("ProSignals", "ProSignals", SenderKind.ALPHANUMERIC, 5, 0),
        ("My Shop 24", "My Shop 24", SenderKind.ALPHANUMERIC, 5, 0),
        ("+60123456789", "60123456789", SenderKind.INTERNATIONAL, 1, 1),
        ("60123456789", "60123456789", SenderKind.INTERNATIONAL, 1, 1),
        ("72888", "72888", SenderKind.SHORT_CODE, 3, 0),
        ("123", "123", SenderKind.SHORT_CODE, 3, 0),
    ],
)
def test_sender_kinds(sender: str, address: str, kind: SenderKind, ton: int, npi: int) -> None:
    parsed = classify_sender(sender)
    assert (parsed.address, parsed.kind, parsed.ton, parsed.npi) == (address, kind, ton, npi)


@pytest.mark.parametrize("sender", ["", "12", "TwelveChars!", "Euro€", "tab\there", "+0123456789", "1234567890123456"])
def test_invalid_senders(sender: str) -> None:
    with pytest.raises(InvalidSender):
        classify_sender(sender)


def test_route_lookup_longest_prefix_then_country_then_default() -> None:
    config = parse_config(
        """
[[carriers]]
name = "a"
host = "h"
system_id = "s"
[[routes]]
name = "my"
prefix = "60"
carriers = [{ carrier = "a" }]
[[routes]]
name = "my-mobile"
prefix = "+601"
carriers = [{ carrier = "a" }]
[[routes]]
name = "sg"
country = "SG"
carriers = [{ carrier = "a" }]
[[routes]]
name = "rest"
default = true
carriers = [{ carrier = "a" }]
"""
    )
    table = RouteTable(config)

    def label(digits: str, country: str) -> str | None:
        route = table.lookup(digits, country)
        return route.label if route else None

    assert label("60123456789", "MY") == "my-mobile"
    assert label("6031234567", "MY") == "my"
    assert label("6591234567", "SG") == "sg"
    assert label("447400123456", "GB") == "rest"
    assert table.carriers(config.routes[0])[0].name == "a"
    assert RouteTable(parse_config("")).lookup("60123456789", "MY") is None


def test_money_is_exact() -> None:
    assert money("0.05") == Decimal("0.0500")
    assert money(3) == Decimal("3.0000")
    for bad in ("0.00001", "-1", "NaN", "1e12"):
        with pytest.raises(ValueError):
            money(bad)
    with pytest.raises(TypeError):
        money(0.05)  # type: ignore[arg-type]


def test_public_ids_are_prefixed_unique_and_time_ordered() -> None:
    ids = [new_public_id("msg") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"msg_[0-9a-hjkmnp-tv-z]{26}", i) for i in ids)
    assert ids[0][:14] <= ids[-1][:14]  # the leading characters are the millisecond clock


def test_iso_millis_matches_the_seed() -> None:
    moment = datetime(2026, 5, 16, 16, 14, 22, 103999, tzinfo=timezone(timedelta(hours=8)))
    assert iso_millis(moment) == "2026-05-16T08:14:22.103Z"
    assert iso_millis(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


def test_public_ids_made_together_are_unique_and_shaped_alike() -> None:
    ids = [i for _ in range(20) for i in new_public_ids("msg", 100)] + new_public_ids("camp", 1)
    assert len(set(ids)) == len(ids) == 2001
    assert all(re.fullmatch(r"msg_[0-9a-hjkmnp-tv-z]{26}", i) for i in ids[:-1])
    assert re.fullmatch(r"camp_[0-9a-hjkmnp-tv-z]{26}", ids[-1])
    assert new_public_ids("msg", 0) == []
    # The 80 random bits differ from id to id (the 48-bit clock is shared).
    assert len({i[-16:] for i in ids}) == len(ids)


@given(st.integers(min_value=0, max_value=2**48 - 1), st.binary(min_size=0, max_size=400).map(lambda b: b[: len(b) // 10 * 10]))
def test_ids_made_together_are_those_made_one_at_a_time(millis: int, random: bytes) -> None:
    # new_public_id's layout: 26 characters, 10 bits (two characters) at a
    # time from the top of millis << 80 | the id's 80 random bits.
    one_at_a_time = [
        "msg_" + "".join(_PAIRS[(millis << 80 | int.from_bytes(random[i : i + 10])) >> shift & 1023]
                         for shift in range(120, -1, -10))
        for i in range(0, len(random), 10)
    ]  # fmt: skip
    assert public_ids("msg", millis, random) == one_at_a_time
