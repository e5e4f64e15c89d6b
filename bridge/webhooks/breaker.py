"""A circuit breaker per endpoint origin: park a failing endpoint, probe it, resume.

Pure: the caller passes the time in (trio.current_time() in the sender).

    CLOSED --(``threshold`` failures in a row)--> OPEN (parked until now + pause)
    OPEN   --(the pause is over, one request may go: the probe)--> PROBING
    PROBING --(the probe delivered)--> CLOSED (pause back to ``pause``)
    PROBING --(the probe failed)--> OPEN (pause doubled, up to ``max_pause``)

While an endpoint is parked its due deliveries are not sent: each such
attempt is recorded as failed ("endpoint parked") and follows the schedule,
so a dead endpoint costs no connection and no timeout, and its events end
as they would have (the seed gives up after about 36 s anyway). Another
customer's endpoint is never touched by this state.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Breaker", "BreakerState"]


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    PROBING = "probing"


class Breaker:
    __slots__ = ("failures", "max_pause", "pause", "pause_first", "reopen_at", "state", "threshold")

    def __init__(self, *, threshold: int = 5, pause: float = 5.0, max_pause: float = 120.0) -> None:
        self.threshold = threshold
        self.pause_first = pause
        self.pause = pause
        self.max_pause = max_pause
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.reopen_at = 0.0

    def allow(self, now: float) -> bool:
        """May a request go now? In OPEN past the pause, the first caller is the probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and now >= self.reopen_at:
            self.state = BreakerState.PROBING
            return True
        return False

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.pause = self.pause_first

    def failure(self, now: float) -> None:
        if self.state is BreakerState.PROBING:
            self.pause = min(self.pause * 2, self.max_pause)
            self._open(now)
            return
        self.failures += 1
        if self.state is BreakerState.CLOSED and self.failures >= self.threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self.reopen_at = now + self.pause

    @property
    def idle(self) -> bool:
        """Nothing to remember: the endpoint's record may be dropped."""
        return self.state is BreakerState.CLOSED and self.failures == 0
