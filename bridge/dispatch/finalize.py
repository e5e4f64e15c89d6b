"""Messages follow their parts: the batched step of the sweeper and recovery.

The writer's flush calls the same SQL function from ``apply_flush`` (defined
last in migration 0011). Called inside the transaction that changed the parts, so the message state,
the money (``settle_messages``) and the webhook outbox row move together or
not at all (docs/design.md "Reliability rules"). The step is the SQL function
``finalize_messages`` (defined last in migration 0014): one round trip from the daemon for
what were seven statements (lock, one-part update, aggregation, cancelling
queued parts, outbox, account lock, settle). The aggregation is
``dlr.message_status`` written in SQL: failed as soon as any part failed, sent
(``delivered``) when every part is delivered. A message that is not final
stays ``queued`` (public status ``pending``): where it is at the carrier is
its parts' state (moving the message row to ``submitted`` as well cost
PostgreSQL about a sixth of its time per message).
"""

from __future__ import annotations

from collections.abc import Collection

from bridge.store.db import Connection

__all__ = ["finalize_messages"]

_FINALIZE = """
SELECT message_id, final_state FROM finalize_messages(
    '{}'::bigint[], '{}'::text[], '{}'::text[], $1::bigint[], $2::boolean, $3::text)
"""


async def finalize_messages(
    tx: Connection,
    message_ids: Collection[int],
    *,
    webhooks: bool = True,
    default_url: str | None = None,
) -> tuple[list[int], list[int]]:
    """Move the messages of ``message_ids`` after their parts; returns (sent ids, failed ids).

    Each message is aggregated over its parts; one that is not final is left as it is.
    """
    if not message_ids:
        return [], []
    rows = await tx.fetch(_FINALIZE, sorted(set(message_ids)), webhooks, default_url)
    sent = [r[0] for r in rows if r[1] == "delivered"]
    failed = [r[0] for r in rows if r[1] == "failed"]
    return sent, failed
