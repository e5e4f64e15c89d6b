"""Messages follow their parts: one batched step shared by the writer, the sweeper and recovery.

Called inside the transaction that changed the parts, so the message state,
the money (``bridge.store.accounts.settle``) and the webhook outbox row move
together or not at all (DESIGN.md "Reliability rules"). The aggregation is
``dlr.message_status`` written in SQL so a whole batch is one statement:
failed as soon as any part failed, sent (``delivered``) when every part is
delivered, otherwise pending (``submitted`` once a part has a carrier id).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from bridge.store.accounts import Outcome, settle
from bridge.store.db import Connection

__all__ = ["PartNews", "Touched", "finalize_messages", "note_parts"]

# What a flush learned about a message whose parts it changed: for a message of
# one part, that part's new state and error (the message simply follows them,
# no aggregation needed); None for a message of several parts.
PartNews = tuple[str, str | None] | None
Touched = dict[int, PartNews]


def note_parts(touched: Touched, rows: Iterable[Any]) -> None:
    """Record the parts an UPDATE ... RETURNING message_id, total, state, err changed, in order."""
    for row in rows:
        touched[row["message_id"]] = (row["state"], row["err"]) if row["total"] == 1 else None

# Lock the messages in id order first: the writers of several daemons and the
# sweeper then always lock in the same order and cannot deadlock on them.
_LOCK = """
SELECT id FROM messages WHERE id = ANY($1::bigint[])
AND state NOT IN ('delivered', 'failed', 'invalid') ORDER BY id FOR NO KEY UPDATE
"""

_AGGREGATE = """
WITH agg AS (
    SELECT message_id,
           bool_or(state = 'failed') AS any_failed,
           bool_and(state = 'delivered') AS all_delivered,
           bool_or(state IN ('submitted', 'delivered')) AS any_submitted,
           min(seq) FILTER (WHERE state = 'failed') AS failed_seq
    FROM message_parts WHERE message_id = ANY($1::bigint[]) GROUP BY message_id
)
UPDATE messages m
SET state = CASE WHEN a.any_failed THEN 'failed' WHEN a.all_delivered THEN 'delivered'
                 ELSE 'submitted' END::message_state,
    final_at = CASE WHEN a.any_failed OR a.all_delivered THEN now() END,
    updated_at = now(),
    error = CASE WHEN a.any_failed THEN coalesce(m.error, (
        SELECT coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed')
        FROM message_parts p WHERE p.message_id = m.id AND p.seq = a.failed_seq)) ELSE m.error END
FROM agg a
WHERE m.id = a.message_id AND m.state NOT IN ('delivered', 'failed', 'invalid')
  AND (a.any_failed OR a.all_delivered OR (a.any_submitted AND m.state <> 'submitted'))
RETURNING m.id, m.state::text AS state
"""

# Messages of one part take their part's state (the aggregation above, for a
# single row): the writer's common case, without reading the parts again.
_FOLLOW_ONE_PART = """
UPDATE messages m
SET state = u.st::message_state,
    final_at = CASE WHEN u.st IN ('delivered', 'failed') THEN now() END,
    updated_at = now(),
    error = CASE WHEN u.st = 'failed' THEN coalesce(m.error, u.err) ELSE m.error END
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, st, err)
WHERE m.id = u.id AND m.state NOT IN ('delivered', 'failed', 'invalid') AND m.state::text <> u.st
RETURNING m.id, m.state::text AS state
"""

# A failed message is refunded at once: its parts still queued are not sent
# (the handset could not show a message with a hole in it anyway).
_CANCEL_QUEUED = """
UPDATE message_parts SET state = 'failed', final_at = now(), receipt_stat = 'cancelled'
WHERE message_id = ANY($1::bigint[]) AND state::text = 'queued'  -- see apply._ACCEPT
"""

# Seed 000 "Delivery webhook" payload; the sender adds "attempt". The timestamp
# is one value per statement (now() is the transaction's time): as a subquery it
# is formatted once, not once per row.
_OUTBOX = """
INSERT INTO webhook_outbox (account_id, message_id, url, payload)
SELECT m.account_id, m.id, coalesce(a.webhook_url, $2::text),
       jsonb_build_object(
           'event', 'sms.status', 'id', m.public_id, 'campaignId', c.public_id,
           'to', m.destination,
           'status', CASE m.state WHEN 'delivered' THEN 'sent' ELSE m.state::text END,
           'reference', c.reference,
           'timestamp', (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN accounts a ON a.id = m.account_id
WHERE m.id = ANY($1::bigint[])
"""


async def finalize_messages(
    tx: Connection,
    message_ids: Collection[int] | Mapping[int, PartNews],
    *,
    webhooks: bool = True,
    default_url: str | None = None,
) -> tuple[list[int], list[int]]:
    """Move the messages of ``message_ids`` after their parts; returns (sent ids, failed ids).

    With a mapping (``Touched``), messages of one part whose news is known take
    it directly; every other message is aggregated over its parts.
    """
    if not message_ids:
        return [], []
    ids = sorted(set(message_ids))
    news = message_ids if isinstance(message_ids, Mapping) else {}
    await tx.execute(_LOCK, ids)
    direct = [(i, n) for i in ids if (n := news.get(i)) is not None]
    aggregate = [i for i in ids if news.get(i) is None]
    rows = []
    if direct:
        rows += await tx.fetch(
            _FOLLOW_ONE_PART, [i for i, _ in direct], [n[0] for _, n in direct], [n[1] for _, n in direct]
        )
    if aggregate:
        rows += await tx.fetch(_AGGREGATE, aggregate)
    sent = [r["id"] for r in rows if r["state"] == "delivered"]
    failed = [r["id"] for r in rows if r["state"] == "failed"]
    several = [i for i in failed if news.get(i) is None]
    if several:
        await tx.execute(_CANCEL_QUEUED, several)
    if sent or failed:
        # The outbox first: settle locks the account rows, which every flush of every
        # writer needs, so they are held only for settle and the COMMIT that follows.
        if webhooks:
            await tx.execute(_OUTBOX, sent + failed, default_url)
        await settle(tx, [(i, Outcome.CHARGE) for i in sent] + [(i, Outcome.REFUND) for i in failed])
    return sent, failed
