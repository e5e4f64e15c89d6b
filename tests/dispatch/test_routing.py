"""Failover to a carrier of the same profile, the LISTEN wake-up, one failed part fails the message."""

from __future__ import annotations

from decimal import Decimal

import trio

from bridge.carrier import BackoffPolicy, Inbound
from bridge.simulator import SimulatorConfig
from bridge.smpp import DeliverSm
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from config.load import parse_config
from config.schema import Config
from tests.dispatch.harness import (
    MY_NUMBERS,
    add_webhook_url,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)


def _two_carriers(port_a: int, port_b: int) -> Config:
    carrier = """
[[carriers]]
name = "{name}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
response_timeout = "2s"
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "udh8"
"""
    return parse_config(
        carrier.format(name="a", port=port_a) + carrier.format(name="b", port=port_b) + """
[[routes]]
country = "MY"
carriers = [{ carrier = "a" }]
failover = ["b"]

[rates.countries]
MY = "0.0500"

[daemon]
heartbeat_interval = "0.3s"
lease = "1.5s"
poll_interval = "0.2s"
""",
        source="failover.toml",
    )


async def _true(value: bool) -> bool:
    return value


async def test_failover_when_the_primary_carrier_is_down(db: Database, pg_dsn: str) -> None:
    options = {"reconnect": BackoffPolicy(base=0.05, factor=1.0, cap=0.05)}
    async with simulator() as sim_b, trio.open_nursery() as nursery:
        sim_a_scope = trio.CancelScope()
        from bridge.simulator import Simulator

        sim_a = Simulator(SimulatorConfig(handset_log=1000))

        async def serve_a(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
            with sim_a_scope:
                await sim_a.serve("127.0.0.1", 0, task_status=task_status)

        port_a = await nursery.start(serve_a)
        config = _two_carriers(port_a, sim_b.port or 0)
        await create_account(db, "acme", credits="10")
        async with daemon(config, db, pg_dsn, carrier_options=options) as d:
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:5], message="Hi"))
            await wait_until(lambda: all_final(db))
            assert sim_a.stats.submits == 5 and sim_b.stats.submits == 0  # primary while up
            sim_a_scope.cancel()  # the primary SMSC goes away
            sim_a.drop()
            await wait_until(lambda: _true(not d.stats().carriers["a"].up))
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[5:10], message="Hi"))
            await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 10}
        assert sim_b.stats.submits == 5 and sim_a.stats.submits == 5
        carriers = dict(await db.fetch("SELECT carrier, count(*) FROM message_parts GROUP BY carrier"))
        assert carriers == {"a": 5, "b": 5}
        assert (await reconcile(db, "acme")).ok
        nursery.cancel_scope.cancel()


async def test_listen_wakes_the_claimer_without_polling(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, poll="60s")
        await create_account(db, "acme", credits="10")
        async with daemon(config, db, pg_dsn):
            await trio.sleep(0.3)  # the claimer is asleep until the next poll, a minute away
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hi"))
            with trio.fail_after(5):  # NOTIFY at commit wakes it
                await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 3}


def _receipt(message_id: str, stat: str) -> DeliverSm:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:{stat} err:000"
    return DeliverSm(esm_class=0x04, short_message=text.encode())


async def test_one_failed_part_fails_the_message_for_good(db: Database, pg_dsn: str) -> None:
    # The SMSC's own receipts come an hour later; the test writes them itself.
    async with simulator(SimulatorConfig(receipt_delay=(3600.0, 3600.0))) as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await add_webhook_url(db)
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:1], message="z" * 400))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _scalar(db, "SELECT count(*) FROM message_parts WHERE state = 'submitted'", 3))
            ids = [r[0] for r in await db.fetch("SELECT carrier_message_id FROM message_parts ORDER BY seq")]
            acks: list[int] = []
            receipts = [_receipt(ids[1], "UNDELIV"), _receipt(ids[0], "DELIVRD"), _receipt(ids[2], "DELIVRD")]
            for pdu in receipts:
                await d._inbound_send.send(Inbound(carrier="sim", pdu=pdu, ack=acks.append))
            await wait_until(lambda: _true(len(acks) == 3))
        parts = [r[0] for r in await db.fetch("SELECT state::text FROM message_parts ORDER BY seq")]
        assert parts == ["delivered", "failed", "delivered"]
        assert await counts(db) == {"failed": 1}
        account = await get_account(db, "acme")
        assert account.charged == Decimal(0) and account.reserved == 0
        assert await db.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 1
        assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 1
        assert (await reconcile(db, "acme")).ok


async def _scalar(db: Database, sql: str, expected: int) -> bool:
    value: int = await db.fetchval(sql)
    return value == expected
