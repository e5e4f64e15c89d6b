"""The daemon's periodic self-test: at start, then every ``self_test_interval`` of the injectable clock."""

from __future__ import annotations

from datetime import timedelta

import trio

from bridge.preflight.service import PreflightService
from bridge.store.accounts import create_account
from bridge.store.db import Database
from config.load import parse_config
from tests.preflight.helpers import Clock
from tests.preflight.system import CONFIG as SYSTEM_CONFIG
from tests.preflight.system import EE, GIFFGAFF, O2, THREE, VODAFONE

# The system tests' configuration (five probe networks) with the schedule on.
CONFIG = SYSTEM_CONFIG.format(
    dsn="postgresql://unused", port=2775, ee=EE, vodafone=VODAFONE, o2=O2, three=THREE, giffgaff=GIFFGAFF
).replace('self_test_sender_id = "BRIDGE"', 'self_test = true\nself_test_interval = "15m"\nself_test_sender_id = "BRIDGE"')
NETWORKS = 5


async def _until(service: PreflightService, count: int) -> None:
    with trio.fail_after(10):
        while service.stats.self_tests < count:  # noqa: ASYNC110 (the service counts)
            await trio.sleep(0.02)


async def test_self_tests_start_at_once_then_each_interval_of_the_clock(db: Database) -> None:
    config = parse_config(CONFIG, source="schedule.toml")
    assert config.preflight.self_test
    await create_account(db, "selftest", credits="10")
    clock = Clock()
    started = clock()
    service = PreflightService(db, config, clock=clock, poll=0.05, tick=0.02)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        await _until(service, 1)
        await trio.sleep(0.3)  # many ticks, and the clock has not moved
        assert service.stats.self_tests == 1
        clock.advance(timedelta(minutes=15).total_seconds() - 1)
        await trio.sleep(0.3)
        assert service.stats.self_tests == 1
        clock.advance(1)
        await _until(service, 2)
        await trio.sleep(0.3)
        assert service.stats.self_tests == 2
        nursery.cancel_scope.cancel()
    assert service.stats.errors == 0
    sessions = await db.fetch(
        "SELECT s.id, s.created_at, s.test_code, s.expected_body, count(r.probe_message_id) AS probes"
        " FROM preflight_sessions s JOIN preflight_results r ON r.session_id = s.id"
        " WHERE s.mode = 'self_test' GROUP BY s.id ORDER BY s.created_at"
    )
    assert [s["created_at"] for s in sessions] == [started, started + timedelta(minutes=15)]
    assert [s["probes"] for s in sessions] == [NETWORKS, NETWORKS]  # one probe queued per network
    assert all(s["expected_body"] == f"Preflight test {s['test_code']}" for s in sessions)
    queued = await db.fetchval(
        "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'selftest'"
    )
    assert queued == 2 * NETWORKS
