"""What to do with a submit_sm_resp that is not ESME_ROK, and when to give up.

Default classification, by command_status (SMPP 3.4 section 5.1.3):

- ESME_RTHROTTLED 0x58, ESME_RMSGQFUL 0x14: the SMSC asks us to slow down (its
  rate limit; its queue is full). Slow the carrier down (AIMD, throttle.py) and
  resubmit the same part after a backoff. These answers do not count toward
  ``max_attempts`` (the part did nothing wrong); ``max_age`` still bounds them,
  since 0x14 may also mean one handset's queue is full: that part fails then.
- ESME_RSYSERR 0x08, ESME_RX_T_APPN 0x64: temporary on the SMSC side. Resubmit
  after a backoff.
- ESME_RINVBNDSTS 0x04: the SMSC no longer considers the bind bound (seen after
  SMSC fail-overs). Rebind, then resubmit.
- anything else: permanent, the part fails.

A part gets at most ``max_attempts`` counted submits within ``max_age`` of the
first one (config.schema.Carrier); after that the last status is final.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.carrier.backoff import BackoffPolicy
from bridge.smpp.constants import CommandStatus, command_status_of
from config.schema import Carrier as CarrierConfig


class Action(enum.Enum):
    THROTTLE = "throttle"  # AIMD decrease, then retry after a backoff
    RETRY = "retry"  # retry after a backoff
    REBIND = "rebind"  # drop the bind, bind again, then retry
    PERMANENT = "permanent"  # the part fails with this status


DEFAULT_ACTIONS: Mapping[int, Action] = MappingProxyType(
    {
        CommandStatus.ESME_RTHROTTLED: Action.THROTTLE,
        CommandStatus.ESME_RMSGQFUL: Action.THROTTLE,
        CommandStatus.ESME_RSYSERR: Action.RETRY,
        CommandStatus.ESME_RX_T_APPN: Action.RETRY,
        CommandStatus.ESME_RINVBNDSTS: Action.REBIND,
    }
)

# Retries of one part: short (the part is someone's OTP), capped well under max_age.
DEFAULT_RETRY_BACKOFF = BackoffPolicy(base=1.0, factor=2.0, cap=30.0)


def parse_overrides(raw: Mapping[str, str]) -> dict[int, Action]:
    """``{"0x58": "retry", "1035": "permanent"}`` (config form) -> ``{0x58: RETRY, ...}``.
    Keys are status numbers (decimal or 0x-hex) or CommandStatus names
    (``command_status_of``)."""
    out: dict[int, Action] = {}
    for key, value in raw.items():
        status = command_status_of(key)
        if status is None:
            raise ValueError(f"{key!r} is neither a command_status number nor an ESME_* name")
        try:
            out[status] = Action(value)
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise ValueError(f"unknown action {value!r} for {key} (known: {known})") from None
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    max_age: float = 600.0
    actions: Mapping[int, Action] = field(default_factory=lambda: DEFAULT_ACTIONS)
    backoff: BackoffPolicy = DEFAULT_RETRY_BACKOFF

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_age < 0:
            raise ValueError(f"invalid retry policy {self!r}")

    @classmethod
    def from_config(
        cls, cfg: CarrierConfig, overrides: Mapping[int, Action] | None = None
    ) -> RetryPolicy:
        """The carrier's limits and its ``status_actions`` table over the defaults;
        ``overrides`` (tests) replace single statuses' actions on top of both."""
        actions = dict(DEFAULT_ACTIONS)
        if cfg.status_actions:
            actions.update(parse_overrides(cfg.status_actions))
        if overrides:
            actions.update(overrides)
        return cls(
            max_attempts=cfg.max_attempts,
            max_age=cfg.max_age.seconds,
            actions=MappingProxyType(actions),
        )

    def classify(self, status: int) -> Action:
        return self.actions.get(status, Action.PERMANENT)

    def retry_delay(
        self, attempts: int, age: float, rng_value: float, *, counted: int | None = None
    ) -> float | None:
        """The delay before the next submit of a part that has had ``attempts``
        submits (the first ``age`` seconds ago), or None when it must fail now.

        ``counted``: how many of those count toward ``max_attempts`` (default:
        all). The carrier leaves out throttling answers (``Action.THROTTLE``),
        so a throttled part is bounded by ``max_age`` alone. The backoff grows
        with every submit, counted or not (capped at ``backoff.cap``).
        ``rng_value`` in [0, 1) jitters the delay (equal jitter, backoff.py)."""
        if counted is None:
            counted = attempts
        if counted >= self.max_attempts:
            return None
        delay = self.backoff.jittered(attempts - 1, rng_value)
        if age + delay > self.max_age:
            return None
        return delay
