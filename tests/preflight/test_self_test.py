"""The self-test (`smpp-bridge preflight run`) through the bridge's own routes drives GET /api/networks."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import trio

from bridge.store.accounts import create_account
from bridge.store.db import Database
from tests.preflight.helpers import Clock
from tests.preflight.system import System


def test_self_test_probes_every_network_and_feeds_its_health(system: System) -> None:
    async def scenario(db: Database) -> None:
        await create_account(db, "selftest", credits="10")
        clock = Clock(datetime.now(UTC))
        async with system.running(db, clock) as service:
            done = await trio.run_process(
                [sys.executable, "-m", "bridge.cli", "preflight", "run", "--sender-id", "BRIDGE",
                 "-c", str(system.config_path)],
                capture_stdout=True, capture_stderr=True,
            )  # fmt: skip
            session = json.loads(done.stdout)
            assert session["mode"] == "self_test" and session["expected_body"].endswith(session["test_code"])
            with trio.fail_after(60):  # generous: a loaded 2-core CI machine
                while service.stats.matched < 4:  # noqa: ASYNC110 (the service counts)
                    await trio.sleep(0.05)
            # The CLI stamped the session with its own clock, some time after `clock`
            # started (a process start under load can take seconds): move past its
            # expiry, not merely five minutes past the service's start.
            expires_at = datetime.fromisoformat(session["expires_at"].replace("Z", "+00:00"))
            # expires_at is written to the second: the session's five minutes, less under a second.
            assert expires_at - clock.now > timedelta(minutes=5) - timedelta(seconds=1)
            clock.now = expires_at + timedelta(seconds=1)
            with trio.fail_after(30):
                while service.stats.expired < 1:  # noqa: ASYNC110
                    await trio.sleep(0.05)
        rows = {r["network"]: r for r in await db.fetch(
            "SELECT network, success, latency_ms FROM preflight_heartbeats WHERE session_id = $1",
            UUID(session["id"]))}  # fmt: skip
        assert rows["o2"]["success"] is False
        assert all(rows[n]["success"] for n in ("ee", "vodafone", "three", "giffgaff"))
        # From the probe's submitted_at (its submit_sm_resp stored), a little after the submit itself.
        assert 1400 <= rows["three"]["latency_ms"] < 5000
        charged = await db.fetchval("SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id"
                                    " WHERE a.name = 'selftest'")  # fmt: skip
        assert charged == 5

    system.run(scenario)

    def networks() -> dict[str, dict[str, Any]]:
        with system.http() as http:
            return {n["slug"]: n for n in http.get("/networks").json()["networks"]}

    health = networks()
    assert health["ee"]["status"] == "live" and health["ee"]["uptime_24h"] == 100
    assert health["o2"]["status"] == "down" and health["o2"]["uptime_24h"] == 0
    assert isinstance(health["three"]["avg_latency_ms"], int) and health["three"]["avg_latency_ms"] >= 1400
    assert health["ee"]["signal_bars"] is None and health["ee"]["network_type"] is None
    (beat,) = health["ee"]["recent_heartbeats"]
    assert beat["success"] is True and health["ee"]["last_heartbeat_at"] == beat["at"]
