"""Everything at once: two daemons, dropped connections, early receipts, late responses, a database reset."""

from __future__ import annotations

import trio

from bridge.carrier import BackoffPolicy
from bridge.simulator import DestinationRule, Outcome, SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database, open_database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.dispatch.harness import (
    MY_NUMBERS,
    add_webhook_url,
    all_final,
    daemon,
    make_config,
    simulator,
    wait_until,
)
from tests.dispatch.proxy import PgProxy

FAST = {"reconnect": BackoffPolicy(base=0.05, factor=1.0, cap=0.05)}


async def test_two_daemons_faults_and_an_outage_still_reconcile(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(
        # A late response dies with its bind: at 1% of submits dropping the connection, a
        # bind lived about 0.3 s, and 0-3 of some 30 late responses got through (a run with
        # none failed 3 times in 8). At 0.5%, with 5% late responses coming soon after the
        # carrier's 0.5 s, 24-37 are applied per run.
        handset_log=0, disconnect=0.005, receipt_before_resp=0.2, receipt_delay=(0.0, 0.4),
        late_resp=0.05, late_resp_delay=(0.52, 0.62),
        receipt_retry_delay=0.2, receipt_max_attempts=100,
        outcomes=(Outcome(stat="DELIVRD", weight=0.8), Outcome(stat="UNDELIV", weight=0.2)),
        destination_rules=(DestinationRule(suffix="99", submit_status=0x0B),), seed=21,
    )  # fmt: skip
    proxy = PgProxy()
    async with trio.open_nursery() as nursery, simulator(sim_config) as sim:
        await nursery.start(proxy.serve)
        proxied = pg_dsn.replace(":5432/", f":{proxy.port}/")
        config = make_config(
            sim.port or 0, carrier='binds = 2\non_unknown_outcome = "resubmit"\nmax_attempts = 50',
            response_timeout="0.5s",
        )
        await create_account(db, "acme", credits="1000")
        await add_webhook_url(db)
        bodies = ["Hi", "x" * 300, "ж" * 100]
        requests = [SendRequest(to=MY_NUMBERS[i : i + 100], message=bodies[(i // 100) % 3]) for i in range(0, 1000, 100)]
        async with (
            open_database(proxied, max_size=6) as db_b,
            daemon(config, db, pg_dsn, name="a", max_binds=1, carrier_options=FAST) as a,
            daemon(config, db_b, proxied, name="b", max_binds=1, carrier_options=FAST, db_timeout=1.0) as b,
        ):
            await enqueue_many(db, config, "acme", requests[:5])
            await trio.sleep(0.5)
            proxy.reset()  # daemon b loses its database
            await enqueue_many(db, config, "acme", requests[5:])
            await trio.sleep(1.0)
            proxy.restore()
            await wait_until(lambda: all_final(db), limit=60)
            late = a.stats().late_accepted + b.stats().late_accepted
            late_applied = a.stats().late_applied + b.stats().late_applied
        nursery.cancel_scope.cancel()
    assert late > 0 and late_applied > 0 and sim.stats.late_resps > 0  # the late path ran amid the faults
    states = dict(await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state"))
    assert set(states) <= {"delivered", "failed"} and sum(states.values()) == 1000
    rec = await reconcile(db, "acme")
    assert rec.ok and rec.open == 0
    settled = await db.fetchval("SELECT count(*) FROM ledger WHERE kind IN ('charge', 'refund')")
    assert settled == 1000
    assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 1000
    assert await db.fetchval("SELECT count(*) FROM message_parts WHERE state IN ('queued', 'submitting')") == 0
