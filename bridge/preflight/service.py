"""SMS Preflight in the daemon: the matcher, expiry, housekeeping and the periodic self-test.

One task tree beside the daemon (bridge/service.py starts it when networks are
configured), on the daemon's pool:

    matcher    wakes on the writer's NOTIFY (an MO to a probe number was stored)
               or every ``poll`` seconds, and runs matcher.match_inbox until
               the inbox has nothing new
    expiry     every ``tick`` seconds: outcomes.expire_due (sessions past 5 minutes)
    housekeep  every minute: parts that never became whole, sessions past their
               plan's history, heartbeats older than 7 days
    self-test  with ``[preflight] self_test = true``: every ``self_test_interval``

The clock (``clock``) is injectable: expiry and the self-test use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
import trio

from bridge.preflight.matcher import PREFLIGHT_CHANNEL, PassStats, match_inbox, prune_inbox
from bridge.preflight.networks import sync_networks
from bridge.preflight.outcomes import expire_due
from bridge.preflight.selftest import start_self_test
from bridge.preflight.sessions import prune_history
from bridge.store.db import Database
from config.schema import Config

__all__ = ["PreflightService", "PreflightStats", "run_preflight"]

log = structlog.get_logger("bridge.preflight")

HEARTBEAT_DAYS = 7


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class PreflightStats:
    passes: int = 0
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    completed: int = 0
    expired: int = 0
    self_tests: int = 0
    errors: int = 0


class PreflightService:
    def __init__(
        self, db: Database, config: Config, *, clock: Callable[[], datetime] = _now,
        poll: float = 1.0, tick: float = 1.0, batch: int = 1000,
    ) -> None:  # fmt: skip
        self.db = db
        self.config = config
        self.clock = clock
        self.poll = poll
        self.tick = tick
        self.batch = batch
        self.stats = PreflightStats()
        self._wake = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await sync_networks(self.db, self.config.preflight)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen)
            nursery.start_soon(self._matcher)
            nursery.start_soon(self._expiry)
            nursery.start_soon(self._housekeeping)
            if self.config.preflight.self_test:
                nursery.start_soon(self._self_tests)
            task_status.started()

    def wake(self) -> None:
        self._wake.set()

    async def match_now(self) -> PassStats:
        """Passes until the inbox has nothing new; their sum."""
        total = PassStats()
        while True:
            done = await match_inbox(self.db, limit=self.batch, webhooks=self.config.webhooks.enabled)
            s = self.stats
            s.passes += 1
            s.matched += done.matched
            s.unmatched += done.unmatched
            s.ambiguous += done.ambiguous
            s.completed += done.completed
            total.taken += done.taken
            total.matched += done.matched
            total.unmatched += done.unmatched
            total.completed += done.completed
            total.completed_ids += done.completed_ids
            if done.taken < self.batch:
                return total

    async def _listen(self) -> None:
        while True:
            try:
                async with self.db.listen(PREFLIGHT_CHANNEL) as notes:
                    self._wake.set()  # whatever arrived while not listening
                    async for _ in notes:
                        self._wake.set()
            except Exception as exc:  # the matcher polls meanwhile
                log.warning("listening for preflight MO failed", error=repr(exc))
            await trio.sleep(5)

    async def _matcher(self) -> None:
        while True:
            with trio.move_on_after(self.poll):
                await self._wake.wait()
            self._wake = trio.Event()
            try:
                await self.match_now()
            except Exception as exc:
                self.stats.errors += 1
                log.warning("preflight matching failed; trying again", error=repr(exc))

    async def _expiry(self) -> None:
        while True:
            try:
                self.stats.expired += len(await expire_due(self.db, self.clock()))
            except Exception as exc:
                self.stats.errors += 1
                log.warning("preflight expiry failed; trying again", error=repr(exc))
            await trio.sleep(self.tick)

    async def _housekeeping(self) -> None:
        while True:
            await trio.sleep(60)
            now = self.clock()
            try:
                await prune_inbox(self.db, now - 2 * timedelta(seconds=self.config.preflight.session_ttl.seconds))
                await prune_history(self.db, now)
                await self.db.execute(
                    "DELETE FROM preflight_heartbeats WHERE at < $1", now - timedelta(days=HEARTBEAT_DAYS)
                )
            except Exception as exc:
                log.warning("preflight housekeeping failed", error=repr(exc))

    async def _self_tests(self) -> None:
        preflight = self.config.preflight
        assert preflight.self_test_sender_id is not None
        while True:
            try:
                await start_self_test(self.db, self.config, sender_id=preflight.self_test_sender_id, now=self.clock())
                self.stats.self_tests += 1
            except Exception as exc:
                self.stats.errors += 1
                log.warning("preflight self-test failed", error=repr(exc))
            await trio.sleep(preflight.self_test_interval.seconds)


async def run_preflight(config: Config, db: Database) -> None:
    """The service for bridge/service.py: errors at start are logged and retried."""
    while True:
        try:
            await PreflightService(db, config).run()
        except Exception as exc:
            log.exception("preflight service failed: starting again in 5 s", error=repr(exc))
        await trio.sleep(5)
