"""Counters the pipeline updates per message: plain integers and lists, nothing else.

Measured on the development machine: a labelled prometheus_client histogram
observation costs about 2.5 us, against 31-34 us of daemon CPU per message in
all. These cost a ``bisect`` and two additions; the collector (``export.py``)
reads them only when ``/metrics`` is scraped.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from typing import Any

__all__ = [
    "FLUSH_ROWS_BOUNDS",
    "FLUSH_SECONDS_BOUNDS",
    "LATENCY_BOUNDS",
    "CarrierMetrics",
    "Histogram",
    "RecentAverage",
]

# Seconds. submit_sm_resp usually takes milliseconds, a receipt seconds to hours.
LATENCY_BOUNDS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
FLUSH_ROWS_BOUNDS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 4000)
FLUSH_SECONDS_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# submit -> receipt is measured from the submit's write; the write times of the
# accepted parts are kept by carrier message id until their receipt comes, at most
# this many per carrier (beyond, new ones are not tracked) and for at most an hour
# (``prune``): the rest simply is not observed.
MAX_TRACKED = 200_000
TRACK_SECONDS = 3600.0
_SUBMIT_SM = 0x00000004


class Histogram:
    """Cumulative buckets in the Prometheus sense (``le``): counts[i] holds the
    observations in (bounds[i-1], bounds[i]]; the last one those above every bound."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BOUNDS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def buckets(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs, ``+Inf`` last, as the text format wants them."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else _fmt(bound), total))
        return out


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


class RecentAverage:
    """The mean of a Histogram over the last ``span`` seconds, from snapshots.

    ``sample`` is called by the sampler task (every few seconds), never per
    observation: the hot path pays nothing for it.
    """

    __slots__ = ("_points", "hist", "span")

    def __init__(self, hist: Histogram, span: float = 900.0) -> None:
        self.hist = hist
        self.span = span
        self._points: deque[tuple[float, float, int]] = deque()

    def sample(self, now: float) -> None:
        self._points.append((now, self.hist.sum, self.hist.count))
        while len(self._points) > 1 and self._points[1][0] <= now - self.span:
            self._points.popleft()

    def mean(self) -> float | None:
        """Seconds, or None when nothing was observed in the span."""
        if not self._points:
            return None
        _, s0, c0 = self._points[0]
        s1, c1 = self.hist.sum, self.hist.count
        return (s1 - s0) / (c1 - c0) if c1 > c0 else None

    def since_last(self) -> tuple[float, int]:
        """(sum, count) observed since the last sample."""
        if not self._points:
            return self.hist.sum, self.hist.count
        _, s0, c0 = self._points[-1]
        return self.hist.sum - s0, self.hist.count - c0


class CarrierMetrics:
    """One carrier's counters, kept across its binds, reconnects and reloads.

    Updated by the binds' readers (``on_response``), the dispatcher (queue wait)
    and the writer (``on_accepted`` / ``on_receipt``); read by the collector.
    """

    __slots__ = (
        "_sent_at", "last_sent_at", "queue_wait", "receipt", "receipt_avg", "receipt_states",
        "resp", "resp_avg", "statuses", "submit_ok", "untracked",
    )  # fmt: skip

    def __init__(self) -> None:
        self.queue_wait = Histogram()  # enqueue -> claimed for submit
        self.resp = Histogram()  # submit_sm written -> submit_sm_resp read
        self.receipt = Histogram()  # submit_sm written -> receipt read
        self.resp_avg = RecentAverage(self.resp)
        self.receipt_avg = RecentAverage(self.receipt)
        # (request command_id, command_status) -> responses: every response a bind read
        self.statuses: dict[tuple[int, int], int] = {}
        self.submit_ok = 0  # submit_sm_resp ESME_ROK (kept apart from ``statuses``: the hot case)
        self.receipt_states: dict[str, int] = {}  # dlr.Status value -> receipts
        self.last_sent_at = 0.0  # write time of the request of the last response read
        self._sent_at: dict[str, float] = {}  # carrier message id key -> submit write time
        self.untracked = 0  # accepted parts not tracked for submit -> receipt (MAX_TRACKED)

    def on_response(self, request_command_id: int, status: int, sent_at: float, rtt: float) -> None:
        """A response to one of our requests (called before its waiter is resumed).
        The common case, submit_sm_resp OK, is one integer (``all_statuses`` merges it);
        a bind's reader does that case inline (bridge/carrier/session_loop.py): keep both alike."""
        self.last_sent_at = sent_at
        if request_command_id == _SUBMIT_SM:
            h = self.resp
            h.counts[bisect_left(h.bounds, rtt)] += 1
            h.sum += rtt
            if status == 0:
                self.submit_ok += 1
                return
        key = (request_command_id, status)
        statuses = self.statuses
        statuses[key] = statuses.get(key, 0) + 1

    def all_statuses(self) -> dict[tuple[int, int], int]:
        """(request command_id, command_status) -> responses read."""
        out = dict(self.statuses)
        if self.submit_ok:
            out[(_SUBMIT_SM, 0)] = out.get((_SUBMIT_SM, 0), 0) + self.submit_ok
        return out

    def on_accepted(self, key: str) -> None:
        """A part accepted under ``key``: remember when its submit_sm was written."""
        sent_at = self._sent_at
        if len(sent_at) < MAX_TRACKED:
            sent_at[key] = self.last_sent_at
        else:
            self.untracked += 1

    def on_receipt(self, key: str, state: str, now: float) -> None:
        states = self.receipt_states
        states[state] = states.get(state, 0) + 1
        sent = self._sent_at.pop(key, None)
        if sent is not None:
            h = self.receipt
            h.counts[bisect_left(h.bounds, now - sent)] += 1
            h.sum += now - sent

    def prune(self, now: float, keep: float = TRACK_SECONDS) -> int:
        """Forget submits older than ``keep`` (their receipt did not come here). Insertion
        order is write order, nearly: stop at the first one young enough."""
        sent_at = self._sent_at
        old = now - keep
        dropped = []
        for k, t in sent_at.items():
            if t >= old:
                break
            dropped.append(k)
        for k in dropped:
            del sent_at[k]
        return len(dropped)

    def sample(self, now: float) -> None:
        self.resp_avg.sample(now)
        self.receipt_avg.sample(now)

    @property
    def tracked(self) -> int:
        return len(self._sent_at)


def wall_clock(trio_time: float | None, trio_now: float, wall_now: float | None = None) -> float | None:
    """A trio clock reading as Unix time."""
    if trio_time is None:
        return None
    return (time.time() if wall_now is None else wall_now) - (trio_now - trio_time)


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0
