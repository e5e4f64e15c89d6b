"""Unknown outcomes and ACCEPTED receipts, end to end: simulator, daemon, PostgreSQL.

The proof of migration 0011: binds cut with submits in flight while the SMSC keeps
the messages and delivers their receipts on a later bind. Before it, the default
policy ("fail") failed and refunded every one of them, the delivered ones included,
and their receipts waited in the parking for its TTL.
"""

from __future__ import annotations

import pytest
import trio

from bridge.carrier import BackoffPolicy
from bridge.simulator import DestinationRule, Outcome, Simulator, SimulatorConfig
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)

FAST_RECONNECT = {"reconnect": BackoffPolicy(base=0.05, factor=1.0, cap=0.05)}


async def _scalar(db: Database, sql: str) -> int:
    value: int = await db.fetchval(sql)
    return value


async def _cut_with_submits_in_flight(sim: Simulator, count: int) -> None:
    """Every submit_sm is taken (its receipt scheduled) and none answered; then the
    binds are cut: each submit ends Unknown (disconnected) in the daemon."""
    with trio.fail_after(20):
        while sim.stats.submits < count:  # noqa: ASYNC110 (the simulator's counter)
            await trio.sleep(0.02)
    sim.no_resp_p = 0.0
    assert sim.drop() > 0


async def test_binds_cut_with_submits_in_flight_delivered_messages_end_sent(db: Database, pg_dsn: str) -> None:
    # Numbers ending in 7 are UNDELIV, the others DELIVRD; receipts come 0.5-1.5 s
    # after the submit, so most of them on the bind after the cut.
    sim_config = SimulatorConfig(
        handset_log=10_000, no_resp=1.0, receipt_delay=(0.5, 1.5), seed=12,
        destination_rules=(DestinationRule(suffix="7", stat="UNDELIV"),),
    )  # fmt: skip
    async with simulator(sim_config) as sim:
        # The default policy "fail", with a grace far longer than the test: only
        # matching receipts can settle these parts in time.
        config = make_config(sim.port or 0, response_timeout="30s", grace="10m", window=50)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:30], message="Your code is 4829"))
        async with daemon(config, db, pg_dsn, carrier_options=FAST_RECONNECT) as d:
            await _cut_with_submits_in_flight(sim, 30)
            await wait_until(lambda: all_final(db), limit=30)
            stats = d.stats()
        assert stats.unknown == 30 and stats.unknown_matched == 30 and stats.receipts_ambiguous == 0
        assert sim.stats.submits == 30  # nothing was sent twice
        rows = await db.fetch(
            "SELECT m.destination, m.state::text AS state, p.carrier_message_id, p.id_key FROM messages m"
            " JOIN message_parts p ON p.message_id = m.id"
        )
        for row in rows:  # every message as the SMSC decided it, with its receipt's key
            assert row["state"] == ("failed" if row["destination"].endswith("7") else "delivered"), row
            # Not the receipt's id as carrier_message_id: it is not in the response's form (query_sm).
            assert row["id_key"] is not None and row["carrier_message_id"] is None
        delivered = sum(1 for r in rows if r["state"] == "delivered")
        assert delivered == 27
        charges = await _scalar(db, "SELECT count(*) FROM ledger WHERE kind = 'charge'")
        refunds = await _scalar(db, "SELECT count(*) FROM ledger WHERE kind = 'refund'")
        assert (charges, refunds) == (27, 3)
        assert await _scalar(db, "SELECT count(*) FROM parked_receipts") == 0
        rec = await reconcile(db, "acme")
        assert rec.ok and rec.open == 0


@pytest.mark.parametrize("policy", ["fail", "resubmit"])
async def test_when_the_grace_ends_the_policy_applies(db: Database, pg_dsn: str, policy: str) -> None:
    # The SMSC drops the connection on every submit_sm before taking it: no receipt
    # will ever come, and the daemon cannot know that.
    async with simulator(SimulatorConfig(handset_log=10_000, disconnect=1.0)) as sim:
        config = make_config(sim.port or 0, response_timeout="30s", grace="4s",
                             carrier=f'on_unknown_outcome = "{policy}"')  # fmt: skip
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:5], message="Hi"))
        async with daemon(config, db, pg_dsn, carrier_options=FAST_RECONNECT) as d:
            await wait_until(lambda: _equals(db, "SELECT count(*) FROM message_parts WHERE state = 'unknown'", 5))
            sim.disconnect_p = 0.0
            # pending and unrefunded while the grace runs
            assert await counts(db) == {"queued": 5}
            assert await _scalar(db, "SELECT count(*) FROM ledger WHERE kind = 'refund'") == 0
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert stats.unknown_expired == 5 and stats.unknown_matched == 0
        if policy == "fail":
            assert await counts(db) == {"failed": 5} and not sim.handsets
            errors = {r[0] for r in await db.fetch("SELECT error FROM messages")}
            assert errors == {"unknown_outcome"}
            assert (await get_account(db, "acme")).charged == 0
        else:
            assert await counts(db) == {"delivered": 5} and stats.resubmitted == 5
            assert len(sim.handsets) == 5
        assert (await reconcile(db, "acme")).ok


