"""At level debug the claimer logs each claim's timeline: where accept -> submit goes."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from bridge import logs
from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from tests.dispatch.harness import MY_NUMBERS, all_final, daemon, make_config, simulator, wait_until


async def test_each_claim_logs_its_wall_time_the_loops_other_work_and_its_dispatch(
    db: Database, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "DEBUG", True)
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hello there"))
        with structlog.testing.capture_logs() as seen:
            async with daemon(config, db, pg_dsn):
                await wait_until(lambda: all_final(db))
    claims: list[dict[str, Any]] = [e for e in seen if e["event"] == "claimed" and e["parts"]]
    assert sum(e["parts"] for e in claims) == 3
    for line in claims:
        assert {"ms", "busy_ms", "dispatch_ms", "dispatch_cpu_ms", "room"} <= line.keys()
        assert line["ms"] >= 0 and line["busy_ms"] >= 0 and line["dispatch_ms"] >= 0
        assert line["dispatch_cpu_ms"] <= line["dispatch_ms"] + 1  # CPU within the wall time, give or take a tick
