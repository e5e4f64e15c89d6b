"""Messages follow their parts: one batched step shared by the writer, the sweeper and recovery.

Called inside the transaction that changed the parts, so the message state,
the money (``bridge.store.accounts.settle``) and the webhook outbox row move
together or not at all (DESIGN.md "Reliability rules"). The aggregation is
``dlr.message_status`` written in SQL so a whole batch is one statement:
failed as soon as any part failed, sent (``delivered``) when every part is
delivered, otherwise pending (``submitted`` once a part has a carrier id).
"""

from __future__ import annotations

from collections.abc import Collection

from bridge.store.accounts import Outcome, settle
from bridge.store.db import Connection

__all__ = ["finalize_messages"]

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

# A failed message is refunded at once: its parts still queued are not sent
# (the handset could not show a message with a hole in it anyway).
_CANCEL_QUEUED = """
UPDATE message_parts SET state = 'failed', final_at = now(), receipt_stat = 'cancelled'
WHERE message_id = ANY($1::bigint[]) AND state::text = 'queued'  -- see apply._ACCEPT
"""

# Seed 000 "Delivery webhook" payload; the sender adds "attempt".
_OUTBOX = """
INSERT INTO webhook_outbox (account_id, message_id, url, payload)
SELECT m.account_id, m.id, coalesce(a.webhook_url, $2::text),
       jsonb_build_object(
           'event', 'sms.status', 'id', m.public_id, 'campaignId', c.public_id,
           'to', m.destination,
           'status', CASE m.state WHEN 'delivered' THEN 'sent' ELSE m.state::text END,
           'reference', c.reference,
           'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN accounts a ON a.id = m.account_id
WHERE m.id = ANY($1::bigint[])
"""


async def finalize_messages(
    tx: Connection,
    message_ids: Collection[int],
    *,
    webhooks: bool = True,
    default_url: str | None = None,
) -> tuple[list[int], list[int]]:
    """Move the messages of ``message_ids`` after their parts; returns (sent ids, failed ids)."""
    if not message_ids:
        return [], []
    ids = sorted(set(message_ids))
    await tx.execute(_LOCK, ids)
    rows = await tx.fetch(_AGGREGATE, ids)
    sent = [r["id"] for r in rows if r["state"] == "delivered"]
    failed = [r["id"] for r in rows if r["state"] == "failed"]
    if failed:
        await tx.execute(_CANCEL_QUEUED, failed)
    if sent or failed:
        # The outbox first: settle locks the account rows, which every flush of every
        # writer needs, so they are held only for settle and the COMMIT that follows.
        if webhooks:
            await tx.execute(_OUTBOX, sent + failed, default_url)
        await settle(tx, [(i, Outcome.CHARGE) for i in sent] + [(i, Outcome.REFUND) for i in failed])
    return sent, failed
