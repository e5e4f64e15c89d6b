"""bridge.logs.LogLimiter: the first lines of a kind per interval, then one summary."""

from __future__ import annotations

from typing import Any

import structlog

from bridge.logs import LogLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **kw: Any) -> LogLimiter:
    return LogLimiter(structlog.get_logger("test"), clock=clock, **kw)


def test_first_lines_written_then_counted_then_one_summary_on_flush() -> None:
    clock = Clock()
    limits = limiter(clock, burst=3, interval=60.0)
    with structlog.testing.capture_logs() as logs:
        written = [limits.warning("nack", seq=n) for n in range(10_000)]
        assert written[:3] == [True] * 3 and not any(written[3:])
        assert limits.suppressed == 9_997
        limits.flush()
        limits.flush()  # nothing more to say
    assert [e.get("seq") for e in logs] == [0, 1, 2, 9_999]
    summary = logs[-1]
    assert summary["suppressed"] == 9_997 and summary["interval"] == 60.0
    assert summary["log_level"] == "warning" and summary["event"] == "nack"
    assert limits.suppressed == 0


def test_one_summary_per_interval_and_a_new_burst_after_it() -> None:
    clock = Clock()
    limits = limiter(clock, burst=2, interval=10.0)
    with structlog.testing.capture_logs() as logs:
        for step in range(100):  # 100 s of one line every second
            clock.now = float(step)
            limits.warning("flood")
    # per 10 s: 2 lines, then (from the second interval on) the summary of the one before
    assert len(logs) == 10 * 2 + 9
    summaries = [e for e in logs if "suppressed" in e]
    assert [e["suppressed"] for e in summaries] == [8] * 9


def test_kinds_and_keys_and_levels_are_limited_apart() -> None:
    clock = Clock()
    limits = limiter(clock, burst=1)
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            limits.warning("a", key="carrier1")
            limits.warning("a", key="carrier2")
            limits.warning("b")
            limits.error("b", exc_info=ValueError("x"))
        limits.flush()
    firsts = [e for e in logs if "suppressed" not in e]
    assert len(firsts) == 4 and len(logs) == 8
    assert all("exc_info" not in e for e in logs if "suppressed" in e)  # no traceback in a summary
