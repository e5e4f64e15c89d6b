"""The plans of the statements a test runs, nested ones included, read back through auto_explain.

auto_explain (a contrib module shipped with every PostgreSQL) sends each plan to
the session as a LOG notice; with ``client_min_messages = log`` those reach the
connection's log listener.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bridge.store.db import Connection, Database


@contextlib.asynccontextmanager
async def logged_plans(db: Database, *, analyze: bool = False) -> AsyncIterator[tuple[Connection, list[str]]]:
    """A pooled connection whose statements log their plans into the list yielded with it."""
    plans: list[str] = []

    def listen(_conn: object, message: object) -> None:
        plans.append(str(message))

    async with db.acquire() as conn:
        conn.raw.add_log_listener(listen)
        settings = [
            "LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on", "SET client_min_messages = log",
        ]  # fmt: skip
        if analyze:  # actual row counts (and "Rows Removed by ..."), without per-node timing
            settings += ["SET auto_explain.log_analyze = on", "SET auto_explain.log_timing = off"]
        try:
            for setting in settings:
                await conn.execute(setting)
            yield conn, plans
        finally:
            await conn.execute("RESET client_min_messages")
            conn.raw.remove_log_listener(listen)  # a pooled connection goes back without listeners
