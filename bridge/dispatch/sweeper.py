"""Housekeeping on a timer: receipt timeouts, parked receipts, recovery of dead daemons.

- Receipt timeout: a part ``submitted`` longer than its carrier's
  ``receipt_timeout`` (default 72 h) without a final receipt becomes failed
  (refunded), or delivered when the carrier says ``on_receipt_timeout = "sent"``.
- Parked receipts older than ``daemon.parked_receipt_ttl`` (default 7 days)
  move to ``unmatched_receipts`` and are counted; parked receipts whose id has
  landed meanwhile (a race between two daemons' writers) are applied.
- ACCEPTED: a part ``submitted`` whose receipt said ACCEPTED (not final, SMPP 3.4
  section 5.2.28) longer than its carrier's ``accepted_timeout`` (default 1 h)
  gets ``on_receipt_timeout``, as a receipt timeout.
- Recovery: parts left ``submitting`` by an instance whose lease expired (or
  that stopped, or our own previous run) have an unknown outcome: they become
  ``unknown`` for the carrier's ``unknown_outcome_grace`` (unknown.py matches
  parked receipts to them meanwhile); when it ends, or at once with a grace of
  0, the carrier's ``on_unknown_outcome`` policy applies: ``resubmit`` puts them
  back in the queue, ``fail`` fails them and refunds the message. When the part
  never learnt its carrier, the route's carriers decide: resubmit only if every
  one of them says resubmit; the grace is the longest of theirs. The rows this
  process still works under (``Lease.live_ids``) are never recovered by it:
  their parts are in its own pipeline (after a lease lapse the submitters
  release them unsent, and the writer resolves the rest).
  A row it stopped using is retired (marked stopped) once nothing it claimed
  under it is in flight; then its leftovers are recovered like any other.

Each step works in bounded batches, one transaction per batch, with
``FOR UPDATE SKIP LOCKED`` so several daemons' sweepers share the work.
"""

from __future__ import annotations

from typing import Protocol

import structlog
import trio

from bridge.dispatch.apply import apply_parked, take_parked
from bridge.dispatch.finalize import finalize_messages
from bridge.dispatch.instances import LiveInstances
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.unknown import match_unknown_parts
from bridge.logs import Outage
from bridge.store.db import Database, db_errors
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

