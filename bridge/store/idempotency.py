"""``api_idempotency``: the first answer per (API key, Idempotency-Key), shared by the
SMS API and Preflight.

The request takes the key inside its own transaction (``take``); the answer is stored
in the same transaction (``keep``), so a concurrent request with the same key waits on
the unique index until the first commits, then reads its answer: one effect, never two.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.store.executor import Executor

__all__ = ["StoredAnswer", "keep", "take"]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer an earlier request with the same key got."""

    same_request: bool  # False: the key was used with another request body
    status: int
    body: bytes


async def take(tx: Executor, key_id: int, idem_key: str, request_hash: bytes) -> StoredAnswer | None:
    """None when this request is the key's first (it goes on and ``keep``s its answer)."""
    mine = await tx.fetchval(
        "INSERT INTO api_idempotency (key_id, idem_key, request_hash) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        key_id, idem_key, request_hash,
    )  # fmt: skip
    if mine:
        return None
    row = await tx.fetchrow(
        "SELECT request_hash, status, body FROM api_idempotency WHERE key_id = $1 AND idem_key = $2",
        key_id, idem_key,
    )  # fmt: skip
    assert row is not None  # the INSERT conflicted with it, and it was committed
    return StoredAnswer(bytes(row["request_hash"]) == request_hash, row["status"], row["body"])


async def keep(tx: Executor, key_id: int, idem_key: str, status: int, body: bytes) -> None:
    """Store the answer of the request that took the key, in its transaction."""
    await tx.execute(
        "UPDATE api_idempotency SET status = $3, body = $4 WHERE key_id = $1 AND idem_key = $2",
        key_id, idem_key, status, body,
    )  # fmt: skip
