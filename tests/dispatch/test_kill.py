"""The daemon killed with SIGKILL mid-run and started again: every message ends final, the ledger reconciles."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from bridge.simulator import Outcome, SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue_many
from config.load import parse_config
from tests.dispatch.harness import MY_NUMBERS, all_final, daemon, simulator, wait_until

ROOT = Path(__file__).resolve().parents[2]


async def _count(db: Database, sql: str) -> int:
    value: int = await db.fetchval(sql)
    return value


@pytest.mark.parametrize(("policy", "grace"), [("resubmit", "3s"), ("fail", "8s")])
async def test_sigkill_mid_run_then_restart(db: Database, pg_dsn: str, tmp_path: Path, policy: str, grace: str) -> None:
    """The parts left `submitting` wait `unknown`: the receipts the SMSC delivers on the new
    bind settle those it took; the grace then applies the policy to the others. Under
    "fail" (the default), no message the SMSC took is refunded for its unknown outcome:
    before migration 0011 they all were, delivered or not.

    The SMSC takes every part but leaves a fifth unanswered (their receipts still
    come), so the daemon dies with taken parts `submitting`; the one restarted gets
    every answer. Under "resubmit" it also throttles (parts wait for a retry)."""
    # no_resp: parts whose outcome the killed daemon never learns (a response it got would
    # still be committed by a flush sent before the kill, leaving nothing to recover)
    faults: dict[str, Any] = {"throttle_tps": 200, "no_resp": 0.2} if policy == "resubmit" else {"no_resp": 0.2}
    sim_config = SimulatorConfig(
        handset_log=10_000, receipt_delay=(0.0, 0.5),
        outcomes=(Outcome(stat="DELIVRD", weight=0.9), Outcome(stat="UNDELIV", weight=0.1)), seed=4, **faults,
    )  # fmt: skip
    async with simulator(sim_config) as sim:
        text = f"""
[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {sim.port}
system_id = "bridge"
window = 20
tps = 100000
on_unknown_outcome = "{policy}"
unknown_outcome_grace = "{grace}"
[carriers.source]
default_sender_id = "Bridge"

[[routes]]
country = "MY"
carriers = [{{ carrier = "sim" }}]

[rates.countries]
MY = "0.0500"

[daemon]
heartbeat_interval = "0.3s"
lease = "1.5s"
poll_interval = "0.2s"
"""
        path = tmp_path / "bridge.toml"
        path.write_text(text)
        config = parse_config(text, source="bridge.toml")
        await create_account(db, "acme", credits="100")
        await enqueue_many(db, config, "acme",
                           [SendRequest(to=MY_NUMBERS[i : i + 100], message="Hi") for i in range(0, 600, 100)])  # fmt: skip
        in_flight = 0
        for _ in range(3):  # a kill can land just as a flush resolves every part in flight: again
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "tests.dispatch.run_daemon", str(path), pg_dsn, "killed"], cwd=ROOT
            )
            try:
                await wait_until(lambda: _some_final_and_inflight(db), limit=30)
            finally:
                process.send_signal(signal.SIGKILL)
                await process.wait()
            # A COMMIT the killed daemon sent just before its end still completes in its
            # backend: count what it left only once no other backend is in a transaction.
            await wait_until(lambda: _no_other_transaction(db), limit=10)
            in_flight = await _count(db, "SELECT count(*) FROM message_parts WHERE state = 'submitting'")
            if in_flight:
                break
        sim.no_resp_p = 0.0
        assert in_flight > 0  # killed with parts written ahead and not resolved
        # the same daemon (same name, this host) starts again: its dead run is recovered at once
        async with daemon(parse_config(text, source="bridge.toml"), db, pg_dsn, name="killed") as d:
            await wait_until(lambda: all_final(db), limit=40)
            stats = d.stats()
        assert stats.recovered == in_flight
        # each became unknown (as did the restarted daemon's own unknown outcomes):
        # settled by its receipt (the SMSC took it) or, after the grace, by the policy
        # (docs/outcomes.md "Unknown outcome")
        assert stats.unknown_matched + stats.unknown_expired == in_flight + stats.unknown
        states = dict(await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state"))
        assert set(states) <= {"delivered", "failed"} and sum(states.values()) == 600
        rec = await reconcile(db, "acme")
        assert rec.ok and rec.open == 0
        settled = await _count(db, "SELECT count(*) FROM ledger WHERE kind IN ('charge', 'refund')")
        assert settled == 600
        if policy == "fail":
            assert stats.unknown_matched > 0
            taken = {h.destination for h in sim.handsets}
            refunded = await db.fetch("SELECT destination FROM messages WHERE error = 'unknown_outcome'")
            assert not taken & {r[0].lstrip("+") for r in refunded}
            assert len(taken) == len(sim.handsets) <= 600  # "fail" never sends a part twice


async def _some_final_and_inflight(db: Database) -> bool:
    final = await _count(db, "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')")
    inflight = await _count(db, "SELECT count(*) FROM message_parts WHERE state = 'submitting'")
    return final >= 50 and inflight >= 10


async def _no_other_transaction(db: Database) -> bool:
    busy = await _count(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state <> 'idle'",
    )
    return busy == 0
