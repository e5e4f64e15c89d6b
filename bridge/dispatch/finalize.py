"""Messages follow their parts: one batched step shared by the writer, the sweeper and recovery.

Called inside the transaction that changed the parts, so the message state,
the money (``settle_messages``) and the webhook outbox row move together or
not at all (DESIGN.md "Reliability rules"). The step is the SQL function
``finalize_messages`` of migration 0006: one round trip from the daemon for
what were seven statements (lock, one-part update, aggregation, cancelling
queued parts, outbox, account lock, settle). The aggregation is
``dlr.message_status`` written in SQL: failed as soon as any part failed, sent
(``delivered``) when every part is delivered. A message that is not final
stays ``queued`` (public status ``pending``): where it is at the carrier is
its parts' state, and moving the message row to ``submitted`` as well cost
PostgreSQL about a sixth of its time per message (migration 0007).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from bridge.store.db import Connection

__all__ = ["PartNews", "Touched", "finalize_messages", "note_parts"]

# What a flush learned about a message whose parts it changed: for a message of
# one part, that part's new state and error (the message simply follows them,
# no aggregation needed); None for a message of several parts.
PartNews = tuple[str, str | None] | None
Touched = dict[int, PartNews]


_FINAL_PART_STATES = frozenset({"delivered", "failed"})


def note_parts(touched: Touched, rows: Iterable[Any]) -> None:
    """Record the parts an UPDATE ... RETURNING message_id, total, state, err made final.

    A message changes only when it becomes final (migration 0007), and that
    happens only in a transaction where one of its parts became final; parts
    that merely got their carrier id are not recorded.
    """
    for row in rows:
        if row["state"] in _FINAL_PART_STATES:
            touched[row["message_id"]] = (row["state"], row["err"]) if row["total"] == 1 else None


_FINALIZE = """
SELECT message_id, final_state FROM finalize_messages(
    $1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::boolean, $6::text)
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
    news = message_ids if isinstance(message_ids, Mapping) else {}
    one_ids: list[int] = []
    one_states: list[str] = []
    one_errors: list[str | None] = []
    several: list[int] = []
    for message_id in sorted(set(message_ids)):
        known = news.get(message_id)
        if known is None:
            several.append(message_id)
        else:
            one_ids.append(message_id)
            one_states.append(known[0])
            one_errors.append(known[1])
    rows = await tx.fetch(_FINALIZE, one_ids, one_states, one_errors, several, webhooks, default_url)
    sent = [r[0] for r in rows if r[1] == "delivered"]
    failed = [r[0] for r in rows if r[1] == "failed"]
    return sent, failed
