"""How sessions end: complete (every network has a result) or expired; ``session.complete``.

Both endings write, in the transaction that ends the session:

- an outbox row ``session.complete`` (the webhook sender delivers it with its own
  policy, bridge/preflight/webhook.py) when the owner's plan has webhooks and the
  account has a webhook endpoint (URL and signing secret, `smpp-bridge webhooks
  set`); the session's own ``webhook_url`` replaces the endpoint's URL, the
  secret stays the account's;
- for a self-test session, one heartbeat per network (preflight_heartbeats): the
  probe's round trip, or a failure for a probe that never came back.

Matching and expiry run under one transaction-level advisory lock
(``MATCH_LOCK``): a result is never both received and lost, and a session ends once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from bridge.preflight.plans import PLANS
from bridge.preflight.views import RESULT_COLUMNS, SESSION_COLUMNS, session_view
from bridge.store.executor import Executor

__all__ = ["MATCH_LOCK", "SESSION_COMPLETE", "expire_due", "finish_sessions", "session_payload"]

SESSION_COMPLETE = "session.complete"
# pg_advisory_xact_lock key of preflight matching and expiry ("PREFLITE" in ASCII).
MATCH_LOCK = 0x505245464C495445

_WEBHOOK_PLANS = [name for name, plan in PLANS.items() if plan.webhooks]


def session_payload(row: Any, results: Sequence[Any]) -> dict[str, Any]:
    """Seed 004 "Payload": ``{"event": "session.complete", "session": {...}}``."""
    view = session_view(row, results)
    session = {
        "id": view.id, "status": view.status, "sender_id": view.sender_id, "client_ref": view.client_ref,
        "test_code": view.test_code, "expected_body": view.expected_body, "created_at": view.created_at,
        "expires_at": view.expires_at, "results": view.results,
    }  # fmt: skip
    return {"event": SESSION_COMPLETE, "session": session}


async def finish_sessions(tx: Executor, session_ids: Sequence[UUID], *, webhooks: bool = True) -> None:
    """The outbox rows and heartbeats of sessions that just ended (status set)."""
    if not session_ids:
        return
    ids = list(session_ids)
    rows = await tx.fetch(
        f"SELECT {SESSION_COLUMNS}, u.plan, EXISTS (SELECT 1 FROM webhook_endpoints e"
        "  WHERE e.account_id = s.account_id AND e.api_key_id IS NULL) AS has_endpoint"
        " FROM preflight_sessions s LEFT JOIN preflight_users u ON u.account_id = s.account_id"
        " WHERE s.id = ANY($1::uuid[])",
        ids,
    )
    hooked = [r for r in rows if webhooks and r["has_endpoint"] and r["plan"] in _WEBHOOK_PLANS]
    if hooked:
        results = await tx.fetch(
            f"SELECT {RESULT_COLUMNS} FROM preflight_results r WHERE r.session_id = ANY($1::uuid[])"
            " ORDER BY r.session_id, r.position, r.network",
            [r["id"] for r in hooked],
        )
        by_session: dict[UUID, list[Any]] = {}
        for r in results:
            by_session.setdefault(r["session_id"], []).append(r)
        await tx.executemany(
            "INSERT INTO webhook_outbox (account_id, event, payload, url) VALUES ($1, $2, $3, $4)",
            [(r["account_id"], SESSION_COMPLETE, session_payload(r, by_session.get(r["id"], [])), r["webhook_url"])
             for r in hooked],
        )  # fmt: skip
    probes = [r["id"] for r in rows if r["mode"] == "self_test"]
    if probes:
        await tx.execute(
            "INSERT INTO preflight_heartbeats (network, at, success, latency_ms, session_id)"
            " SELECT r.network, coalesce(r.received_at, s.expires_at), r.status = 'received', r.latency_ms, s.id"
            " FROM preflight_results r JOIN preflight_sessions s ON s.id = r.session_id"
            " WHERE s.id = ANY($1::uuid[])",
            probes,
        )


_EXPIRE = """
WITH ended AS (
    UPDATE preflight_sessions SET status = 'expired', finished_at = $1
    WHERE status = 'pending' AND expires_at <= $1 AND ($2::uuid IS NULL OR id = $2)
    RETURNING id
), lost AS (
    UPDATE preflight_results r SET status = 'expired', verdict = 'lost'
    FROM ended WHERE r.session_id = ended.id AND r.status = 'pending'
)
SELECT id FROM ended
"""


async def expire_due(db: Executor, now: datetime, session_id: UUID | None = None) -> list[UUID]:
    """Expire the pending sessions whose 5 minutes are over (or just ``session_id``).

    A session whose every network received something was completed by the
    matcher already; what is left pending here has at least one ``lost`` result.
    """
    if session_id is None:
        due = await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM preflight_sessions WHERE status = 'pending' AND expires_at <= $1)", now
        )
        if not due:
            return []
    async with db.transaction() as tx:
        await tx.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
        ended = [r["id"] for r in await tx.fetch(_EXPIRE, now, session_id)]
        await finish_sessions(tx, ended)
    return ended
