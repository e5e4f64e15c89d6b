"""Receipt timeouts, parked receipts past their TTL, start-up recovery, drain."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest
import trio

import dlr
from bridge.carrier import Inbound
from bridge.dispatch import Daemon
from bridge.dispatch.apply import apply_flush
from bridge.dispatch.claim import CLAIM_SQL
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.simulator import SimulatorConfig
from bridge.smpp import DeliverSm
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

NO_RECEIPTS = SimulatorConfig(handset_log=1000, receipt_delay=(3600.0, 3600.0))


@pytest.mark.parametrize(("outcome", "state"), [("failed", "failed"), ("sent", "delivered")])
async def test_receipt_timeout(db: Database, pg_dsn: str, outcome: str, state: str) -> None:
    async with simulator(NO_RECEIPTS) as sim:
        config = make_config(
            sim.port or 0, carrier=f'receipt_timeout = "1s"\non_receipt_timeout = "{outcome}"'
        )
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert await counts(db) == {state: 3}
        assert stats.swept == 3
        stats_row = await db.fetch("SELECT DISTINCT receipt_stat FROM message_parts")
        assert [r[0] for r in stats_row] == ["receipt_timeout"]
        account = await get_account(db, "acme")
        assert account.charged == (Decimal("0.1500") if outcome == "sent" else 0)
        assert account.reserved == 0 and (await reconcile(db, "acme")).ok


async def test_parked_receipts_expire_to_unmatched(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, daemon='parked_receipt_ttl = "1s"')
        async with daemon(config, db, pg_dsn) as d:
            acks: list[int] = []
            text = b"id:ABC123 sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000"
            await d._inbound_send.send(
                Inbound(carrier="sim", pdu=DeliverSm(esm_class=0x04, short_message=text), ack=acks.append)
            )
            await wait_until(lambda: _scalar(db, "SELECT count(*) FROM unmatched_receipts", 1))
            stats = d.stats()
        assert acks == [0]  # acknowledged once parked (stored), never dropped
        assert stats.receipts_parked == 1 and stats.unmatched == 1
        assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
        row = await db.fetchrow("SELECT carrier, id_key, receipt FROM unmatched_receipts")
        assert row is not None and row["carrier"] == "sim" and row["id_key"] == "abc123"
        assert row["receipt"]["stat"] == "DELIVRD"


async def _scalar(db: Database, sql: str, expected: int) -> bool:
    value: int = await db.fetchval(sql)
    return value == expected


async def _crashed_instance_on_this_host(db: Database) -> int:
    """The instance row of a previous run on this host whose process is gone, lease still running."""
    dead = await trio.lowlevel.open_process(["true"])
    await dead.wait()
    instance: int = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
        " VALUES ('d1', $1, $2, now() + interval '1 hour') RETURNING id",
        socket.gethostname(), dead.pid,
    )  # fmt: skip
    return instance


@pytest.mark.parametrize("policy", ["fail", "resubmit"])
async def test_startup_recovery_of_our_previous_run(db: Database, pg_dsn: str, policy: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier=f'on_unknown_outcome = "{policy}"')
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:4], message="Hi"))
        # A crashed previous run on this host left its claimed parts 'submitting',
        # its lease still running for an hour; its process is gone.
        previous = await _crashed_instance_on_this_host(db)
        await db.execute(
            "UPDATE message_parts SET state = 'submitting', owner_instance = $1, attempts = 1", previous
        )
        async with daemon(config, db, pg_dsn, name="d1") as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert stats.recovered == 4
        if policy == "fail":
            assert await counts(db) == {"failed": 4} and sim.stats.submits == 0
            assert (await get_account(db, "acme")).charged == 0
        else:
            assert await counts(db) == {"delivered": 4} and sim.stats.submits == 4
        assert (await reconcile(db, "acme")).ok
        stopped = await db.fetchval("SELECT stopped_at IS NOT NULL FROM daemon_instances WHERE id = $1", previous)
        assert stopped


async def test_recovery_cancels_a_part_whose_message_failed_meanwhile(db: Database, pg_dsn: str) -> None:
    """Migration 0010: policy "resubmit", but part 1 failed while part 2 was in flight: part 2 is not sent."""
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier='on_unknown_outcome = "resubmit"')
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:1], message="x" * 300))
        previous = await _crashed_instance_on_this_host(db)
        first, _ = sorted(
            (ClaimedPart(*row) for row in await db.fetch(CLAIM_SQL, previous, 10, [config.routes[0].label], [])),
            key=lambda p: p.seq,
        )
        key = dlr.id_key("F1", config.carriers[0].response_id_form)
        undelivered = ReceiptRow(carrier="sim", id_key=key, status=dlr.Status.FAILED, stat="UNDELIV",
                                 error_code=0, receipt={}, raw=b"")  # fmt: skip
        accepted = Result(first, Resolution.ACCEPTED, "sim", carrier_message_id="F1", id_key=key)
        await apply_flush(db, [accepted], [undelivered], [], webhooks=False, default_url=None)
        async with daemon(config, db, pg_dsn, name="d1") as d:
            await wait_until(lambda: _scalar(db, "SELECT count(*) FROM message_parts WHERE state = 'submitting'", 0))
            stats = d.stats()
        assert stats.recovered == 1 and sim.stats.submits == 0
        rows = await db.fetch("SELECT seq, state::text, receipt_stat FROM message_parts ORDER BY seq")
        assert [tuple(r) for r in rows] == [(1, "failed", "UNDELIV"), (2, "failed", "cancelled")]
        assert await counts(db) == {"failed": 1}
        assert (await reconcile(db, "acme")).ok


async def test_drain_finishes_in_flight_and_marks_the_instance_stopped(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:50], message="Hi"))
        async with daemon(config, db, pg_dsn, drain=False) as d:
            await wait_until(lambda: _scalar(db, "SELECT count(*) FROM message_parts WHERE state <> 'queued'", 50))
            await d.drain(5.0)
            instance = d.instance_id
        assert await db.fetchval("SELECT count(*) FROM message_parts WHERE state = 'submitting'") == 0
        row = await db.fetchrow("SELECT stopped_at, lease_until FROM daemon_instances WHERE id = $1", instance)
        assert row is not None and row["stopped_at"] is not None
        assert sim.stats.bound == 0  # unbound


async def test_parts_of_an_unanswered_claim_are_recovered(db: Database, pg_dsn: str) -> None:
    """A claim whose answer was lost leaves parts 'submitting' under our own row that our
    pipeline never saw. The claimer then moves to a new row; the old one retires once
    nothing claimed under it is in flight, and its leftovers are recovered by policy."""
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier='on_unknown_outcome = "resubmit"')
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hi"))
        d = Daemon(config, db, dsn=pg_dsn, passwords={"sim": "pw"}, instance_name="d1",
                   sweep_interval=0.3, db_timeout=2.0)  # fmt: skip
        lost_under = await d._lease.register()  # the row the lost claim ran under
        await db.execute(
            "UPDATE message_parts SET state = 'submitting', owner_instance = $1, attempts = 1", lost_under
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(d.run)  # claims under a new row from the start
            assert d.instance_id != lost_under
            await wait_until(lambda: all_final(db))
            stats = d.stats()
            await d.drain(5.0)
        assert stats.recovered == 3 and await counts(db) == {"delivered": 3}
        assert await db.fetchval("SELECT stopped_at IS NOT NULL FROM daemon_instances WHERE id = $1", lost_under)


@pytest.mark.parametrize("age", [timedelta(0), timedelta(hours=1)])
async def test_sweeper_applies_a_receipt_parked_while_its_id_landed_elsewhere(
    db: Database, pg_dsn: str, age: timedelta
) -> None:
    """A receipt parked while its id landed in another flush (seconds ago), or parked
    by a release before migration 0008 (no status: only the sweeper applies it) an
    hour ago: either is applied once its id is on a part."""
    async with simulator(NO_RECEIPTS) as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:1], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _scalar(db, "SELECT count(*) FROM message_parts WHERE state = 'submitted'", 1))
            key = await db.fetchval("SELECT id_key FROM message_parts")
            # another daemon's writer parked this receipt while our flush stored the id
            receipt = msgspec.to_builtins(dlr.Receipt(id=key, state=dlr.MessageState.DELIVERED, stat="DELIVRD"))
            await db.execute(
                "INSERT INTO parked_receipts (carrier, id_key, receipt, received_at)"
                " VALUES ('sim', $1, $2, now() - $3::interval)",
                key, receipt, age,
            )  # fmt: skip
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert await counts(db) == {"delivered": 1} and stats.parked_applied == 1
        assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
        assert (await get_account(db, "acme")).charged == Decimal("0.0500")
