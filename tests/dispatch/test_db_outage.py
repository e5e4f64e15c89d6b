"""The database cut off mid-run (reset, then blackhole) through an in-test TCP proxy.

Nothing is lost (every message ends final), nothing is double-charged (one
settlement per message, the ledger reconciles), and receipts that arrive while
the database is unreachable are answered ESME_RX_T_APPN (0x64) so the SMSC
delivers them again later; the binds stay up.
"""

from __future__ import annotations

import trio

from bridge.simulator import Outcome, SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database, open_database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.dispatch.harness import MY_NUMBERS, all_final, daemon, make_config, simulator, wait_until
from tests.dispatch.proxy import PgProxy


async def test_database_cut_off_mid_run(db: Database, pg_dsn: str) -> None:
    proxy = PgProxy()
    sim_config = SimulatorConfig(
        handset_log=10_000, receipt_delay=(0.3, 1.5), receipt_retry_delay=0.3, receipt_max_attempts=50,
        outcomes=(Outcome(stat="DELIVRD", weight=0.8), Outcome(stat="UNDELIV", weight=0.2, err=1)),
        seed=11,
    )
    async with trio.open_nursery() as nursery, simulator(sim_config) as sim:
        await nursery.start(proxy.serve)
        proxied = pg_dsn.replace(":5432/", f":{proxy.port}/")
        assert proxied != pg_dsn
        config = make_config(sim.port or 0, carrier="binds = 2")
        await create_account(db, "acme", credits="100")
        numbers = MY_NUMBERS[:400]
        requests = [SendRequest(to=numbers[i : i + 50], message="Your code is 1234") for i in range(0, 400, 50)]
        async with (
            open_database(proxied, max_size=6) as daemon_db,
            daemon(config, daemon_db, proxied, db_timeout=1.0) as d,
        ):
            await enqueue_many(db, config, "acme", requests[:4])
            await wait_until(lambda: _some_final(db, 50))
            proxy.reset()  # connections reset, new ones refused
            await enqueue_many(db, config, "acme", requests[4:])
            await trio.sleep(1.5)
            proxy.restore()
            await wait_until(lambda: _some_final(db, 250), limit=30)
            proxy.blackhole()  # connections hang, new ones are never answered
            nacked = d.stats().nacked_db_down
            await trio.sleep(2.5)
            # answered 0x64 while the path was black-holed, not only after it came back
            assert d.stats().nacked_db_down > nacked and not d.stats().db_up
            proxy.restore()
            await wait_until(lambda: all_final(db), limit=40)
            stats = d.stats()
        nursery.cancel_scope.cancel()
    assert stats.nacked_db_down > 0 and sim.stats.receipts_nacked > 0
    assert stats.writer_errors > 0
    rows = dict(await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state"))
    assert sum(rows.values()) == 400 and set(rows) <= {"delivered", "failed"}
    # one settlement per message, charge for sent, refund for failed
    settled = dict(await db.fetch(
        "SELECT kind::text, count(*) FROM ledger WHERE kind IN ('charge', 'refund') GROUP BY kind"))
    assert settled.get("charge", 0) == rows.get("delivered", 0)
    assert settled.get("refund", 0) == rows.get("failed", 0)
    assert (await reconcile(db, "acme")).ok
    # no part went out twice: one handset delivery per destination
    destinations = [h.destination for h in sim.handsets]
    assert len(destinations) == len(set(destinations))


async def _some_final(db: Database, n: int) -> bool:
    done: int = await db.fetchval("SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')")
    return done >= n


async def test_a_commit_that_fails_acknowledges_nothing(db: Database, pg_dsn: str) -> None:
    """The flush's COMMIT itself fails: its receipts are answered 0x64 and its outcomes retried.

    A deferred constraint trigger (run at COMMIT, after every statement of the flush
    went through) refuses the first commits that change parts. Acknowledging those
    receipts would lose them for good: the SMSC never sends an acknowledged receipt again.
    """
    await db.execute(
        """
        CREATE SEQUENCE commit_faults;  -- nextval is not rolled back with the failed commit
        CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('commit_faults') <= 3 THEN
                RAISE EXCEPTION 'injected commit failure';
            END IF;
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER fail_commit AFTER UPDATE ON message_parts
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (NEW.state IN ('delivered', 'failed')) EXECUTE FUNCTION fail_commit();
        """
    )
    sim_config = SimulatorConfig(
        handset_log=1_000, receipt_delay=(0.05, 0.2), receipt_retry_delay=0.2, receipt_max_attempts=50, seed=5
    )
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="100")
        await enqueue_many(db, config, "acme", [SendRequest(to=MY_NUMBERS[:40], message="Your code is 1234")])
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db), limit=30)
            stats = d.stats()
    assert await db.fetchval("SELECT last_value FROM commit_faults") > 3  # the faults did happen
    assert stats.writer_errors >= 3 and sim.stats.receipts_nacked > 0
    rows = dict(await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state"))
    assert rows == {"delivered": 40}
    assert (await reconcile(db, "acme")).ok
