"""Read side of the seed 000 API: GET /sms/{id}."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.store.executor import Executor, Record
from bridge.store.models import STATUS_OF_STATE, MessageView, iso_millis
from bridge.store.reasons import describe

__all__ = ["get_message", "get_messages"]

# carrierRef is the first part's carrier message id: null until its
# submit_sm_resp is stored (seed 000 shows it once known).
_COLUMNS = """
SELECT m.public_id, c.public_id AS campaign_public_id, m.destination, c.body, m.state::text,
       m.cost, m.country, m.created_at, m.error, m.account_id,
       (SELECT p.carrier_message_id FROM message_parts p
         WHERE p.message_id = m.id AND p.seq = 1) AS carrier_ref,
       EXISTS (SELECT 1 FROM ledger l WHERE l.message_id = m.id AND l.kind = 'charge') AS charged
FROM messages m JOIN campaigns c ON c.id = m.campaign_id
"""
_GET_MESSAGE = _COLUMNS + "WHERE m.public_id = $1 AND ($2::bigint IS NULL OR m.account_id = $2)"
# One lookup per id (LATERAL; its LIMIT keeps the planner from flattening it
# into a join): the unique index whatever the planner guesses about the
# array's size or the tables' (a `public_id = ANY($1)` of 64 ids, or the
# flattened join, was planned as a scan of messages while the statistics were
# those of small tables).
_GET_MESSAGES = f"""
SELECT found.* FROM unnest($1::text[]) AS wanted(public_id)
CROSS JOIN LATERAL ({_COLUMNS} WHERE m.public_id = wanted.public_id LIMIT 1) AS found
"""


async def get_message(
    db: Executor, public_id: str, *, account_id: int | None = None
) -> MessageView | None:
    """The message ``msg_...``; None when unknown or (with ``account_id``) not that account's."""
    row = await db.fetchrow(_GET_MESSAGE, public_id, account_id)
    return None if row is None else _view(row)


async def get_messages(db: Executor, public_ids: Sequence[str]) -> dict[str, tuple[int, MessageView]]:
    """Several messages in one statement: public id -> (its account id, its view); unknown ids absent.

    The caller checks the account of each (another account's message is
    answered as unknown).
    """
    rows = await db.fetch(_GET_MESSAGES, list(public_ids))
    return {row["public_id"]: (row["account_id"], _view(row)) for row in rows}


def _view(row: Record) -> MessageView:
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
