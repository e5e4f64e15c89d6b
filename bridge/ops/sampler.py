"""The daemon's side of operations: a sampler task and the snapshots the endpoint serves.

Every ``interval`` (default 15 s) the sampler, for each carrier this instance runs:
records a heartbeat (a bind bound and the SMSC answering within the period, with
the period's mean submit_sm_resp round trip, or the enquire_link one when idle) in
memory and in ``carrier_heartbeats``; moves the 15-minute means on; forgets submits
whose receipt never came. It then reads, in a few cheap statements, the uptime of
the last 24 h per carrier (from ``carrier_heartbeats``, every instance's rows), the
parts not final by state, and the webhook outbox by state. Nothing here runs per
message. A database error is one log line when it starts and one when it ends.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import structlog
import trio

from bridge.ops.export import daemon_families, make_registry, render_metrics
from bridge.ops.health import (
    THROTTLE_MEMORY,
    CarrierView,
    Heartbeat,
    Snapshot,
    build_health,
    carrier_status,
    ready,
)

__all__ = ["DaemonOps"]

log = structlog.get_logger("bridge.ops")

T = TypeVar("T")
HEARTBEATS_KEPT = 20
MAX_STUCK = 3
FRESH = 1.0  # seconds: the page and `status` read the counts again when older
KEEP_ROWS = "2 days"

UPTIME_SQL = """
SELECT carrier,
       count(DISTINCT floor(extract(epoch FROM at) / period)) FILTER (WHERE bound > 0) AS up,
       extract(epoch FROM max(at) - min(at)) AS span, max(period) AS period
