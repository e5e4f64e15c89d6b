"""Housekeeping on a timer: receipt timeouts, parked receipts, recovery of dead daemons.

- Receipt timeout: a part ``submitted`` longer than its carrier's
  ``receipt_timeout`` (default 72 h) without a final receipt becomes failed
  (refunded), or delivered when the carrier says ``on_receipt_timeout = "sent"``.
- Parked receipts older than ``daemon.parked_receipt_ttl`` (default 7 days)
  move to ``unmatched_receipts`` and are counted; parked receipts whose id has
  landed meanwhile (a race between two daemons' writers) are applied.
- Recovery: parts left ``submitting`` by an instance whose lease expired (or
  that stopped, or our own previous run) are resolved by the carrier's
  ``on_unknown_outcome`` policy: ``resubmit`` puts them back in the queue,
  ``fail`` fails them and refunds the message. When the part never learnt its
  carrier, the route's carriers decide: resubmit only if every one of them
  says resubmit. The rows this process still works under (``Lease.live_ids``)
  are never recovered by it: their parts are in its own pipeline (after a lease
  lapse the submitters release them unsent, and the writer resolves the rest).
  A row it stopped using is retired (marked stopped) once nothing it claimed
  under it is in flight; then its leftovers are recovered like any other.

Each step works in bounded batches, one transaction per batch, with
``FOR UPDATE SKIP LOCKED`` so several daemons' sweepers share the work.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import trio

from bridge.dispatch.apply import apply_flush, take_parked
from bridge.dispatch.finalize import finalize_messages
from bridge.dispatch.instances import db_errors
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.writer import CarrierRules
from bridge.store.db import Database
from config.schema import Config

__all__ = ["Sweeper"]

log = structlog.get_logger("bridge.dispatch.sweeper")

_TIMEOUTS = """
WITH due AS (
    SELECT p.message_id, p.seq, u.st
    FROM unnest($1::text[], $2::float8[], $3::text[]) AS u(c, t, st)
    JOIN message_parts p ON p.carrier = u.c AND p.state = 'submitted'
         AND p.submitted_at < now() - make_interval(secs => u.t)
    -- the shortest timeout as a constant bound: a range scan of the partial
    -- index message_parts_awaiting_receipt (migration 0002), not of every part
    WHERE p.submitted_at < now() - make_interval(secs => $5)
    LIMIT $4 FOR UPDATE OF p SKIP LOCKED
)
UPDATE message_parts p SET state = due.st::part_state, receipt_stat = 'receipt_timeout', final_at = now()
FROM due WHERE p.message_id = due.message_id AND p.seq = due.seq AND p.state = 'submitted'
RETURNING p.message_id
"""

_EXPIRE_PARKED = """
WITH moved AS (
    DELETE FROM parked_receipts WHERE id IN (
        SELECT id FROM parked_receipts WHERE received_at < now() - make_interval(secs => $1)
        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING id, carrier, id_key, receipt, raw, received_at
)
INSERT INTO unmatched_receipts (id, carrier, id_key, receipt, raw, received_at)
SELECT id, carrier, id_key, receipt, raw, received_at FROM moved
"""

# The writer applies parked receipts when their id lands in its own flush; this
# pass catches the race where the id landed in another daemon's flush while the
# receipt was being parked here. That race is a matter of seconds, so only
# recent receipts are looked at (the received_at index), not the whole parking.
# Receipts parked by releases before migration 0008 have no status, and the
# writer leaves them to this pass: those are looked at whatever their age
# (index parked_receipts_without_status, migration 0009), until they match or
# reach the TTL; new rows always have a status, so their number only shrinks.
_LANDED_PARKED = """
SELECT DISTINCT r.carrier, r.id_key FROM parked_receipts r
WHERE (r.received_at > now() - interval '10 minutes' OR r.status IS NULL)
  AND EXISTS (SELECT 1 FROM message_parts p WHERE p.carrier = r.carrier AND p.id_key = r.id_key)
LIMIT $1
"""

# Dead instances: the lease expired or the row was stopped. The table is tiny;
# the parts are then found through message_parts_inflight (owner_instance).
_DEAD = """
SELECT d.id FROM daemon_instances d
WHERE d.id <> ALL($1::bigint[]) AND (d.stopped_at IS NOT NULL OR d.lease_until < now())
  AND EXISTS (SELECT 1 FROM message_parts p WHERE p.owner_instance = d.id AND p.state = 'submitting')
"""

_ORPHANS = """
SELECT p.message_id, p.seq, p.carrier, p.route, p.attempts
FROM message_parts p
WHERE p.owner_instance = ANY($1::bigint[]) AND p.state = 'submitting'
LIMIT $2 FOR UPDATE SKIP LOCKED
"""

_RECOVER = """
UPDATE message_parts p
SET state = u.st::part_state, owner_instance = CASE WHEN u.st = 'queued' THEN NULL ELSE p.owner_instance END,
    next_attempt_at = now(), receipt_stat = CASE WHEN u.st = 'failed' THEN 'unknown_outcome' END,
    final_at = CASE WHEN u.st = 'failed' THEN now() END
FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(m, s, st)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state = 'submitting'
RETURNING p.message_id, p.state::text AS st
"""
# The state as stored, not as decided: a part of a message that failed meanwhile is
# cancelled instead of queued (migration 0010), and is not counted as resubmitted.


class Sweeper:
    def __init__(
        self,
        db: Database,
        *,
        stats: DaemonStats,
        config: Callable[[], Config],
        rules: Callable[[str], CarrierRules | None],
        carriers_of_route: Callable[[str | None], list[str]],
        instance_ids: Callable[[], list[int]],
        interval: float,
        db_timeout: float,
        batch: int = 1000,
    ) -> None:
        self._db = db
        self._stats = stats
        self._config = config
        self._rules = rules
        self._carriers_of_route = carriers_of_route
        self._instance_ids = instance_ids
        self.interval = interval
        self.db_timeout = db_timeout
        self.batch = batch

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.interval)
            try:
                await self.sweep_once()
            except db_errors() as exc:
                log.warning("sweep failed", error=repr(exc))
            except Exception:  # housekeeping must not stop the daemon; next round retries
                log.exception("sweep failed")

    async def sweep_once(self) -> None:
        await self.recover()
        await self.receipt_timeouts()
        await self.parked()

    def _finalize_kw(self) -> dict[str, object]:
        hooks = self._config().webhooks
        return {"webhooks": hooks.enabled, "default_url": hooks.default_url}

    async def receipt_timeouts(self) -> int:
        carriers = self._config().carriers
        if not carriers:
            return 0
        names = [c.name for c in carriers]
        timeouts = [c.receipt_timeout.seconds for c in carriers]
        states = ["delivered" if c.on_receipt_timeout == "sent" else "failed" for c in carriers]
        done = 0
        while True:
            with trio.fail_after(self.db_timeout):
                async with self._db.transaction() as tx:
                    rows = await tx.fetch(_TIMEOUTS, names, timeouts, states, self.batch, min(timeouts))
                    sent, failed = await finalize_messages(
                        tx, {r["message_id"] for r in rows}, **self._finalize_kw()  # type: ignore[arg-type]
                    )
            self._count(len(rows), sent, failed)
            self._stats.swept += len(rows)
            done += len(rows)
            if len(rows) < self.batch:
                return done

    async def parked(self) -> int:
        ttl = self._config().daemon.parked_receipt_ttl.seconds
        moved = 0
        while True:
            with trio.fail_after(self.db_timeout):
                tag = await self._db.execute(_EXPIRE_PARKED, ttl, self.batch)
            count = int(tag.split()[-1])
            moved += count
            if count < self.batch:
                break
        self._stats.unmatched += moved
        with trio.fail_after(self.db_timeout):
            async with self._db.transaction() as tx:
                keys = [(r["carrier"], r["id_key"]) for r in await tx.fetch(_LANDED_PARKED, self.batch)]
                receipts = await take_parked(tx, keys, self._table_for)
                hooks = self._config().webhooks
                out = await apply_flush(
                    tx, [], receipts, [], webhooks=hooks.enabled, default_url=hooks.default_url
                )
        self._stats.parked_applied += len(receipts) - out.receipts_parked
        self._stats.receipts_applied += out.receipts_applied
        self._stats.sent += out.sent
        self._stats.failed += out.failed
        return moved

    def _table_for(self, carrier: str):  # type: ignore[no-untyped-def]
        rules = self._rules(carrier)
        return rules.status_table if rules is not None else None

    def _policy(self, carrier: str | None, route: str | None, attempts: int) -> str:
        names = [carrier] if carrier else self._carriers_of_route(route)
        rules = [self._rules(n) for n in names]
        if not rules or any(r is None for r in rules):
            return "failed"
        if all(r is not None and r.config.on_unknown_outcome == "resubmit" and attempts < r.config.max_attempts
               for r in rules):  # fmt: skip
            return "queued"
        return "failed"

    async def recover(self) -> int:
        """Resolve the ``submitting`` parts of dead instances (see the module docstring)."""
        done = 0
        with trio.fail_after(self.db_timeout):
            dead = [r["id"] for r in await self._db.fetch(_DEAD, self._instance_ids())]
        if not dead:
            return 0
        while True:
            with trio.fail_after(self.db_timeout):
                async with self._db.transaction() as tx:
                    rows = await tx.fetch(_ORPHANS, dead, self.batch)
                    if not rows:
                        return done
                    decided = [
                        (r["message_id"], r["seq"], self._policy(r["carrier"], r["route"], r["attempts"]))
                        for r in rows
                    ]
                    updated = await tx.fetch(_RECOVER, *[list(c) for c in zip(*decided, strict=True)])
                    failed_ids = {r["message_id"] for r in updated if r["st"] == "failed"}
                    sent, failed = await finalize_messages(tx, failed_ids, **self._finalize_kw())  # type: ignore[arg-type]
            self._stats.recovered += len(updated)
            self._count(0, sent, failed)
            log.info("recovered parts of dead instances", parts=len(updated),
                     resubmitted=len(updated) - len(failed_ids))  # fmt: skip
            done += len(updated)
            if len(rows) < self.batch:
                return done

    def _count(self, _parts: int, sent: list[int], failed: list[int]) -> None:
        self._stats.sent += len(sent)
        self._stats.failed += len(failed)
