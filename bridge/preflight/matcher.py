"""MO to probe numbers -> results: one batched transaction per pass (runtime-free).

The writer's MO statement copies every MO whose destination is a probe number
into ``preflight_inbox`` as it stores it (bridge/dispatch/apply.py) and NOTIFYs
``PREFLIGHT_CHANNEL``. A pass (``match_inbox``), under the matching lock
(outcomes.MATCH_LOCK, so several daemons never match one MO twice):

1. takes the inbox rows not yet looked at, oldest first;
2. joins the parts of concatenated MO (reassembly.py); a message with parts still
   missing waits in the inbox (``waiting``) until they come;
3. chooses each whole message's session (matching.choose), writes its result
   (verdicts.py), completes the sessions with every network received
   (outcomes.finish_sessions: webhook, heartbeats);
4. deletes the rows it used. An MO no session waits for is counted and dropped
   from the inbox (it stays in inbound_messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bridge.preflight.matching import Candidate, choose
from bridge.preflight.outcomes import MATCH_LOCK, finish_sessions
from bridge.preflight.reassembly import Fragment, IncompleteMessage, fragment, join
from bridge.preflight.verdicts import body_matches, verdict_for
from bridge.store.executor import Executor

__all__ = ["PREFLIGHT_CHANNEL", "Mo", "PassStats", "match_inbox", "prune_inbox"]

PREFLIGHT_CHANNEL = "smpp_bridge_preflight"


@dataclass(frozen=True, slots=True)
class Mo:
    """One whole MO (all its parts joined)."""

    inbound_id: int  # of its first part
    digits: str
    source: str
    source_ton: int | None
    body: str | None
    received_at: datetime  # when its last part arrived


@dataclass(slots=True)
class PassStats:
    taken: int = 0  # inbox rows looked at
    matched: int = 0
    unmatched: int = 0  # whole MO no session waited for
    ambiguous: int = 0
    waiting: int = 0  # parts waiting for the rest of their message
    completed: int = 0  # sessions completed
    completed_ids: list[UUID] = field(default_factory=list)


_TAKE = "SELECT * FROM preflight_inbox WHERE NOT waiting ORDER BY inbound_id LIMIT $1"
_GROUP = """
SELECT i.* FROM preflight_inbox i, unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS g(c, s, d, r)
WHERE i.carrier = g.c AND i.source = g.s AND i.digits = g.d AND i.concat_ref = g.r
"""
_CANDIDATES = """
SELECT r.session_id, r.network, r.digits, r.probe_message_id, s.created_at, s.expires_at, s.test_code,
       s.expected_body, s.sender_id, s.mode
FROM preflight_results r JOIN preflight_sessions s ON s.id = r.session_id
WHERE r.status = 'pending' AND s.status = 'pending' AND r.digits = ANY($1::text[])
"""
_SUBMITTED = """
SELECT message_id, min(submitted_at) AS at FROM message_parts
WHERE message_id = ANY($1::bigint[]) GROUP BY message_id
"""
_RECEIVE = """
UPDATE preflight_results r SET status = 'received', verdict = u.verdict, latency_ms = u.latency,
    sender_received = u.sender, body_received = u.body, body_matched = u.matched, received_at = u.at,
    ambiguous = u.ambiguous, inbound_id = u.inbound
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::boolean[],
            $8::timestamptz[], $9::boolean[], $10::bigint[])
     AS u(session_id, network, verdict, latency, sender, body, matched, at, ambiguous, inbound)
