"""Log points: one line per bind state change and per database outage state change
(the retries in between at debug), one debug line per message outcome, guarded so
the hot path pays nothing at info; bodies never logged, numbers masked."""

from __future__ import annotations

import io
import json
from collections import Counter

import structlog
import trio

from bridge import logs
from bridge.logs import Outage, configure_logging
from bridge.simulator import SimulatorConfig
from bridge.simulator.config import with_overrides
from bridge.store.accounts import create_account
from bridge.store.db import Database, open_database
from bridge.store.enqueue import SendRequest, enqueue_many
from config.schema import Logging
from tests.dispatch.harness import MY_NUMBERS, all_final, daemon, make_config, simulator, wait_until
from tests.dispatch.proxy import PgProxy
from tests.ops.test_endpoint import FAST_RECONNECT


def _reset() -> None:
    structlog.reset_defaults()
    logs.DEBUG = False


def test_outage_logs_the_changes_only() -> None:
    with structlog.testing.capture_logs() as seen:
        outage = Outage(structlog.get_logger("t"))
        outage.ok()
        for _ in range(5):
            outage.failed("heartbeat failed", error="refused")
        outage.ok()
        outage.ok()
    levels = [(e["log_level"], e["event"]) for e in seen]
    assert levels == [("warning", "heartbeat failed"), *[("debug", "heartbeat failed")] * 4,
                      ("info", "heartbeat failed recovered")]  # fmt: skip
    assert seen[-1]["failures"] == 5 and seen[-1]["state"] == "up"


async def test_state_changes_and_outcomes_in_the_log(db: Database, pg_dsn: str) -> None:
    out = io.StringIO()
    configure_logging(Logging(format="json", level="debug"), stream=out)
    proxy = PgProxy()
    try:
        sim_config = SimulatorConfig(handset_log=1000, accounts={"bridge": "not-the-password"}, seed=1)
        async with trio.open_nursery() as nursery, simulator(sim_config) as sim:
            await nursery.start(proxy.serve)
            proxied = pg_dsn.replace(":5432/", f":{proxy.port}/")
            config = make_config(sim.port or 0, carrier="binds = 2")
            await create_account(db, "acme", credits="100")
            async with (
                open_database(proxied, max_size=6) as daemon_db,
                daemon(config, daemon_db, proxied, db_timeout=1.0, carrier_options=FAST_RECONNECT),
            ):
                await trio.sleep(1.5)  # refused again and again
                sim.config = with_overrides(sim.config, accounts={})
                with trio.fail_after(10):
                    await sim.wait_bound(2)
                await enqueue_many(db, config, "acme", [SendRequest(to=MY_NUMBERS[:5], message="Your code is 482915")])
                await wait_until(lambda: all_final(db))
                proxy.reset()  # connections reset, new ones refused
                await trio.sleep(2.0)
                proxy.restore()
                await trio.sleep(1.5)
            nursery.cancel_scope.cancel()
    finally:
        _reset()
    raw = out.getvalue()
    lines = [json.loads(line) for line in raw.splitlines()]
    by = Counter((e["level"], e["event"], e.get("slot")) for e in lines)
    for slot in (0, 1):
        assert by[("warning", "bind_refused", slot)] == 1, by
        assert by[("debug", "bind_refused", slot)] >= 2, by
        assert by[("info", "bound", slot)] == 1, by
    assert by[("warning", "heartbeat failed", None)] == 1, by
    assert by[("debug", "heartbeat failed", None)] >= 2, by
    assert by[("info", "heartbeat failed recovered", None)] == 1, by
    outcomes = [e for e in lines if e["event"] == "submit outcome"]
    assert len(outcomes) == 5 and all(e["level"] == "debug" and "****" in e["to"] for e in outcomes)
    assert len([e for e in lines if e["event"] == "receipt"]) == 5
    assert "482915" not in raw and MY_NUMBERS[0] not in raw


def test_the_hot_path_guard_follows_the_level() -> None:
    try:
        configure_logging(Logging(level="info"), stream=io.StringIO())
        assert logs.DEBUG is False
        configure_logging(Logging(level="debug"), stream=io.StringIO())
        assert logs.DEBUG is True
    finally:
        _reset()
