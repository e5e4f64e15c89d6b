"""The carrier's send rate: a token bucket whose rate adapts by AIMD.

Token bucket (GCRA form): instead of a token count we keep the *theoretical
arrival time* ``_tat`` of the next message. A message may go at
``max(_tat, now - burst_time)``; taking it moves ``_tat`` one interval (1/rate)
on. A waiter therefore sleeps exactly once, until its own slot, and waiters are
served in the order they arrived: no polling, no per-message task. When nothing
has been sent for a while, up to ``burst`` messages may go back to back (SMSCs
count TPS per second window; a small burst is what they tolerate).

AIMD (as TCP congestion control, RFC 5681 section 3.1): on a throttling answer
(SMPP 3.4 section 5.1.3: ESME_RTHROTTLED 0x58, ESME_RMSGQFUL 0x14; policy.py) the rate is multiplied by ``decrease`` (at most
once per ``decrease_interval``: a whole window of throttled responses arriving
together is one congestion signal, not 512); while responses succeed the rate
grows by ``increase`` messages/s per second, never above the configured TPS.
"""

from __future__ import annotations

from collections.abc import Callable

import trio


class Throttle:
    __slots__ = (
        "_clock",
        "_increase_from",
        "_last_decrease",
        "_tat",
        "burst",
        "decrease",
        "decrease_interval",
        "decreases",
        "increase",
        "interval",
        "max_rate",
        "min_rate",
        "rate",
        "throttled",
    )

    def __init__(
        self,
        max_rate: float,
        *,
        burst: float | None = None,
        increase: float | None = None,
        decrease: float = 0.5,
        decrease_interval: float = 1.0,
        min_rate: float | None = None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.max_rate = float(max_rate)
        self.rate = self.max_rate
        # Defaults: a tenth of a second of traffic may burst; recover from a
        # halving to the full rate in about five seconds; never below 1/s (or
        # the max, if that is lower) so a throttled carrier is still probed.
        self.burst = burst if burst is not None else max(1.0, self.max_rate / 10)
        self.increase = increase if increase is not None else max(1.0, self.max_rate / 10)
        self.min_rate = min_rate if min_rate is not None else min(1.0, self.max_rate)
        self.decrease = decrease
        self.decrease_interval = decrease_interval
        self.interval = 1.0 / self.rate
        self._clock = clock
        self._tat = float("-inf")
        self._last_decrease = float("-inf")
        self._increase_from: float | None = None
        self.throttled = 0  # 0x58 responses seen
        self.decreases = 0  # multiplicative decreases applied

    # --- the bucket --------------------------------------------------------------
    def reserve(self, now: float) -> float:
        """Take the next send slot; returns the time it is due (<= now: go now)."""
        start = self._tat
        earliest = now - (self.burst - 1.0) * self.interval
        if start < earliest:
            start = earliest
        self._tat = start + self.interval
        return start

    async def acquire(self, now: float | None = None) -> float:
        """Wait for a token. Not a checkpoint when one is available at once (the
        caller's next await is), so the hot path is a few float operations.
        ``now``: the caller's current time, if it has it (saves a clock read).
        Returns the time the token was granted (``now``, or the wake-up time)."""
        if now is None:
            now = self._clock()
        due = self.reserve(now)
        if due > now:
            return await self.wait(due)
        return now

    def give_back(self) -> None:
        """A slot taken with ``reserve`` was not used (nothing was sent): return it."""
        self._tat -= self.interval

    async def wait(self, due: float) -> float:
        """Sleep until a slot ``reserve`` returned in the future; the wake-up time."""
        try:
            await trio.sleep_until(due)
        except BaseException:
            # Cancelled while waiting: give the slot back so the rate holds.
            self.give_back()
            raise
        return self._clock()

    # --- AIMD --------------------------------------------------------------------
    def on_throttled(self) -> None:
        """An ESME_RTHROTTLED response: multiplicative decrease, once per interval."""
        self.throttled += 1
        now = self._clock()
        if now - self._last_decrease < self.decrease_interval:
            return
        self._last_decrease = now
        self.decreases += 1
        self._set_rate(max(self.min_rate, self.rate * self.decrease))
        self._increase_from = None
        # Slots already handed out at the old rate are not taken back, but new
        # ones start no earlier than one new interval from now: a throttled
        # carrier gets a pause, not the rest of the old burst.
        self._tat = max(self._tat, now + self.interval)

    def on_success(self) -> None:
        """A response that was not a throttling error: additive increase."""
        if self.rate >= self.max_rate:
            return
        now = self._clock()
        since = self._increase_from
        self._increase_from = now
        if since is None:
            return
        # An idle gap is no evidence the carrier would take more: count at most
        # one second of it.
        self._set_rate(min(self.max_rate, self.rate + self.increase * min(1.0, now - since)))

    def _set_rate(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / rate

    def __repr__(self) -> str:
        return f"<Throttle rate={self.rate:.1f}/{self.max_rate:g} throttled={self.throttled}>"
