"""Read side of the seed 000 API: GET /sms/{id}."""

from __future__ import annotations

from bridge.store.executor import Executor
from bridge.store.models import STATUS_OF_STATE, MessageView, iso_millis
from bridge.store.reasons import describe

__all__ = ["get_message"]

# carrierRef is the first part's carrier message id: null until its
# submit_sm_resp is stored (seed 000 shows it once known).
_GET_MESSAGE = """
SELECT m.public_id, c.public_id AS campaign_public_id, m.destination, c.body, m.state::text,
       m.cost, m.country, m.created_at, m.error,
       (SELECT p.carrier_message_id FROM message_parts p
         WHERE p.message_id = m.id AND p.seq = 1) AS carrier_ref,
       EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = m.id AND l.kind = 'charge') AS charged
FROM messages m JOIN campaigns c ON c.id = m.campaign_id
WHERE m.public_id = $1 AND ($2::bigint IS NULL OR m.account_id = $2)
"""


async def get_message(
    db: Executor, public_id: str, *, account_id: int | None = None
) -> MessageView | None:
    """The message ``msg_...``; None when unknown or (with ``account_id``) not that account's."""
    row = await db.fetchrow(_GET_MESSAGE, public_id, account_id)
    if row is None:
        return None
    return MessageView(
        id=row["public_id"],
        campaign_id=row["campaign_public_id"],
        to=row["destination"],
        message=row["body"],
        status=STATUS_OF_STATE[row["state"]],
        carrier_ref=row["carrier_ref"],
        cost=row["cost"],
        country=row["country"].strip() if row["country"] else None,
        charged=row["charged"],
        created_at=iso_millis(row["created_at"]),
        # A reason only for a final failure: a part's error while it is retried is not one.
        error=row["error"] if row["state"] in ("failed", "invalid") else None,
        reason=describe(row["error"]) if row["state"] in ("failed", "invalid") else None,
    )