FROM carrier_heartbeats WHERE at > now() - interval '24 hours'
GROUP BY carrier
"""
# One count per state, each matching a partial index's predicate (message_parts_claim,
# _inflight, _awaiting_receipt, _unknown): no scan of the final parts.
PARTS_SQL = """
SELECT 'queued', count(*) FROM message_parts WHERE state = 'queued'
UNION ALL SELECT 'submitting', count(*) FROM message_parts WHERE state = 'submitting'
UNION ALL SELECT 'submitted', count(*) FROM message_parts WHERE state = 'submitted'
UNION ALL SELECT 'unknown', count(*) FROM message_parts WHERE state = 'unknown'
"""
BACKLOG_SQL = "SELECT count(*) FROM webhook_outbox WHERE state = 'pending'"  # webhook_outbox_due
# These two scan their tables: once a minute at most, each given up after SLOW_TIMEOUT.
OUTBOX_SQL = "SELECT state::text, count(*) FROM webhook_outbox GROUP BY 1"
FAILURES_SQL = """
SELECT coalesce(error, 'unknown'), count(*) FROM messages
WHERE state = 'failed' AND final_at > now() - interval '1 hour' GROUP BY 1
"""
SLOW_EVERY = 60.0
SLOW_EVERY_LOOKING = 10.0  # ... every 10 s while someone looks at the page or `status`
SLOW_TIMEOUT = "1s"


class DaemonOps:
    """Holds what ``/metrics`` and ``/health`` show for one daemon (``bridge.dispatch.Daemon``)."""

    def __init__(self, daemon: Any, db: Any, config: Any, *, interval: float = 15.0,
                 db_timeout: float = 2.0) -> None:  # fmt: skip
        self.daemon = daemon
        self.db = db
        self.config = config
        self.interval = interval
        self.db_timeout = db_timeout
        self.started_at = time.time()
        self.database_up = True
        self.uptime: dict[str, float] = {}
        self.parts: dict[str, int] | None = None
        self.outbox: dict[str, int] | None = None
        self.failures: dict[str, int] = {}
        self.heartbeats: dict[str, deque[Heartbeat]] = {}
        self.rates: deque[tuple[float, int, int]] = deque(maxlen=8)  # (trio time, submitted, sent+failed)
        self.http_requests: dict[tuple[str, int], int] = {}
        self._throttles: dict[str, deque[tuple[float, int]]] = {}  # (trio time, events so far)
        self._attempts: trio.Nursery | None = None
        self._stuck = 0
        self._counts_at = -float("inf")  # trio time of the last read of the database's counts
        self._slow_at = -float("inf")  # ... and of the outbox by state and the failures
        self.registry = make_registry(self._families)

    # --- snapshots -------------------------------------------------------------------
    def _carrier_cfg(self, name: str) -> Any:
        for c in self.daemon.config.carriers:
            if c.name == name:
                return c
        return None

    def snapshot(self) -> Snapshot:
        stats = self.daemon.stats()
        held = self.daemon.held_slots()
        views = []
        for name, health in sorted(stats.carriers.items()):
            counts = stats.by_carrier.get(name)
            cfg = self._carrier_cfg(name)
            within = 60.0
            if cfg is not None:
                within = (cfg.enquire_link_interval.seconds or 30.0) + cfg.response_timeout.seconds + 1.0
            m = counts.metrics if counts is not None else None
            events = 0 if m is None else _throttle_events(m)
            seen = self._throttles.get(name)
            recent = events - seen[0][1] if seen else events
            views.append(CarrierView(
                health=health, slots=held.get(name, ()), answer_within=within,
                round_trip=None if m is None else m.resp_avg.mean(),
                receipt_latency=None if m is None else m.receipt_avg.mean(),
                uptime_24h=self.uptime.get(name),
                heartbeats=list(reversed(self.heartbeats.get(name, ()))),
                throttle_events=events, recent_throttles=recent,
            ))  # fmt: skip
        instance = {
            "name": self.daemon.name, "id": stats.instance_id, "hostname": socket.gethostname(),
            "pid": os.getpid(), "started_at": _iso(self.started_at), "role": "daemon",
        }  # fmt: skip
        return Snapshot(instance=instance, now_trio=trio.current_time(), now_wall=time.time(),
                        carriers=views, database_up=self.database_up and bool(stats.db_up),
                        extra={"rates": self.rate(), "queue": self.parts or {}})  # fmt: skip

    def rate(self) -> dict[str, float]:
        """Messages per second over the last samples: submitted and finished (sent + failed)."""
        stats = self.daemon.stats()
        t1, s1, f1 = trio.current_time(), stats.submitted, stats.sent + stats.failed
        if not self.rates or t1 - self.rates[0][0] < 0.5:
            return {"submitted_per_s": 0.0, "finished_per_s": 0.0}
        t0, s0, f0 = self.rates[0]
        span = t1 - t0
        return {"submitted_per_s": round((s1 - s0) / span, 1), "finished_per_s": round((f1 - f0) / span, 1)}

    def health(self) -> dict[str, Any]:
        return build_health(self.snapshot())

    async def ready(self) -> bool:
        return ready(self.snapshot()) and await self.ping()

    async def ping(self) -> bool:
        try:
            await self._bounded(lambda: self.db.fetchval("SELECT 1"))
        except Exception:
            return False
        return True

    async def _bounded(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` given up after ``db_timeout``, without waiting for its clean-up.

        A black-holed connection hangs, and so does the shielded rollback after a
        cancellation (bridge.store.db): the call runs in a task of its own, which is
        left to finish (or fail) when the connection breaks. At most MAX_STUCK of
        them at a time; beyond, the database counts as unreachable at once.
        """
        if self._attempts is None or self._stuck >= MAX_STUCK:
            raise trio.TooSlowError
        outcome: list[Any] = []
        done = trio.Event()

        async def attempt() -> None:
            self._stuck += 1
            try:
                outcome.append(await fn())
            except Exception as exc:
                outcome.append(exc)
            finally:
                self._stuck -= 1
                done.set()

        self._attempts.start_soon(attempt)
        with trio.move_on_after(self.db_timeout):
            await done.wait()
        if not outcome:
            raise trio.TooSlowError
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return cast(T, outcome[0])

    def _families(self) -> list[Any]:
        from bridge.ops.export import http_families

        stats = self.daemon.stats()
        return daemon_families(stats, parts=self.parts, outbox=self.outbox,
                               database_up=self.database_up and bool(stats.db_up)) + http_families(
            self.http_requests)  # fmt: skip

    def metrics(self) -> bytes:
        return render_metrics(self.registry)

    async def refresh(self) -> None:
        """Read the database's counts again for a person looking (the page, ``status``)
        when the last read is older than FRESH seconds; figures, not a heartbeat."""
        if trio.current_time() - self._counts_at < FRESH:
            return
        self._counts_at = trio.current_time()
        await self._store([], slow_every=SLOW_EVERY_LOOKING)

    async def handle(self, path: str) -> tuple[int, str, bytes]:
        """The endpoint's routes (bridge/ops/http.py)."""
        from bridge.ops.export import CONTENT_TYPE
        from bridge.ops.http import json_response
        from bridge.ops.page import render_page

        if path == "/metrics":
            return 200, CONTENT_TYPE, self.metrics()
        if path == "/health":
            await self.refresh()
            return json_response(self.health())
        if path == "/health/live":
            return json_response({"live": True})
        if path == "/health/ready":
            ok = await self.ready()
            return json_response({"ready": ok}, 200 if ok else 503)
        if path in ("/", "/index.html"):
            await self.refresh()
            page = render_page(self.health(), self.failures)
            return 200, "text/html; charset=utf-8", page.encode()
        return 404, "text/plain", b"not found\n"

    # --- the task ----------------------------------------------------------------------
    async def run(self) -> None:
        async with trio.open_nursery() as self._attempts:
            while True:
                try:
                    await self.sample()
                except Exception as exc:  # never take the daemon down for a status figure
                    log.error("ops sample failed", error=repr(exc), exc_info=exc)
                await trio.sleep(self.interval)

    async def sample(self) -> None:
        now = trio.current_time()
        stats = self.daemon.stats()
        self.rates.append((now, stats.submitted, stats.sent + stats.failed))
        rows = []
        for name, health in stats.carriers.items():
            counts = stats.by_carrier.get(name)
            view = CarrierView(health=health)
            bound = sum(1 for b in health.binds if b.bound)
            latency = None
            if counts is not None:
                m = counts.metrics
                seen = self._throttles.setdefault(name, deque())
                seen.append((now, _throttle_events(m)))
                while len(seen) > 1 and seen[1][0] <= now - THROTTLE_MEMORY:
                    seen.popleft()
                s, n = m.resp_avg.since_last()
                m.sample(now)
                m.prune(now)
                if n:
                    latency = 1000 * s / n
            if latency is None:
                rtts = [b.enquire_link_rtt for b in health.binds if b.bound and b.enquire_link_rtt is not None]
                latency = 1000 * min(rtts) if rtts else None
            cfg = self._carrier_cfg(name)
            within = self.interval + (cfg.response_timeout.seconds if cfg is not None else 0.0)
            answered = any(b.bound and b.last_response_at is not None and now - b.last_response_at <= within
                           for b in health.binds)  # fmt: skip
            success = answered and carrier_status(view, now) != "down"
            beat = Heartbeat(success=success, latency_ms=latency, at=time.time())
            self.heartbeats.setdefault(name, deque(maxlen=HEARTBEATS_KEPT)).append(beat)
            rows.append((name, self.daemon.name, float(self.interval), len(health.binds), bound, success, latency))
        await self._store(rows)

    async def _store(self, rows: list[tuple[Any, ...]], slow_every: float = SLOW_EVERY) -> None:
        db = self.db
        now = trio.current_time()
        slow = now - self._slow_at >= slow_every

        async def read() -> list[Any]:
            if rows:
                await db.executemany(
                    "INSERT INTO carrier_heartbeats (carrier, instance, period, binds, bound, success,"
                    " latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)  # fmt: skip
            if int(time.time()) % 600 < self.interval:
                await db.execute(f"DELETE FROM carrier_heartbeats WHERE at < now() - interval '{KEEP_ROWS}'")
            out = [await db.fetch(UPTIME_SQL), await db.fetch(PARTS_SQL), await db.fetchval(BACKLOG_SQL)]
            if slow:
                async with db.transaction() as tx:
                    await tx.execute(f"SET LOCAL statement_timeout = '{SLOW_TIMEOUT}'")
                    out += [await tx.fetch(OUTBOX_SQL), await tx.fetch(FAILURES_SQL)]
            return out

        try:
            uptime, parts, backlog, *more = await self._bounded(read)
        except Exception as exc:
            if self.database_up:
                log.warning("database unreachable for status figures", state="down", error=repr(exc))
            self.database_up = False
            return
        self._counts_at = now
        self.parts = {r[0]: r[1] for r in parts}
        self.outbox = {**(self.outbox or {}), "pending": int(backlog)}
        if more:
            self._slow_at = now
            self.outbox = {r[0]: r[1] for r in more[0]}
            self.outbox["pending"] = int(backlog)
            self.failures = {r[0]: r[1] for r in more[1]}
        if not self.database_up:
            log.info("database reachable again for status figures", state="up")
        self.database_up = True
        self.uptime = {r["carrier"]: _uptime(r) for r in uptime}


def _throttle_events(m: Any) -> int:
    """submit_sm answered ESME_RTHROTTLED (0x58) or ESME_RMSGQFUL (0x14)."""
    return sum(n for (cmd, st), n in m.statuses.items() if cmd == 0x04 and st in (0x58, 0x14))


def _uptime(row: Mapping[str, Any]) -> float:
    period = float(row["period"] or 1.0)
    span = float(row["span"] or 0.0) + period
    return min(100.0, 100.0 * int(row["up"]) * period / span)


def _iso(unix: float) -> str | None:
    from bridge.ops.health import iso

    return iso(unix)
