"""Soak: smpp-bridge like for like (API in, signed webhooks out) at a fixed rate for a long time.

An open loop for ``BENCH_SOAK_SECONDS`` (default 600; ``--quick``: 20 s at
200/s) at ``BENCH_SOAK_RATE`` requests/s, by default half the like-for-like
median of a ``compare`` run earlier in the same invocation (``python -m bench
compare soak``), else 500. Checks, on the series the load client and the /proc
sampler record:

- RSS of the daemon and the API grows by less than 5% from the end of the
  first minute (warm-up: pools, caches) to the end, each end the median of
  ten seconds of samples (one sample is one garbage collection away from the
  next);
- p99 from request to webhook in the last minute within 20% of the first;
- the messages accepted but not final (the queue) do not grow: the last
  minute's mean is at most 20% above the first's (plus one second's worth);
- p99 from HTTP accept to submit under 50 ms: from the database (the API
  transaction's commit to ``submitted_at``, the write of the submit_sm the SMSC
  accepted, bench/bridge_http.py), the daemon's ``queue_to_submit_seconds``
  histogram (transaction start to claimed) beside it.

A shortened soak says so in its label; it is never reported as the 10-minute one.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

DESCRIPTION = (
    "soak: smpp-bridge like for like at a fixed rate (10 min; --quick 20 s), RSS, p99, queue depth"
)


def _window(timeline: list[dict[str, Any]], key: str, first: bool, seconds: int) -> list[float]:
    points = timeline[:seconds] if first else timeline[-seconds:]
    return [float(p[key]) for p in points if p["p99_ms"] or key != "p99_ms"]


def _growth_by_group(
    rss: list[tuple[float, int]], by_group: dict[str, list[int]], minute: int
) -> dict[str, dict[str, float]]:
    """Start and end RSS (kB, the same ten-second medians as the sum's) and growth of each group."""
    out: dict[str, dict[str, float]] = {}
    times = [t for t, _ in rss]
    for name, values in by_group.items():
        warm = [(t, kb) for t, kb in zip(times, values, strict=False) if t >= minute]
        if not warm:
            continue
        start = statistics.median([kb for t, kb in warm if t < minute + 10] or [0])
        end = statistics.median([kb for t, kb in warm if t > warm[-1][0] - 10])
        pct = (end - start) / start * 100 if start else 0.0
        out[name] = {"start_kb": start, "end_kb": end, "growth_pct": round(pct, 2)}
    return out


def run(quick: bool) -> dict[str, Any]:
    from bench import bench_compare
    from bench.bridge_http import run_bridge_http

    seconds = 20.0 if quick else float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
    peak = bench_compare.LIKE_FOR_LIKE_MEDIAN
    half_peak = f"{peak / 2:.0f}" if peak else "500"
    rate = 200.0 if quick else float(os.environ.get("BENCH_SOAK_RATE", half_peak))
    count = int(rate * seconds)
    print(f"  soak: {count:,} messages at {rate:,.0f}/s ({seconds:,.0f} s) ...", flush=True)
    figure = run_bridge_http(count, rate=rate, timeout=seconds + 120)
    timeline = [p for p in figure["timeline"] if p["t"] <= seconds]
    minute = max(5, min(60, int(seconds) // 5))
    p99_first = statistics.median(_window(timeline, "p99_ms", True, minute) or [0.0])
    p99_last = statistics.median(_window(timeline, "p99_ms", False, minute) or [0.0])
    queue_first = statistics.mean(_window(timeline, "outstanding", True, minute) or [0.0])
    queue_last = statistics.mean(_window(timeline, "outstanding", False, minute) or [0.0])
    rss = figure["rss_series"]
    warm = [(t, kb) for t, kb in rss if t >= minute]
    rss_start = statistics.median([kb for t, kb in warm if t < minute + 10] or [0])
    rss_end = statistics.median([kb for t, kb in warm if t > warm[-1][0] - 10] or [0]) if warm else 0
    growth = (rss_end - rss_start) / rss_start * 100 if rss_start else 0.0
    growth_by = _growth_by_group(rss, figure.get("rss_series_by_group", {}), minute)
    to_resp, claimed = figure["latency_ms"]["accept_to_submit"], figure["latency_ms"]["accept_to_claimed"]
    label = (
        "10-minute soak"
        if seconds >= 600 and not quick
        else f"SHORTENED soak ({seconds:,.0f} s, not 10 minutes)"
    )
    run_ = {
        **figure, "rate": rate, "seconds_planned": seconds, "window_s": minute,
        "system_label": f"smpp-bridge like for like, {label}",
        "note": f"{label}; first and last windows of {minute} s compared.",
        "p99_first_ms": p99_first, "p99_last_ms": p99_last,
        "queue_first": queue_first, "queue_last": queue_last,
        "rss_start_kb": rss_start, "rss_end_kb": rss_end, "peak_like_for_like_per_s": peak, "rss_growth_pct": round(growth, 2),
        "rss_by_group": growth_by,
    }  # fmt: skip
    ok_final = (
        figure["final"] >= count
        and not figure["timed_out"]
        and figure.get("bad_signatures", 0) == 0
    )
    targets = {
        "every message final, every signature valid": {"want": "yes", "got": "yes" if ok_final else "no", "ok": ok_final},
        "RSS growth after warm-up": {"want": "< 5%", "ok": growth < 5,
                                     "got": f"{growth:.1f}%" + "".join(
                                         f"; {n} {g['start_kb'] / 1024:,.1f} -> {g['end_kb'] / 1024:,.1f} MiB ({g['growth_pct']:+.1f}%)"
                                         for n, g in growth_by.items())},
        f"p99 last {minute} s within 20% of first": {
            "want": f"<= {p99_first * 1.2:,.0f} ms", "got": round(p99_last, 1), "ok": p99_last <= p99_first * 1.2,
        },
        "queue depth not growing": {
            "want": f"<= {queue_first * 1.2 + rate:,.0f}", "got": round(queue_last, 1),
            "ok": queue_last <= queue_first * 1.2 + rate,
        },
        "p99 accept -> submit at this rate": {
            "want": "< 50 ms",
            "got": f"{to_resp['99']:,.0f} ms (accept {'= commit' if to_resp.get('from_commit') else '= transaction start'}"
            f" -> submit_sm written; transaction start -> claimed p99 <= {claimed['99']:,.0f} ms,"
            f" {claimed['share_under_50ms']:.1%} under 50 ms)",
            "ok": to_resp["99"] < 50,
        },
    }  # fmt: skip
    return {
        "figures": [{"name": f"soak ({label}) offered {rate:,.0f}/s", "unit": "msg/s", "median_per_s": figure["per_s"],
                     "items": count}],
        "targets": targets, "run": run_,
    }  # fmt: skip