async def test_ambiguous_receipts_are_counted_and_not_applied(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, no_resp=1.0, receipt_delay=(0.2, 0.5), seed=3)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, response_timeout="30s", grace="10s")
        await create_account(db, "acme", credits="10")
        # Two identical messages to one number (same sender, text and minute), one to another.
        for to in ([MY_NUMBERS[0]], [MY_NUMBERS[0]], [MY_NUMBERS[1]]):
            await enqueue(db, config, "acme", SendRequest(to=to, message="Your code is 1111"))
        async with daemon(config, db, pg_dsn, carrier_options=FAST_RECONNECT) as d:
            await _cut_with_submits_in_flight(sim, 3)
            await wait_until(lambda: all_final(db), limit=30)
            stats = d.stats()
        assert stats.receipts_ambiguous == 2 and stats.unknown_matched == 1 and stats.unknown_expired == 2
        rows = await db.fetch("SELECT destination, state::text, error FROM messages ORDER BY id")
        assert [tuple(r) for r in rows] == [
            (MY_NUMBERS[0], "failed", "unknown_outcome"),
            (MY_NUMBERS[0], "failed", "unknown_outcome"),
            (MY_NUMBERS[1], "delivered", None),
        ]
        assert await _scalar(db, "SELECT count(*) FROM parked_receipts WHERE ambiguous_at IS NOT NULL") == 2
        assert (await reconcile(db, "acme")).ok


@pytest.mark.parametrize(("outcome", "state"), [("failed", "failed"), ("sent", "delivered")])
async def test_accepted_is_pending_until_accepted_timeout(db: Database, pg_dsn: str, outcome: str, state: str) -> None:
    """SMPP 3.4 section 5.2.28: ACCEPTED is not delivery; after accepted_timeout the
    carrier's on_receipt_timeout applies (receipt_timeout, 72 h, is not waited for)."""
    sim_config = SimulatorConfig(handset_log=1000, outcomes=(Outcome(stat="ACCEPTD"),))
    async with simulator(sim_config) as sim:
        config = make_config(
            sim.port or 0, carrier=f'accepted_timeout = "1.5s"\non_receipt_timeout = "{outcome}"'
        )
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _equals(db, "SELECT count(*) FROM message_parts WHERE receipt_stat = 'ACCEPTD'", 3))
            assert await counts(db) == {"queued": 3}  # pending, neither charged nor refunded
            assert await _scalar(db, "SELECT count(*) FROM ledger WHERE kind IN ('charge', 'refund')") == 0
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert await counts(db) == {state: 3} and stats.swept == 3
        stats_rows = {r[0] for r in await db.fetch("SELECT receipt_stat FROM message_parts")}
        assert stats_rows == {"accepted_timeout"}
        assert (await reconcile(db, "acme")).ok


async def test_a_late_response_moves_an_unknown_part_to_submitted(db: Database, pg_dsn: str) -> None:
    """Every submit_sm_resp comes after its submit timed out (0.3 s): each part waits
    `unknown`, takes its id when the response comes, and its receipt delivers it."""
    sim_config = SimulatorConfig(
        handset_log=10_000, late_resp=1.0, late_resp_delay=(0.6, 0.8), receipt_delay=(2.0, 2.5), seed=9
    )
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, response_timeout="0.3s", grace="10m")
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:10], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
    assert await counts(db) == {"delivered": 10}
    assert stats.unknown == stats.late_applied == 10 and stats.unknown_matched == 0
    assert sim.stats.submits == 10 and await _scalar(db, "SELECT count(*) FROM parked_receipts") == 0
    assert (await reconcile(db, "acme")).ok


async def _equals(db: Database, sql: str, expected: int) -> bool:
    return await _scalar(db, sql) == expected
