"""Carrier query_sm keys: off by default, validated at the edge (house rule 7)."""

from __future__ import annotations

import re

import pytest

from config.load import ConfigError, parse_config

BASE = """
[[carriers]]
name = "c"
host = "127.0.0.1"
system_id = "bridge"
tps = 50
{extra}
"""


def _carrier(extra: str = ""):  # type: ignore[no-untyped-def]
    return parse_config(BASE.format(extra=extra), source="t.toml").carrier("c")


def test_query_sm_is_off_by_default_with_sensible_values() -> None:
    c = _carrier()
    assert c.query_sm is False
    assert c.query_after.seconds == 600
    assert c.query_rate is None and c.query_rate_effective == 5.0  # a tenth of tps


def test_query_keys_parse() -> None:
    c = _carrier('query_sm = true\nquery_after = "2m"\nquery_rate = 7.5')
    assert (c.query_sm, c.query_after.seconds, c.query_rate_effective) == (True, 120.0, 7.5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("query_rate = 51", "above tps"),
        ("query_rate = 0", "carriers[0].query_rate"),
        ('query_sm = true\nquery_after = "0s"', "above zero"),
        ('query_sm = true\nquery_after = "3d"', "shorter than receipt_timeout"),
        ('query_sm = true\nbind_mode = "rx"', "tx or trx"),
        ('query_sm = "yes"', "carriers[0].query_sm"),
    ],
)
def test_bad_query_settings_are_refused(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _carrier(extra)


def test_a_receiver_carrier_without_query_sm_is_fine() -> None:
    assert _carrier('bind_mode = "rx"').query_sm is False
