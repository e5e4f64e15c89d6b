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
from collections.abc import Callable, Collection
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


def postgres_backends(database: str, *, but: Collection[int] = ()) -> list[int]:
    """PIDs of the PostgreSQL backends serving ``database`` (their title names it), ``but`` those."""
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
        if (
            title.startswith(b"postgres: ")
            and database.encode() in parts[2:4]
            and int(entry) not in but
        ):
            found.append(int(entry))
    return found


@dataclass
class Group:
    """Processes counted together; ``pids`` is called at every sample (backends come and go)."""

    name: str
    pids: Callable[[], list[int]]
    memory: bool = True  # count its RSS (not PostgreSQL's: shared buffers make it meaningless)
    cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid -> (first, last)
    sampled: bool = False  # after the first sample, a new PID was born during the run

    def sample(self) -> int:
        rss = 0
        for pid in self.pids():
            now = cpu_seconds(pid)
            # A process born during the run (a new backend, a worker) counts all its CPU:
            # counting from its first sample would drop its start-up and everything it
            # did in the half second before (a short-lived backend would cost nothing).
            first, _ = self.cpu.get(pid, (0.0 if self.sampled else now, now))
            self.cpu[pid] = (first, now)
            if self.memory:
                rss += rss_kb(pid)
        self.sampled = True
        return rss

    def cpu_used(self) -> float:
        return sum(last - first for first, last in self.cpu.values())


class Sampler:
    """Samples groups every ``interval`` seconds from ``start()`` until ``stop()``."""

    def __init__(self, groups: list[Group], interval: float = 0.5) -> None:
        self.groups = groups
        self.interval = interval
        self.series: list[tuple[float, dict[str, int]]] = []  # (seconds, {group: rss_kb})
        self.load: list[float] = []  # the 1-minute load average at every sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._t0 = 0.0

    def _sample(self) -> None:
        rss = {g.name: g.sample() for g in self.groups}
        self.series.append((round(time.monotonic() - self._t0, 2), rss))
        self.load.append(os.getloadavg()[0])

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
    """``ANALYZE`` a run's tables when autovacuum's own rule says so, without its wait.

    A run fills fresh tables in a minute; autovacuum wakes once a minute
    (``autovacuum_naptime``), so without this the planner works from "empty table"
    statistics for much of a run (bench/REPORT.md: the daemon's claim then stalls).
    Every ``every`` seconds, each table with more than 50 + 10% of its rows changed
    since its last analyse (autovacuum's default threshold) is analysed.
    """

    _DUE = (
        "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY($1::text[])"
        " AND n_mod_since_analyze > 50 + 0.1 * n_live_tup"
    )

    def __init__(self, dsn: str, tables: list[str], every: float = 2.0) -> None:
        self.dsn, self.tables, self.every = dsn, tables, every
        self.count = 0
        # Its backend, so that the system's PostgreSQL CPU can leave it out: production
        # has autovacuum analyse at most once a minute per table, not this often.
        self.pids: set[int] = set()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    async def _pass(self) -> None:
        import trio

        from bridge.store.db import open_connection

        async with open_connection(self.dsn) as conn:
            self.pids.add(int(await conn.fetchval("SELECT pg_backend_pid()")))
            self._connected.set()
            while not self._stop.is_set():
                for row in await conn.fetch(self._DUE, self.tables):
                    await conn.execute(f'ANALYZE "{row["relname"]}"')
                    self.count += 1
                await trio.sleep(self.every)

    def _loop(self) -> None:
        import trio

        try:
            trio.run(self._pass)
        except Exception:
            pass
        finally:
            self._connected.set()

    def __enter__(self) -> Analyzer:
        if not self.tables:
            return self
        self._thread.start()
        self._connected.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

