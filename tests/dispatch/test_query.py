"""query_sm end to end: an SMSC that loses receipts, and the daemon that asks (query.py)."""

from __future__ import annotations

import pytest
import trio

from bridge.dispatch import Daemon
from bridge.simulator import Outcome, SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from config.schema import Config
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)

MIX = (Outcome(stat="DELIVRD", weight=0.7), Outcome(stat="UNDELIV", weight=0.3, err=1))
QUERY = 'query_sm = true\nquery_after = "0.3s"\nquery_rate = 2000\nreceipt_timeout = "1h"'
LONG = "x" * 200  # two parts with udh8: each part has its own id and its own lost receipt


async def _parts(db: Database, state: str = "submitted") -> int:
    n: int = await db.fetchval("SELECT count(*) FROM message_parts WHERE state = $1", state)
    return n


async def _send(db: Database, config: Config, count: int) -> None:
    await create_account(db, "acme", credits="100")
    await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[: count - 5], message="Hi"))
    await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[count - 5 : count], message=LONG))


@pytest.mark.parametrize(
    ("binds", "lose"),
    [
        ('bind_mode = "trx"', 1.0),
        ('bind_mode = "trx"', 0.3),
        # queries go on the transmitter; the receiver is there but gets nothing
        ('binds = [{ mode = "tx" }, { mode = "rx" }]', 1.0),
    ],
)
async def test_query_sm_resolves_lost_receipts(db: Database, pg_dsn: str, binds: str, lose: float) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, lose_receipts=lose, outcomes=MIX, seed=11)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier=f"{QUERY}\n{binds}")
        await _send(db, config, 40)
        async with daemon(config, db, pg_dsn) as d:
            # every part, not only every message: a message fails with its first failed part
            await wait_until(lambda: _parts_are(db, 0), limit=40)
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        parts = await db.fetch("SELECT message_id, carrier_message_id, state::text FROM message_parts")
    assert len(parts) == 45
    # A part still queued when an earlier part's receipt failed its message is cancelled,
    # never sent (docs/store.md, migration 0010): whether that happens depends on when the
    # second part of a two-part message was claimed, so it is allowed, and checked.
    cancelled = [row for row in parts if row["carrier_message_id"] is None]
    for row in cancelled:
        assert row["state"] == "failed", row
    # Every part that was sent ended as the SMSC decided: delivered exactly when its
    # verdict was DELIVRD.
    refused = set()  # messages with a part the SMSC did not deliver
    for row in parts:
        if row["carrier_message_id"] is None:
            continue
        stored = sim.store.get(row["carrier_message_id"])
        assert stored is not None
        assert row["state"] == ("delivered" if stored[3].stat == "DELIVRD" else "failed"), row
        if stored[3].stat != "DELIVRD":
            refused.add(row["message_id"])
    for row in cancelled:  # its message failed by a part the SMSC refused
        assert row["message_id"] in refused, row
    final = await counts(db)
    assert final.get("delivered", 0) + final.get("failed", 0) == 40 and final.get("failed", 0) > 0
    lost = sim.stats.receipts_lost
    assert lost > 0
    assert stats.queries_final >= lost and stats.receipts_applied == 45 - len(cancelled)
    assert stats.queries_failed == 0
    assert (await reconcile(db, "acme")).ok


async def test_query_sm_is_off_by_default(db: Database, pg_dsn: str) -> None:
    async with simulator(SimulatorConfig(handset_log=10_000, lose_receipts=1.0)) as sim:
        config = make_config(sim.port or 0)
        assert config.carrier("sim").query_sm is False
        await _send(db, config, 10)
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _parts_are(db, 15))
            await trio.sleep(1.5)  # far beyond a query_after of the tests above
            stats = d.stats()
        assert sim.stats.queries == stats.queries == 0
        assert await _parts(db) == 15 and await counts(db) == {"queued": 10}


async def _parts_are(db: Database, n: int) -> bool:
    return await _parts(db) == n


async def test_an_error_answer_leaves_the_part_to_receipt_timeout(db: Database, pg_dsn: str) -> None:
    # message_store = 0: the SMSC knows no message, every query_sm gets ESME_RQUERYFAIL (0x67).
    sim_config = SimulatorConfig(handset_log=10_000, lose_receipts=1.0, message_store=0)
    async with simulator(sim_config) as sim:
        carrier = QUERY.replace('receipt_timeout = "1h"', 'receipt_timeout = "4s"')
        config = make_config(sim.port or 0, carrier=carrier)
        await _send(db, config, 10)
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _failed_queries(d, 15))
            await trio.sleep(1.0)  # many passes: none asks again
            assert sim.stats.queries == d.stats().queries == 15
            assert await _parts(db) == 15  # untouched
            await wait_until(lambda: all_final(db), limit=20)
            stats = d.stats()
        assert stats.queries_final == stats.receipts_applied == 0 and stats.swept == 15
        stats_rows = {r[0] for r in await db.fetch("SELECT receipt_stat FROM message_parts")}
        assert stats_rows == {"receipt_timeout"}
        assert (await reconcile(db, "acme")).ok


async def _failed_queries(d: Daemon, n: int) -> bool:
    return d.stats().queries_failed >= n


async def test_a_part_not_final_is_asked_at_most_three_times(db: Database, pg_dsn: str) -> None:
    # The receipt is an hour away: every answer is ENROUTE (section 5.2.28: not final).
    sim_config = SimulatorConfig(handset_log=10_000, receipt_delay=(3600.0, 3600.0))
    async with simulator(sim_config) as sim:
        carrier = QUERY.replace('query_after = "0.3s"', 'query_after = "0.2s"')
        config = make_config(sim.port or 0, carrier=carrier)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:5], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _not_final_queries(d, 15), limit=20)
            await trio.sleep(2.0)  # 0.2 s, then 0.4 s, then 0.8 s apart: no fourth one
            stats = d.stats()
        assert sim.stats.queries == stats.queries == stats.queries_not_final == 15
        assert await _parts(db) == 5


async def _not_final_queries(d: Daemon, n: int) -> bool:
    return d.stats().queries_not_final >= n


async def test_two_daemons_each_ask_about_their_own_parts(db: Database, pg_dsn: str) -> None:
    async with simulator(SimulatorConfig(handset_log=10_000, lose_receipts=1.0)) as sim:
        config = make_config(sim.port or 0, carrier=f"{QUERY}\nbinds = 2")
        await create_account(db, "acme", credits="100")
        async with (
            daemon(config, db, pg_dsn, name="a", max_binds=1) as a,
            daemon(config, db, pg_dsn, name="b", max_binds=1) as b,
        ):
            for chunk in range(0, 200, 50):
                await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[chunk : chunk + 50], message="Hi"))
                await trio.sleep(0.05)
            await wait_until(lambda: all_final(db), limit=40)
            sa, sb = a.stats(), b.stats()
        assert await counts(db) == {"delivered": 200}
        assert sa.claimed > 0 and sb.claimed > 0
        # the owner of each part asks; no part is asked twice
        assert (sa.queries, sb.queries) == (sa.accepted, sb.accepted)
        assert sim.stats.queries == 200 == sa.queries_final + sb.queries_final
        assert (await reconcile(db, "acme")).ok