WHERE r.session_id = u.session_id AND r.network = u.network AND r.status = 'pending'
"""
_COMPLETE = """
UPDATE preflight_sessions s SET status = 'complete', finished_at = now()
WHERE s.id = ANY($1::uuid[]) AND s.status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM preflight_results r WHERE r.session_id = s.id AND r.status = 'pending')
RETURNING s.id
"""


def _fragment(row: Any) -> Fragment:
    total = row["concat_total"]
    sar = (row["concat_ref"], total, row["concat_seq"]) if total and row["concat_ref"] is not None else None
    return fragment(bytes(row["raw"]), row["esm_class"], row["data_coding"], sar)


def _whole(rows: Sequence[Any]) -> tuple[list[Mo], list[int], list[int]]:
    """(whole messages, inbox ids used, inbox ids of parts that must wait)."""
    singles: list[Any] = []
    groups: dict[tuple[str, str, str, int, int], dict[int, Any]] = {}
    used: list[int] = []
    for row in rows:
        if row["concat_ref"] is None or not row["concat_total"] or row["concat_total"] < 2:
            singles.append(row)
            continue
        key = (row["carrier"], row["source"], row["digits"], row["concat_ref"], row["concat_total"])
        parts = groups.setdefault(key, {})
        if row["concat_seq"] in parts:
            used.append(row["inbound_id"])  # a part sent twice: the first one counts
        else:
            parts[row["concat_seq"]] = row
    out = [_mo([row]) for row in singles]
    used += [row["inbound_id"] for row in singles]
    waiting: list[int] = []
    for (_, _, _, _, total), parts in groups.items():
        if len(parts) < total:
            waiting += [r["inbound_id"] for r in parts.values()]
            continue
        ordered = [parts[seq] for seq in sorted(parts)]
        out.append(_mo(ordered))
        used += [r["inbound_id"] for r in ordered]
    return out, used, waiting


def _mo(rows: Sequence[Any]) -> Mo:
    try:
        body = join([_fragment(r) for r in rows])
    except (IncompleteMessage, ValueError):
        body = None
    first = rows[0]
    return Mo(
        inbound_id=first["inbound_id"], digits=first["digits"], source=first["source"],
        source_ton=first["source_ton"], body=body, received_at=max(r["received_at"] for r in rows),
    )  # fmt: skip


async def _rows(tx: Executor, limit: int) -> list[Any]:
    """New inbox rows, with every stored part of the concatenated MO among them."""
    rows = list(await tx.fetch(_TAKE, limit))
    groups = {(r["carrier"], r["source"], r["digits"], r["concat_ref"]) for r in rows
              if r["concat_ref"] is not None and (r["concat_total"] or 0) > 1}  # fmt: skip
    if groups:
        seen = {r["inbound_id"] for r in rows}
        keys = list(zip(*groups, strict=True))
        more = await tx.fetch(_GROUP, *(list(k) for k in keys))
        rows += [r for r in more if r["inbound_id"] not in seen]
    return rows


async def match_inbox(db: Executor, *, limit: int = 1000, webhooks: bool = True) -> PassStats:
    """One pass over the inbox (see the module docstring)."""
    stats = PassStats()
    async with db.transaction() as tx:
        await tx.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        rows = await _rows(tx, limit)
        if not rows:
            return stats
        stats.taken = len(rows)
        messages, used, waiting = _whole(rows)
        stats.waiting = len(waiting)
        updates = await _match(tx, messages, stats)
        if updates:
            await tx.execute(_RECEIVE, *(list(column) for column in zip(*updates, strict=True)))
            touched = list({u[0] for u in updates})
            done = [r["id"] for r in await tx.fetch(_COMPLETE, touched)]
            stats.completed, stats.completed_ids = len(done), done
            await finish_sessions(tx, done, webhooks=webhooks)
        if used:
            await tx.execute("DELETE FROM preflight_inbox WHERE inbound_id = ANY($1::bigint[])", used)
        if waiting:
            await tx.execute("UPDATE preflight_inbox SET waiting = true WHERE inbound_id = ANY($1::bigint[])", waiting)
    return stats


Update = tuple[UUID, str, str, int, str, str | None, bool | None, datetime, bool, int]


async def _match(tx: Executor, messages: Sequence[Mo], stats: PassStats) -> list[Update]:
    if not messages:
        return []
    rows = await tx.fetch(_CANDIDATES, list({m.digits for m in messages}))
    by_digits: dict[str, list[tuple[Any, Candidate]]] = {}
    for row in rows:
        by_digits.setdefault(row["digits"], []).append((row, _candidate(row)))
    probes = [r["probe_message_id"] for r in rows if r["probe_message_id"] is not None]
    submitted = {r["message_id"]: r["at"] for r in await tx.fetch(_SUBMITTED, probes)} if probes else {}
    updates: list[Update] = []
    for mo in sorted(messages, key=lambda m: (m.received_at, m.inbound_id)):
        waiting = by_digits.get(mo.digits, [])
        found = choose([c for _, c in waiting], mo.body, mo.received_at)
        if found is None:
            stats.unmatched += 1
            continue
        index = next(i for i, (_, c) in enumerate(waiting) if c.session_id == found.session_id)
        row = waiting.pop(index)[0]
        start = row["created_at"]
        if row["mode"] == "self_test":
            start = submitted.get(row["probe_message_id"]) or start
        latency = max(0, round((mo.received_at - start) / timedelta(milliseconds=1)))
        updates.append((
            row["session_id"], row["network"], verdict_for(row["sender_id"], mo.source, mo.source_ton).value,
            latency, mo.source, mo.body, body_matches(row["expected_body"], mo.body), mo.received_at,
            found.ambiguous, mo.inbound_id,
        ))  # fmt: skip
        stats.matched += 1
        stats.ambiguous += found.ambiguous
    return updates


def _candidate(row: Any) -> Candidate:
    return Candidate(row["session_id"], row["created_at"], row["expires_at"], row["test_code"], row["expected_body"])


async def prune_inbox(db: Executor, before: datetime) -> int:
    """Parts whose message never became whole, older than ``before``."""
    result = await db.execute("DELETE FROM preflight_inbox WHERE waiting AND received_at < $1", before)
    return int(result.rsplit(" ", 1)[-1])
