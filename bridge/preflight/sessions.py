"""Sessions in PostgreSQL: create (quota, least-recently-used probe numbers), read, list.

Runtime-free: every function awaits an ``Executor`` (asyncio in the API process,
trio in the daemon and the commands). Times come from the caller's clock
(``now``), never from PostgreSQL's, so tests can move it (expiry at 5 minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bridge.preflight.ids import test_code, uuid7
from bridge.preflight.plans import PLANS, Plan
from bridge.preflight.views import RESULT_COLUMNS, SESSION_COLUMNS, SessionView, session_view
from bridge.store.executor import Executor

__all__ = [
    "PER_PAGE",
    "NewSession",
    "QuotaExceeded",
    "create_session",
    "get_session",
    "list_sessions",
    "month_start",
    "tests_this_month",
]

PER_PAGE = 20  # seed 004: "Paginated, 20 per page"


class QuotaExceeded(Exception):
    """The plan's tests this month are used up (seed 004: 422)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSession:
    sender_id: str
    expected_body: str | None = None
    client_ref: str | None = None
    webhook_url: str | None = None
    mode: str = "external"


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def tests_this_month(db: Executor, account_id: int, now: datetime) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM preflight_sessions WHERE account_id = $1 AND created_at >= $2",
        account_id, month_start(now),
    )  # fmt: skip
    return count


# Per active network the active number given to a session longest ago (never: first),
# marked as given now, and the session's result rows, in one statement. "Now" for the
# ordering is PostgreSQL's clock_timestamp(), not the session's clock: sessions stamped
# with one instant (a fixed test clock, a burst) still rotate through the numbers. Two sessions
# created at the same instant may get the same number: matching tells them apart.
_PICK_AND_INSERT = """
WITH picked AS (
    SELECT DISTINCT ON (n.network) n.digits, n.network
    FROM preflight_numbers n JOIN preflight_networks w ON w.slug = n.network
    WHERE n.active AND w.is_active
    ORDER BY n.network, n.last_used_at NULLS FIRST, n.digits
), used AS (
    UPDATE preflight_numbers u SET last_used_at = clock_timestamp() FROM picked p WHERE u.digits = p.digits
)
INSERT INTO preflight_results (session_id, network, network_name, position, digits)
SELECT $1, w.slug, w.name, w.position, p.digits
FROM picked p JOIN preflight_networks w ON w.slug = p.network
"""


async def create_session(
    db: Executor, account_id: int, new: NewSession, *, now: datetime, ttl: timedelta,
    api_key_id: int | None = None, plan: Plan | None = None,
) -> UUID:  # fmt: skip
    """One session and its results, in the caller's transaction (or its own).

    ``plan``: the account's plan, whose monthly quota is checked under the user's
    row lock (two requests cannot both take the last test); None: no quota (the
    self-test).
    """
    session_id = uuid7(int(now.timestamp() * 1000))
    async with db.transaction() as tx:
        if plan is not None and plan.tests_per_month is not None:
            await tx.execute("SELECT 1 FROM preflight_users WHERE account_id = $1 FOR UPDATE", account_id)
            if await tests_this_month(tx, account_id, now) >= plan.tests_per_month:
                raise QuotaExceeded
        await tx.execute(
            "INSERT INTO preflight_sessions (id, account_id, api_key_id, mode, test_code, sender_id,"
            " expected_body, client_ref, webhook_url, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            session_id, account_id, api_key_id, new.mode, test_code(), new.sender_id, new.expected_body,
            new.client_ref, new.webhook_url, now, now + ttl,
        )  # fmt: skip
        await tx.execute(_PICK_AND_INSERT, session_id)
    return session_id


async def _results(db: Executor, ids: list[UUID]) -> dict[UUID, list[Any]]:
    rows = await db.fetch(
        f"SELECT {RESULT_COLUMNS} FROM preflight_results r WHERE r.session_id = ANY($1::uuid[])"
        " ORDER BY r.session_id, r.position, r.network",
        ids,
    )
    out: dict[UUID, list[Any]] = {i: [] for i in ids}
    for row in rows:
        out[row["session_id"]].append(row)
    return out


async def get_session(db: Executor, session_id: UUID) -> tuple[int, SessionView] | None:
    """(the owner's account id, the session), or None when there is no such session."""
    row = await db.fetchrow(f"SELECT {SESSION_COLUMNS} FROM preflight_sessions s WHERE s.id = $1", session_id)
    if row is None:
        return None
    results = await _results(db, [session_id])
    return row["account_id"], session_view(row, results[session_id])


@dataclass(frozen=True, slots=True)
class Page:
    data: list[SessionView]
    current_page: int
    last_page: int
    per_page: int
    total: int

    def as_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "meta": {"current_page": self.current_page, "last_page": self.last_page,
                     "per_page": self.per_page, "total": self.total},
        }  # fmt: skip


async def list_sessions(
    db: Executor, account_id: int, *, status: str | None, page: int, history_from: datetime | None = None
) -> Page:
    """Newest first, ``PER_PAGE`` a page; ``history_from``: nothing older (the plan's history)."""
    where = "s.account_id = $1 AND ($2::text IS NULL OR s.status = $2) AND ($3::timestamptz IS NULL OR s.created_at >= $3)"
    total: int = await db.fetchval(f"SELECT count(*) FROM preflight_sessions s WHERE {where}", account_id, status, history_from)
    rows = await db.fetch(
        f"SELECT {SESSION_COLUMNS} FROM preflight_sessions s WHERE {where}"
        " ORDER BY s.created_at DESC, s.id DESC LIMIT $4 OFFSET $5",
        account_id, status, history_from, PER_PAGE, (page - 1) * PER_PAGE,
    )  # fmt: skip
    results = await _results(db, [r["id"] for r in rows])
    return Page(
        data=[session_view(r, results[r["id"]]) for r in rows], current_page=page,
        last_page=max(1, math.ceil(total / PER_PAGE)), per_page=PER_PAGE, total=total,
    )  # fmt: skip


async def prune_history(db: Executor, now: datetime, *, batch: int = 5000) -> int:
    """Delete sessions older than their owner's plan keeps them (seed 004 "History")."""
    names = list(PLANS)
    days = [PLANS[n].history_days for n in names]
    result = await db.execute(
        "DELETE FROM preflight_sessions WHERE id IN ("
        " SELECT s.id FROM preflight_sessions s"
        " JOIN preflight_users u ON u.account_id = s.account_id"
        " JOIN unnest($2::text[], $3::int[]) AS p(plan, days) ON p.plan = u.plan"
        " WHERE s.status <> 'pending' AND s.created_at < $1 - make_interval(days => p.days) LIMIT $4)",
        now, names, days, batch,
    )  # fmt: skip
    return int(result.rsplit(" ", 1)[-1])


__all__ += ["Page", "prune_history"]
