"""finalize_messages: accepted-only messages go submitted without aggregation, the rest aggregate."""

from __future__ import annotations

from bridge.dispatch.finalize import finalize_messages
from bridge.store.db import Database


async def _messages(db: Database, states: list[tuple[str, str]]) -> list[int]:
    """One single-part message per (message state, part state)."""
    account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ('acme', 10) RETURNING id")
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ('camp_1', $1, 'transactional', 'hi')"
        " RETURNING id",
        account,
    )
    ids = []
    for n, (message_state, part_state) in enumerate(states):
        message = await db.fetchval(
            "INSERT INTO messages (public_id, campaign_id, account_id, destination, state)"
            " VALUES ($1, $2, $3, '+60123456789', $4::message_state) RETURNING id",
            f"msg_{n}", campaign, account, message_state,
        )  # fmt: skip
        await db.execute(
            "INSERT INTO message_parts (message_id, seq, total, body, state) VALUES ($1, 1, 1, 'hi', $2::part_state)",
            message, part_state,
        )  # fmt: skip
        ids.append(message)
    return ids


async def test_accepted_only_messages_become_submitted(db: Database) -> None:
    queued, failed, both = await _messages(db, [("queued", "submitted"), ("failed", "failed"), ("queued", "delivered")])
    async with db.transaction() as tx:
        sent, refunded = await finalize_messages(tx, [both], submitted_only=[queued, failed, both], webhooks=False)
    states = dict(await db.fetch("SELECT id, state::text FROM messages"))
    assert states == {queued: "submitted", failed: "failed", both: "delivered"}
    assert (sent, refunded) == ([both], [])


async def test_nothing_to_do_is_a_no_op(db: Database) -> None:
    async with db.transaction() as tx:
        assert await finalize_messages(tx, [], submitted_only=[]) == ([], [])