# ACCEPTED receipts (migration 0011): the same, from the first ACCEPTED on.
_ACCEPTED_TIMEOUTS = """
WITH due AS (
    SELECT p.message_id, p.seq, u.st
    FROM unnest($1::text[], $2::float8[], $3::text[]) AS u(c, t, st)
    JOIN message_parts p ON p.carrier = u.c AND p.state = 'submitted' AND p.accepted_at IS NOT NULL
         AND p.accepted_at < now() - make_interval(secs => u.t)
    WHERE p.accepted_at < now() - make_interval(secs => $5)
    LIMIT $4 FOR UPDATE OF p SKIP LOCKED
)
UPDATE message_parts p SET state = due.st::part_state, receipt_stat = 'accepted_timeout', final_at = now()
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

# Unknown parts whose grace ended (index message_parts_unknown, migration 0011).
_GRACE_ENDED = """
SELECT p.message_id, p.seq, p.carrier, p.route, p.attempts
FROM message_parts p
WHERE p.state = 'unknown' AND p.next_attempt_at <= now()
ORDER BY p.next_attempt_at
LIMIT $1 FOR UPDATE SKIP LOCKED
"""

# $4: seconds until next_attempt_at (the grace of an unknown part); $5: the state expected.
# A part recovered as unknown: the carrier of its last attempt was never stored
# (p.carrier is an earlier attempt's), so it is cleared (unknown.py then matches it
# against the carriers of its route); its submit_sm was written at the latest
# when its daemon's lease ran out (unknown_at).
_RECOVER = """
UPDATE message_parts p
SET (state, receipt_stat, final_at) = (
        SELECT r.state, r.receipt_stat, r.final_at
        FROM cancelled_on_return(p.message_id, u.st::part_state, CASE WHEN u.st = 'failed' THEN 'unknown_outcome' END,
                                 CASE WHEN u.st = 'failed' THEN now() END) AS r),
    owner_instance = CASE WHEN u.st = 'queued' THEN NULL ELSE p.owner_instance END,
    next_attempt_at = now() + make_interval(secs => u.d),
    carrier = CASE WHEN u.st = 'unknown' THEN NULL ELSE p.carrier END,
    unknown_at = CASE WHEN u.st = 'unknown'
                      THEN least(now(), (SELECT d.lease_until FROM daemon_instances d WHERE d.id = p.owner_instance))
                      ELSE p.unknown_at END
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[]) AS u(m, s, st, d)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = $5
RETURNING p.message_id, p.state::text AS st
"""
# The state as stored, not as decided: a part of a message that failed meanwhile is
# failed and cancelled instead of queued or unknown (lifecycle CANCELLED_ON_RETURN,
# sql/functions/cancelled_on_return.sql), and is not counted as resubmitted.


class SweptCarriers(Protocol):
    """What the sweeper reads of the running configuration (running.RunningCarriers)."""

    @property
    def config(self) -> Config: ...
    def rules_of(self, carrier: str) -> CarrierRules | None: ...
    def carriers_of_route(self, label: str | None) -> list[str]: ...
    def payload_routes(self) -> list[str]: ...


class Sweeper:
    def __init__(
        self,
        db: Database,
        *,
        stats: DaemonStats,
        carriers: SweptCarriers,
        instances: LiveInstances,
        interval: float,
        db_timeout: float,
        batch: int = 1000,
    ) -> None:
        self._db = db
        self._stats = stats
        self._carriers = carriers
        self._rules = carriers.rules_of
        self._carriers_of_route = carriers.carriers_of_route
        self._instances = instances
        self.interval = interval
        self.db_timeout = db_timeout
        self.batch = batch

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        outage = Outage(log)
        while True:
            await trio.sleep(self.interval)
            try:
                await self.sweep_once()
                outage.ok()
            except db_errors() as exc:
                outage.failed("sweep failed", error=repr(exc))
            except Exception:  # housekeeping must not stop the daemon; next round retries
                log.exception("sweep failed")

    async def sweep_once(self) -> None:
        await self.recover()
        try:
            await self.match_unknown()
        except db_errors():
            raise
        except Exception:  # e.g. a receipt_time_zone PostgreSQL does not know: the rest still runs
            log.exception("matching receipts to unknown outcomes failed")
        await self.unknown_grace_ended()
        await self.receipt_timeouts()
        await self.parked()

    def _finalize_kw(self) -> dict[str, object]:
        hooks = self._carriers.config.webhooks
        return {"webhooks": hooks.enabled, "default_url": hooks.default_url}

    async def receipt_timeouts(self) -> int:
        carriers = self._carriers.config.carriers
        if not carriers:
            return 0
        names = [c.name for c in carriers]
        states = ["delivered" if c.on_receipt_timeout == "sent" else "failed" for c in carriers]
        done = 0
        for sql, timeouts in (
            (_TIMEOUTS, [c.receipt_timeout.seconds for c in carriers]),
            (_ACCEPTED_TIMEOUTS, [c.accepted_timeout.seconds for c in carriers]),
        ):
            done += await self._timeouts(sql, names, timeouts, states)
        return done

    async def _timeouts(self, sql: str, names: list[str], timeouts: list[float], states: list[str]) -> int:
        done = 0
        while True:
            with trio.fail_after(self.db_timeout):
                async with self._db.transaction() as tx:
                    rows = await tx.fetch(sql, names, timeouts, states, self.batch, min(timeouts))
                    sent, failed = await finalize_messages(
                        tx, {r["message_id"] for r in rows}, **self._finalize_kw()  # type: ignore[arg-type]
                    )
            self._count(len(rows), sent, failed)
            self._stats.swept += len(rows)
            done += len(rows)
            if len(rows) < self.batch:
                return done

    async def parked(self) -> int:
        ttl = self._carriers.config.daemon.parked_receipt_ttl.seconds
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
                taken = await take_parked(tx, keys, self._table_for)
                hooks = self._carriers.config.webhooks
                out = await apply_parked(tx, taken, webhooks=hooks.enabled, default_url=hooks.default_url)
        self._stats.parked_applied += out.parked_applied
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

    def _grace(self, carrier: str | None, route: str | None) -> float:
        """How long an unknown outcome waits before the policy: the longest grace of its carrier(s)."""
        names = [carrier] if carrier else self._carriers_of_route(route)
        rules = [self._rules(n) for n in names]
        return max((r.config.unknown_outcome_grace.seconds for r in rules if r is not None), default=0.0)

    async def match_unknown(self) -> int:
        """Parked receipts matched to unknown parts by their fields (unknown.py)."""
        config = self._carriers.config
        pairs = [(route.label, name) for route in config.routes for name in route.carrier_names]
        zones = [(c.name, c.receipt_time_zone) for c in config.carriers]
        with trio.fail_after(self.db_timeout):
            async with self._db.transaction() as tx:
                out = await match_unknown_parts(
                    tx, route_pairs=pairs, zones=zones, payload_routes=self._carriers.payload_routes(),
                    table_for=self._table_for, **self._finalize_kw(),  # type: ignore[arg-type]
                )
        s = self._stats
        s.unknown_matched += out.parts
        s.receipts_ambiguous += out.ambiguous
        if out.applied is not None:
            s.parked_applied += out.applied.parked_applied
            s.receipts_applied += out.applied.receipts_applied
            s.sent += out.applied.sent
            s.failed += out.applied.failed
        if out.parts or out.ambiguous:
            log.info("unknown outcomes matched to parked receipts", parts=out.parts, ambiguous=out.ambiguous)
        return out.parts

    async def unknown_grace_ended(self) -> int:
        """Unknown parts whose grace ended: the carrier's on_unknown_outcome applies."""
        done = 0
        while True:
            with trio.fail_after(self.db_timeout):
                async with self._db.transaction() as tx:
                    rows = await tx.fetch(_GRACE_ENDED, self.batch)
                    if not rows:
                        return done
                    decided = [
                        (r["message_id"], r["seq"], self._policy(r["carrier"], r["route"], r["attempts"]), 0.0)
                        for r in rows
                    ]
                    updated = await tx.fetch(_RECOVER, *[list(c) for c in zip(*decided, strict=True)], "unknown")
                    failed_ids = {r["message_id"] for r in updated if r["st"] == "failed"}
                    sent, failed = await finalize_messages(tx, failed_ids, **self._finalize_kw())  # type: ignore[arg-type]
            self._stats.unknown_expired += len(updated)
            self._stats.resubmitted += sum(1 for r in updated if r["st"] == "queued")
            self._count(0, sent, failed)
            log.info("unknown outcomes: grace ended, policy applied", parts=len(updated))
            done += len(updated)
            if len(rows) < self.batch:
                return done

    async def recover(self) -> int:
        """Resolve the ``submitting`` parts of dead instances (see the module docstring)."""
        done = 0
        with trio.fail_after(self.db_timeout):
            dead = [r["id"] for r in await self._db.fetch(_DEAD, sorted(self._instances.live_ids))]
        if not dead:
            return 0
        while True:
            with trio.fail_after(self.db_timeout):
                async with self._db.transaction() as tx:
                    rows = await tx.fetch(_ORPHANS, dead, self.batch)
                    if not rows:
                        return done
                    # carrier None: a `submitting` part's carrier column is an earlier
                    # attempt's (recovery clears it), so its route's carriers decide
                    decided = [self._recovered(r["message_id"], r["seq"], None, r["route"], r["attempts"])
                               for r in rows]  # fmt: skip
                    updated = await tx.fetch(
                        _RECOVER, *[list(c) for c in zip(*decided, strict=True)], "submitting"
                    )
                    failed_ids = {r["message_id"] for r in updated if r["st"] == "failed"}
                    sent, failed = await finalize_messages(tx, failed_ids, **self._finalize_kw())  # type: ignore[arg-type]
            self._stats.recovered += len(updated)
            self._count(0, sent, failed)
            log.info("recovered parts of dead instances", parts=len(updated),
                     unknown=sum(1 for r in updated if r["st"] == "unknown"),
                     resubmitted=sum(1 for r in updated if r["st"] == "queued"))  # fmt: skip
            done += len(updated)
            if len(rows) < self.batch:
                return done

    def _recovered(
        self, message_id: int, seq: int, carrier: str | None, route: str | None, attempts: int
    ) -> tuple[int, int, str, float]:
        """A dead instance's part: unknown for its grace, or the policy at once (grace 0)."""
        grace = self._grace(carrier, route)
        if grace > 0:
            return message_id, seq, "unknown", grace
        return message_id, seq, self._policy(carrier, route, attempts), 0.0

    def _count(self, _parts: int, sent: list[int], failed: list[int]) -> None:
        self._stats.sent += len(sent)
        self._stats.failed += len(failed)
