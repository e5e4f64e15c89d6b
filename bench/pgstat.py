"""Where a run's PostgreSQL time goes: the top statements of pg_stat_statements.

Only when the server loads the extension (``shared_preload_libraries =
'pg_stat_statements'`` and ``CREATE EXTENSION pg_stat_statements`` in its
``postgres`` database, as on a server of the benchmarks' own: bench/README.md); otherwise every call here returns None and the run goes on.
The statistics are the server's, so ``reset`` clears them for every database:
runs are sequential. Times are execution (and, with
``pg_stat_statements.track_planning``, planning) times: wall clock inside the
server, lock waits included, not CPU; the calls and rows per message say more
than the milliseconds on a shared machine. With ``pg_stat_statements.track =
all`` the statements inside functions are listed too ("nested"); the totals
count top-level statements only, which include their nested ones.
"""

from __future__ import annotations

import re
from typing import Any

from bench.common import ADMIN_DSN

_AVAILABLE = (
    "SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'"
    " AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')"
)
_TOP = (
    "SELECT s.query, s.toplevel, s.calls, s.total_exec_time + s.total_plan_time AS total_ms,"
    " s.total_plan_time AS plan_ms, s.rows"
    " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
    " WHERE d.datname = $1 ORDER BY s.total_exec_time + s.total_plan_time DESC"
)


async def _reset() -> bool:
    from bridge.store.db import open_connection

    async with open_connection(ADMIN_DSN) as conn:
        if not await conn.fetchval(_AVAILABLE):
            return False
        await conn.execute("SELECT pg_stat_statements_reset()")
        return True


def _statement(r: Any, per: int, total: float) -> dict[str, Any]:
    calls, ms = int(r["calls"]), float(r["total_ms"])
    return {
        "query": re.sub(r"\s+", " ", str(r["query"])).strip()[:240],
        "level": "top" if r["toplevel"] else "nested",
        "calls": calls, "calls_per_msg": round(calls / per, 3), "total_ms": round(ms, 1),
        "plan_ms": round(float(r["plan_ms"]), 1), "share": round(ms / total, 3),
        "mean_ms": round(ms / max(calls, 1), 3), "rows": int(r["rows"]),
        "rows_per_call": round(int(r["rows"]) / max(calls, 1), 1),
    }  # fmt: skip


async def _top(database: str, messages: int, limit: int) -> dict[str, Any] | None:
    from bridge.store.db import open_connection

    async with open_connection(ADMIN_DSN) as conn:
        if not await conn.fetchval(_AVAILABLE):
            return None
        rows = await conn.fetch(_TOP, database)
    top = [r for r in rows if r["toplevel"]]
    total = sum(float(r["total_ms"]) for r in top) or 1.0
    per = max(messages, 1)
    return {
        "total_ms": round(total, 1),
        "us_per_msg": round(total * 1e3 / per, 1),
        "plan_us_per_msg": round(sum(float(r["plan_ms"]) for r in top) * 1e3 / per, 1),
        "calls_per_msg": round(sum(int(r["calls"]) for r in top) / per, 2),
        "top": [_statement(r, per, total) for r in rows[:limit]],
    }


def reset() -> bool:
    """Clear the server's statement statistics; False when it does not keep them."""
    import trio

    return trio.run(_reset)


def top(database: str, messages: int, limit: int = 12) -> dict[str, Any] | None:
    """The statements of ``database`` by total execution time, per message of the run."""
    import trio

    return trio.run(_top, database, messages, limit)
