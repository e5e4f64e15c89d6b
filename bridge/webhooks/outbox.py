"""The outbox and the endpoints in PostgreSQL: claim, record, release, prune, manage.

Several senders (one in each daemon, or `smpp-bridge webhooks run`) share one
database. A sender claims due rows with ``FOR UPDATE SKIP LOCKED`` and, in the
same statement, moves their ``next_attempt_at`` to the end of a lease and
writes its id into ``claimed_by``: after the commit no other sender sees them
as due until the lease ends. Results are written back only where
``claimed_by`` is still this sender, so a sender that lost its lease (stalled
for longer than the lease) cannot overwrite another's outcome. A sender that
dies leaves its rows to come due again when the lease ends: the attempt that
was in flight is the only one that may be made twice (same delivery id).

Every statement is batched (unnest arrays), one round trip per batch.

A row's own ``url`` (a preflight session's ``webhook_url``, seed 004) replaces the
endpoint's URL (for events other than ``sms.status``, whose rows of versions before
13 may still carry an old URL); the endpoint still gives the secret, and without one the row
cannot be signed and is not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge.store.db import Database

__all__ = [
    "Claimed",
    "Outcome",
    "claim",
    "prune",
    "record",
    "release",
]


@dataclass(frozen=True, slots=True)
class Claimed:
    """One due outbox row and the endpoint it resolves to now."""

    id: int
    account_id: int
    event: str
    payload: dict[str, Any]
    attempt: int  # the number of the attempt about to be made (1-based)
    endpoint_id: int | None
    url: str | None
    secret_sealed: bytes | None
    secret_key_id: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt ended in: ``state`` pending (retry at ``next_at``), delivered or dead."""

    id: int
    state: str
    attempts: int
    next_at: datetime | None
    error: str | None
    status: int | None
    at: datetime


# The due rows' ids are taken first (ARRAY(...): evaluated once), then updated through the
# primary key: a join of the due rows with the table would let the planner hash the
# whole table once the batch is a few hundred rows (seen with 500: 10-30 ms a claim).
_CLAIM = """
WITH claimed AS (
    UPDATE webhook_outbox SET next_attempt_at = $3, claimed_by = $4
    WHERE id = ANY (ARRAY(
        SELECT id FROM webhook_outbox
        WHERE state = 'pending' AND next_attempt_at <= $1 AND account_id <> ALL ($5::bigint[])
        ORDER BY next_attempt_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    RETURNING id, account_id, api_key_id, event, payload, attempts, url
)
SELECT c.id, c.account_id, c.event, c.payload, c.attempts, e.id AS endpoint_id,
       CASE WHEN e.id IS NOT NULL AND c.event <> 'sms.status' THEN coalesce(c.url, e.url) ELSE e.url END AS url, e.secret_sealed, e.secret_key_id
FROM claimed c
LEFT JOIN LATERAL webhook_endpoints_for(c.account_id, c.api_key_id) e ON true
"""


async def claim(
    db: Database, *, now: datetime, limit: int, lease: float, sender_id: int, skip_accounts: Sequence[int] = ()
) -> list[Claimed]:
    """Take up to ``limit`` due rows for ``lease`` seconds, none of ``skip_accounts``."""
    rows = await db.fetch(_CLAIM, now, limit, now + timedelta(seconds=lease), sender_id, list(skip_accounts))
    return [
        Claimed(
            id=r["id"], account_id=r["account_id"], event=r["event"], payload=r["payload"], attempt=r["attempts"] + 1,
            endpoint_id=r["endpoint_id"], url=r["url"], secret_sealed=r["secret_sealed"],
            secret_key_id=r["secret_key_id"],
        )
        for r in rows
    ]  # fmt: skip


# Each outcome finds its row by the primary key (``id = ANY``), whatever the statistics
# say. ``claimed_by`` and ``state`` are compared with columns of the materialised outcomes,
# not with constants: "claimed_by = <this sender>" (statistics: mostly NULL) looked like
# one row and was joined with every outcome in a nested loop (0.4 s for 700 outcomes), and
# "state = 'pending'" let the planner walk the whole partial index of pending rows.
_RECORD = """
WITH r AS MATERIALIZED (
    SELECT u.*, $8::bigint AS sender, 'pending'::outbox_state AS pending
    FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::timestamptz[], $5::text[], $6::smallint[],
                $7::timestamptz[]) AS u(id, state, attempts, next_at, error, status, at)
)
UPDATE webhook_outbox o SET
    state = r.state::outbox_state,
    attempts = r.attempts,
    next_attempt_at = coalesce(r.next_at, o.next_attempt_at),
    last_error = r.error,
    last_status = r.status,
    claimed_by = NULL,
    delivered_at = CASE WHEN r.state = 'delivered' THEN r.at END,
    finished_at = CASE WHEN r.state <> 'pending' THEN r.at END
FROM r
WHERE o.id = ANY ($1::bigint[]) AND o.id = r.id AND o.claimed_by = r.sender AND o.state = r.pending
"""


async def record(db: Database, outcomes: Sequence[Outcome], *, sender_id: int) -> int:
    """Write the outcomes of attempts; returns how many rows this sender still held."""
    if not outcomes:
        return 0
    result = await db.execute(
        _RECORD,
        [o.id for o in outcomes], [o.state for o in outcomes], [o.attempts for o in outcomes],
        [o.next_at for o in outcomes], [o.error for o in outcomes], [o.status for o in outcomes],
        [o.at for o in outcomes], sender_id,
    )  # fmt: skip
    return int(result.rsplit(" ", 1)[-1])


_RELEASE = """
UPDATE webhook_outbox SET next_attempt_at = $2, claimed_by = NULL
WHERE id = ANY ($1::bigint[]) AND claimed_by = $3 AND state = 'pending'
"""


async def release(db: Database, ids: Sequence[int], *, at: datetime, sender_id: int) -> None:
    """Give rows back unattempted (shutting down, or their endpoint is busy): due at ``at``."""
    if ids:
        await db.execute(_RELEASE, list(ids), at, sender_id)


_PRUNE = """
DELETE FROM webhook_outbox WHERE id IN (
    SELECT id FROM webhook_outbox
    WHERE state IN ('delivered', 'dead') AND finished_at < $1
    LIMIT $2)
"""


async def prune(db: Database, *, before: datetime, batch: int = 5000) -> int:
    """Delete delivered and dead rows finished before ``before``, one batch; returns the count."""
    result = await db.execute(_PRUNE, before, batch)
    return int(result.rsplit(" ", 1)[-1])
