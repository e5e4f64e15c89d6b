"""Timing helpers shared by the benchmarks.

Machines here are shared and noisy, so every figure is the median of several
repeats, and peers (smpplib, ...) are measured in the same run so that ratios
compare like with like.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def results_path(directory: Path, suite: str) -> Path:
    """``<date>T<HHMM>-<suite>.json``; with seconds when a run of the same minute wrote that name."""
    out = directory / f"{time.strftime('%Y-%m-%dT%H%M')}-{suite}.json"
    if out.exists():  # a second run within the minute keeps the first's results
        out = directory / f"{time.strftime('%Y-%m-%dT%H%M%S')}-{suite}.json"
    return out


@dataclass(frozen=True)
class Rate:
    """Items per second over several repeats of the same work."""

    name: str
    items: int
    seconds: tuple[float, ...]
    unit: str = "items/s"
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return self.items / statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return self.items / min(self.seconds)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "items": self.items,
            "median_per_s": round(self.median, 1),
            "best_per_s": round(self.best, 1),
            "seconds": [round(s, 6) for s in self.seconds],
            **self.extra,
        }


def measure(name: str, work: Callable[[], object], items: int, repeats: int = 5,
            unit: str = "items/s") -> Rate:
    """Run ``work`` (which handles ``items`` items) ``repeats`` times, after one warm-up."""
    work()
    seconds = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return Rate(name=name, items=items, seconds=tuple(seconds), unit=unit)


def ratio(ours: Rate, peer: Rate) -> float:
    return ours.median / peer.median


#: The PostgreSQL server the system benchmarks create their databases on: an admin DSN
#: (database ``postgres``) from BENCH_PG_DSN, by default the local server. A server of
#: their own (bench/REPORT-notes.md) keeps other work's checkpoints and vacuums out of
#: the figures and can load pg_stat_statements (bench/pgstat.py).
ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_address() -> tuple[str, int]:
    """Host and port of ``ADMIN_DSN``."""
    parts = urllib.parse.urlsplit(ADMIN_DSN)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def database_dsn(name: str) -> str:
    """``ADMIN_DSN`` with its database replaced by ``name``."""
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def target(want: float, got: float) -> dict[str, object]:
    """A target line for the harness: at least ``want``."""
    return {"want": f">= {want:,.1f}", "got": round(got, 1), "ok": got >= want}


#: The part of an smpp-bridge configuration the end-to-end benches share: the
#: database from SMPP_BRIDGE_BENCH_DSN, one simulator carrier (``{port}``,
#: ``{binds}``, ``{window}``; a ``str.format`` template), a default route and
#: rate, quiet logs. Each bench appends its own sections.
SIM_BRIDGE_CONFIG = """
[database]
dsn_env = "SMPP_BRIDGE_BENCH_DSN"
pool_min = 4
pool_max = 12

[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {port}
binds = {binds}
window = {window}
tps = 1000000
system_id = "bench"
response_timeout = "10s"
max_age = "10m"
[carriers.source]
default_sender_id = "ProSignals"
[carriers.segmentation]
concat = "udh8"

[[routes]]
default = true
carriers = [{{ carrier = "sim" }}]

[rates]
default = "0.0500"

[logging]
level = "warning"
format = "json"
"""
