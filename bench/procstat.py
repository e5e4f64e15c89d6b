"""CPU and memory of processes by PID, from /proc (psutil is not a dependency).

``Group`` names a set of processes (a gateway's, PostgreSQL's backends of one
database, ...); ``Sampler`` reads every group twice a second in a thread, so a
run yields CPU seconds per group, the peak of the summed RSS and a series of
(seconds, RSS) for the soak's memory check.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime (proc(5) fields 14 and 15); 0.0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_KB
    except (FileNotFoundError, ProcessLookupError):
        return 0


def postgres_backends(database: str) -> list[int]:
    """PIDs of the PostgreSQL backends serving ``database`` (their title names it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                title = handle.read()
        except OSError:
            continue
        parts = title.split(b" ")
        # "postgres: [cluster: ]user database host(port) state"
        if title.startswith(b"postgres: ") and database.encode() in parts[2:4]:
            found.append(int(entry))
    return found


@dataclass
class Group:
    """Processes counted together; ``pids`` is called at every sample (backends come and go)."""

    name: str
    pids: Callable[[], list[int]]
    memory: bool = True  # count its RSS (not PostgreSQL's: shared buffers make it meaningless)
    cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid -> (first, last)

    def sample(self) -> int:
        rss = 0
        for pid in self.pids():
            now = cpu_seconds(pid)
            first, _ = self.cpu.get(pid, (now, now))
            self.cpu[pid] = (first, now)
            if self.memory:
                rss += rss_kb(pid)
        return rss

    def cpu_used(self) -> float:
        return sum(last - first for first, last in self.cpu.values())


class Sampler:
    """Samples groups every ``interval`` seconds from ``start()`` until ``stop()``."""

    def __init__(self, groups: list[Group], interval: float = 0.5) -> None:
        self.groups = groups
        self.interval = interval
        self.series: list[tuple[float, dict[str, int]]] = []  # (seconds, {group: rss_kb})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._t0 = 0.0

    def _sample(self) -> None:
        rss = {g.name: g.sample() for g in self.groups}
        self.series.append((round(time.monotonic() - self._t0, 2), rss))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def cpu(self) -> dict[str, float]:
        return {g.name: g.cpu_used() for g in self.groups}

    def peak_rss_kb(self, names: list[str]) -> int:
        return max((sum(r.get(n, 0) for n in names) for _, r in self.series), default=0)


class Analyzer:
    """``ANALYZE`` of some tables every few seconds while a run lasts, as autovacuum would.

    A run fills fresh tables in a minute; autovacuum looks once a minute and analyses
    after 10% of a table changed, so without this the planner works from "empty table"
    statistics for most of a run (docs in bench/REPORT.md: the claim then stalls).
    """

    def __init__(self, dsn: str, tables: list[str], every: float = 5.0) -> None:
        self.dsn, self.sql, self.every = dsn, f"ANALYZE {', '.join(tables)}", every
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import trio

        from bench.bench_e2e import _admin

        while not self._stop.wait(self.every):
            try:
                trio.run(_admin, self.dsn, self.sql)
                self.count += 1
            except Exception:
                pass

    def __enter__(self) -> Analyzer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
