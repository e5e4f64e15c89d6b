"""Backoff (capped, jittered, exponential) and the status policy."""

from __future__ import annotations

import random

import pytest

from bridge.carrier.backoff import Backoff, BackoffPolicy
from bridge.carrier.policy import DEFAULT_ACTIONS, Action, RetryPolicy, parse_overrides
from bridge.smpp.constants import CommandStatus
from config.schema import Carrier, Duration


def test_delays_grow_then_cap_and_stay_in_the_jitter_band() -> None:
    policy = BackoffPolicy(base=0.5, factor=2.0, cap=8.0)
    backoff = Backoff(policy, random.Random(1))
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for ceiling in ceilings:
        delay = backoff.next()
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next() <= 0.5


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert BackoffPolicy(cap=30).ceiling(10_000) == 30


def test_jitter_comes_from_the_injected_rng() -> None:
    policy = BackoffPolicy()
    a = [policy.delay(3, random.Random(7)) for _ in range(2)]
    b = [policy.delay(3, random.Random(8)) for _ in range(2)]
    assert a[0] == a[1] and a[0] != b[0]


def test_invalid_backoff() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(base=0)
    with pytest.raises(ValueError):
        BackoffPolicy(base=5, cap=1)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (CommandStatus.ESME_RTHROTTLED, Action.THROTTLE),
        (CommandStatus.ESME_RMSGQFUL, Action.THROTTLE),  # like 0x58: slow down, not counted
        (CommandStatus.ESME_RSYSERR, Action.RETRY),
        (CommandStatus.ESME_RX_T_APPN, Action.RETRY),
        (CommandStatus.ESME_RINVBNDSTS, Action.REBIND),
        (CommandStatus.ESME_RINVDSTADR, Action.PERMANENT),
        (CommandStatus.ESME_RX_P_APPN, Action.PERMANENT),
        (0x400, Action.PERMANENT),  # vendor specific: permanent unless configured
    ],
)
def test_default_classification(status: int, action: Action) -> None:
    assert RetryPolicy().classify(status) is action


def _carrier(**kw: object) -> Carrier:
    return Carrier(name="c1", host="127.0.0.1", system_id="bridge", **kw)  # type: ignore[arg-type]


def test_limits_come_from_the_carrier_config() -> None:
    policy = RetryPolicy.from_config(_carrier(max_attempts=3, max_age=Duration(20)))
    assert policy.max_attempts == 3 and policy.max_age == 20


def test_per_carrier_overrides() -> None:
    policy = RetryPolicy.from_config(
        _carrier(), overrides=parse_overrides({"0x400": "retry", "ESME_RTHROTTLED": "permanent"})
    )
    assert policy.classify(0x400) is Action.RETRY
    assert policy.classify(CommandStatus.ESME_RTHROTTLED) is Action.PERMANENT
    assert policy.classify(CommandStatus.ESME_RSYSERR) is Action.RETRY
    assert DEFAULT_ACTIONS[CommandStatus.ESME_RTHROTTLED] is Action.THROTTLE  # untouched


def test_status_actions_from_the_carrier_config() -> None:
    policy = RetryPolicy.from_config(
        _carrier(status_actions={"0x45": "retry", "ESME_RMSGQFUL": "permanent"})
    )
    assert policy.classify(0x45) is Action.RETRY  # ESME_RSUBMITFAIL, permanent by default
    assert policy.classify(CommandStatus.ESME_RMSGQFUL) is Action.PERMANENT
    assert policy.classify(CommandStatus.ESME_RTHROTTLED) is Action.THROTTLE  # default kept


def test_bad_overrides() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        parse_overrides({"0x58": "later"})
    with pytest.raises(ValueError, match="neither a command_status"):
        parse_overrides({"ESME_NOPE": "retry"})
    with pytest.raises(ValueError, match="neither a command_status"):
        parse_overrides({"0": "retry"})  # ESME_ROK: a success has no action


def test_retry_stops_at_max_attempts_and_max_age() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=10.0)
    assert policy.retry_delay(1, age=0.0, rng_value=0.0) == 0.5  # ceiling 1 s, half fixed
    assert policy.retry_delay(2, age=0.0, rng_value=0.999) == pytest.approx(2.0, abs=0.01)
    assert policy.retry_delay(3, age=0.0, rng_value=0.0) is None  # attempts used up
    assert policy.retry_delay(1, age=9.8, rng_value=0.0) is None  # would pass max_age


def test_uncounted_submits_are_bounded_by_max_age_alone() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=100.0)
    # 10 submits, 9 of them throttled: one counted, so the part goes on, and the
    # backoff has grown with every submit (capped at 30 s).
    assert policy.retry_delay(10, age=0.0, rng_value=0.0, counted=1) == 15.0
    assert policy.retry_delay(10, age=0.0, rng_value=0.0, counted=3) is None  # counted ones used up
    assert policy.retry_delay(10, age=90.0, rng_value=0.0, counted=0) is None  # would pass max_age
