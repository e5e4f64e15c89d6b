"""The simulator's rate limit: at most N submits in any window of N / tps seconds.

Real SMSCs enforce a TPS per account and answer the excess with ESME_RTHROTTLED
(0x58, SMPP 3.4 section 5.1.3); the carrier code must back off and resubmit. A
sliding window over the last N accepted submits (a ring of their times) gives an
exact limit with O(1) work per submit: the submit is accepted when the N-th most
recent accepted one is at least ``period`` old.
"""

from __future__ import annotations

import math
from collections import deque


class TpsWindow:
    """``allow(now)`` -> True (and counts the submit) while under ``tps``."""

    __slots__ = ("_accepted", "limit", "period")

    def __init__(self, tps: float) -> None:
        if not tps > 0:
            raise ValueError(f"tps must be positive, got {tps!r}")
        # A rate below 1/s is one submit per 1/tps seconds; otherwise whole submits
        # per second (a fractional remainder would allow a burst above the rate).
        self.limit = max(1, math.floor(tps))
        self.period = self.limit / tps
        self._accepted: deque[float] = deque(maxlen=self.limit)

    def allow(self, now: float) -> bool:
        accepted = self._accepted
        if len(accepted) == self.limit and now - accepted[0] < self.period:
            return False
        accepted.append(now)  # maxlen drops the oldest
        return True
