"""A long end-to-end run, cut in quarters: does the rate hold, does the daemon grow?

``python -m bench.quarters_e2e [--count 1000000]`` runs ``bench_e2e.run_once`` once
(no webhooks) with ``quarters=True``: the monitor notes when each quarter of the
messages was settled (the ledger's newest id, one index probe per poll), the
daemon's RSS then, and the CPU of the daemon and of the PostgreSQL backends over
each quarter. It prints them, checks the last quarter's rate against the first's
(within 5%) and the daemon's RSS growth (under 50 MB), and writes
``bench/results/<date>-e2e-quarters.json``. A million messages take a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.__main__ import _cpu_model, _python_loop_mops
from bench.common import results_path
from bench.procstat import rss_kb

HERE = Path(__file__).resolve().parent
RATE_DRIFT = 0.05  # the last quarter within 5% of the first
RSS_GROWTH_KB = 50 * 1024

# Settlements so far: the ledger's newest id (its primary key, one probe however
# large the table), less the ids taken before the daemon started. Only for the
# quarters of a long run; a settlement that met a conflict also takes an id.
LAST_LEDGER_ID = "SELECT coalesce(max(id), 0) FROM ledger"


_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, iowait) CPU seconds of the whole machine since boot, from /proc/stat: what
    the other work on a shared machine took shows as busy time that is not ours."""
    with open("/proc/stat", encoding="ascii") as handle:
        user, nice, system, _idle, iowait, irq, softirq, steal = (int(v) for v in handle.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICKS, iowait / _TICKS


class Quarters:
    """When each quarter of a run's messages was settled, with the daemon's RSS and the
    CPU of the daemon and the backends then (``run_once(quarters=True)``)."""

    def __init__(self, total: int, ledger0: int) -> None:
        self.total, self.ledger0 = total, ledger0
        self.busy0, self.iowait0 = machine_cpu()
        self.marks: list[dict[str, float]] = []

    def due(self, settled: int) -> bool:
        return len(self.marks) < 4 and settled >= self.total * (len(self.marks) + 1) // 4

    def mark(self, settled: int, seconds: float, daemon_pid: int, daemon_cpu: float, pg_cpu: float) -> None:
        busy, iowait = machine_cpu()
        self.marks.append({"settled": settled, "seconds": seconds, "daemon_rss_kb": rss_kb(daemon_pid),
                           "daemon_cpu": daemon_cpu, "pg_cpu": pg_cpu, "busy": busy - self.busy0,
                           "iowait": iowait - self.iowait0})  # fmt: skip

    def summary(self, rss0_kb: int) -> list[dict[str, float]]:
        out, before = [], {"settled": 0, "seconds": 0.0, "daemon_cpu": 0.0, "pg_cpu": 0.0, "busy": 0.0, "iowait": 0.0}
        for m in self.marks:
            n = max(m["settled"] - before["settled"], 1)
            seconds = max(m["seconds"] - before["seconds"], 1e-9)
            ours = m["daemon_cpu"] - before["daemon_cpu"] + m["pg_cpu"] - before["pg_cpu"]
            out.append({
                "rate": n / seconds,
                # Cores busy over the quarter: the whole machine's, and those of the
                # daemon and its backends (the simulator and other work are the rest).
                "machine_busy_cores": (m["busy"] - before["busy"]) / seconds,
                "daemon_and_pg_cores": ours / seconds,
                "iowait_cores": (m["iowait"] - before["iowait"]) / seconds,
                "daemon_us_per_msg": (m["daemon_cpu"] - before["daemon_cpu"]) / n * 1e6,
                "pg_us_per_msg": (m["pg_cpu"] - before["pg_cpu"]) / n * 1e6,
                "daemon_rss_kb": m["daemon_rss_kb"], "rss_growth_kb": m["daemon_rss_kb"] - rss0_kb,
            })  # fmt: skip
            before = m
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quarters_e2e")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    from bench.bench_e2e import run_once

    loop0 = _python_loop_mops()
    print(f"reference loop {loop0} M iterations/s; {_cpu_model()}; {args.count:,} messages")
    r: dict[str, Any] = run_once(args.count, quarters=True)
    loop1 = _python_loop_mops()
    quarters = r["quarters"]
    for n, q in enumerate(quarters, 1):
        print(f"  quarter {n}: {q['rate']:,.0f} msg/s; daemon {q['daemon_us_per_msg']:.1f} us, "
              f"PostgreSQL {q['pg_us_per_msg']:.1f} us per message; daemon RSS {q['daemon_rss_kb'] / 1024:.1f} MB "
              f"({q['rss_growth_kb'] / 1024:+.1f} MB since READY); cores busy: machine "
              f"{q['machine_busy_cores']:.2f}, daemon + PostgreSQL {q['daemon_and_pg_cores']:.2f}, "
              f"iowait {q['iowait_cores']:.2f}")  # fmt: skip
    drift = quarters[-1]["rate"] / quarters[0]["rate"] - 1
    growth = max(q["rss_growth_kb"] for q in quarters)
    rate_ok, rss_ok = drift >= -RATE_DRIFT, growth < RSS_GROWTH_KB
    print(f"reference loop after: {loop1} M iterations/s")
    print(f"  whole run: {r['measured'] / r['e2e_s']:,.0f} msg/s ({r['measured']:,} in {r['e2e_s']:.1f} s); "
          f"sent {r['sent']} failed {r['failed']} reconciled {r['reconciled']}")  # fmt: skip
    print(f"  last quarter / first: {drift:+.1%} ({'ok' if rate_ok else 'MISS'}: within -{RATE_DRIFT:.0%}); "
          f"RSS growth {growth / 1024:.1f} MB ({'ok' if rss_ok else 'MISS'}: under {RSS_GROWTH_KB // 1024} MB)")  # fmt: skip
    path = results_path(HERE / "results", "e2e-quarters")
    path.write_text(json.dumps({
        "meta": {"python_loop_mops": [loop0, loop1], "cpu": _cpu_model(), "count": args.count, "note": args.note},
        "last_over_first": drift + 1, "rss_growth_kb": growth, "rate_ok": rate_ok, "rss_ok": rss_ok, "run": r,
    }, indent=1) + "\n")  # fmt: skip
    print(f"wrote {path}")
    return 0 if rate_ok and rss_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
