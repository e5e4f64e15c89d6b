"""Capped, jittered exponential backoff (reconnects and temporary-error retries).

Why jitter: after an SMSC restart every bind of every bridge would otherwise come
back in the same millisecond and be refused together again. "Equal jitter" keeps
half of the exponential delay fixed, so a flapping peer is never hammered at
delay ~0, and spreads the other half uniformly. The random source is injectable
so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class BackoffPolicy:
    """delay(n) = d/2 + uniform(0, d/2) with d = min(cap, base * factor**n), n from 0."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.factor < 1:
            raise ValueError(f"invalid backoff {self!r}")

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay before retry number ``attempt`` (0-based)."""
        # Compare exponents, not powers: factor**attempt overflows a float long
        # before a reconnect loop gives up.
        if attempt >= 64:
            return self.cap
        return min(self.cap, self.base * self.factor**attempt)

    def jittered(self, attempt: int, fraction: float) -> float:
        """Equal jitter: half of ``ceiling(attempt)`` fixed, plus ``fraction`` (in [0, 1))
        of the other half."""
        half = self.ceiling(attempt) / 2
        return half + fraction * half

    def delay(self, attempt: int, rng: random.Random) -> float:
        return self.jittered(attempt, rng.random())


class Backoff:
    """A running backoff: ``next()`` grows the delay, ``reset()`` after a success."""

    __slots__ = ("attempt", "policy", "rng")

    def __init__(self, policy: BackoffPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.attempt = 0

    def next(self) -> float:
        delay = self.policy.delay(self.attempt, self.rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
