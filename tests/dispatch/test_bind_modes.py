"""A carrier of transmitter and receiver binds, end to end: submits on the tx binds,
every receipt on the rx bind, all of them matched to the carrier's parts."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import trio

from bridge.carrier import BackoffPolicy
from bridge.dispatch import Daemon
from bridge.dispatch.instances import slot_order
from bridge.simulator import Simulator, SimulatorConfig
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from config.load import parse_config
from config.schema import BindMode
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)

TX_RX = 'binds = [{ mode = "tx", count = 2 }, { mode = "rx", count = 1 }]'
LONG = "x" * 200  # two parts (udh8): each part gets its own receipt


def _deliveries_by_mode(sim: Simulator) -> dict[str, int]:
    out: Counter[str] = Counter()
    for session in sim.bound_sessions("bridge"):
        assert session.mode is not None
        out[session.mode.value] += session.deliveries
    return dict(out)


async def test_tx_and_rx_binds_of_one_carrier_match_every_receipt(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, receipt_delay=(0.0, 0.05), seed=11)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier=TX_RX)
        await create_account(db, "acme", credits="100")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:60], message="Hi"))
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[60:80], message=LONG))
        async with daemon(config, db, pg_dsn) as d:
            health = d.stats().carriers["sim"]
            assert [(b.slot, b.mode, b.state) for b in health.binds] == [
                (0, "tx", "bound_tx"), (1, "tx", "bound_tx"), (2, "rx", "bound_rx"),
            ]  # fmt: skip
            await wait_until(lambda: all_final(db))
            stats = d.stats()
            by_mode = _deliveries_by_mode(sim)
        parts = 60 + 2 * 20
        assert await counts(db) == {"delivered": 80}
        assert stats.accepted == parts and stats.receipts == parts
        assert stats.unmatched == 0 and stats.swept == 0
        # Every part was made final by its own receipt (not by the receipt timeout).
        stats_of_parts = dict(await db.fetch(
            "SELECT state::text || ':' || coalesce(receipt_stat, '-'), count(*) FROM message_parts GROUP BY 1"
        ))  # fmt: skip
        assert stats_of_parts == {"delivered:DELIVRD": parts}
        assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
        assert await db.fetchval("SELECT count(*) FROM unmatched_receipts") == 0
        # The SMSC wrote every receipt on the receiver, none on a transmitter.
        assert sim.stats.submits == parts and sim.stats.receipts_acked == parts
        assert by_mode == {"transmitter": 0, "receiver": parts}
        assert (await reconcile(db, "acme")).ok
        # 60 x 1 part + 20 x 2 parts at 0.05 each, charged on delivery
        assert (await get_account(db, "acme")).balance == Decimal(100) - parts * Decimal("0.05")


async def test_a_daemon_holding_only_the_receiver_slot_receives_and_never_submits(
    db: Database, pg_dsn: str
) -> None:
    async with simulator() as sim:
        config = make_config(
            sim.port or 0, carrier='binds = [{ mode = "tx", count = 1 }, { mode = "rx", count = 1 }]'
        )
        await create_account(db, "acme", credits="100")
        # Entered in order: a is running (and holds its slot) before b starts.
        async with (
            daemon(config, db, pg_dsn, name="a", max_binds=1) as a,
            daemon(config, db, pg_dsn, name="b", max_binds=1) as b,
        ):
            # One slot each: a tries the transmitter first and gets it, b the receiver.
            assert [x.mode for x in a.stats().carriers["sim"].binds] == ["tx"]
            assert [x.mode for x in b.stats().carriers["sim"].binds] == ["rx"]
            assert not b.stats().carriers["sim"].can_submit
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:50], message="Hi"))
            await wait_until(lambda: all_final(db))
            sa, sb = a.stats(), b.stats()
        assert await counts(db) == {"delivered": 50}
        assert (sa.claimed, sa.submitted, sa.receipts) == (50, 50, 0)
        assert (sb.claimed, sb.submitted, sb.receipts) == (0, 0, 50)
        assert sim.stats.submits == 50
        assert (await reconcile(db, "acme")).ok


async def test_receipts_wait_at_the_smsc_until_the_receiver_binds(db: Database, pg_dsn: str) -> None:
    """The only daemon holds the transmitter slot (max_binds = 1): the parts are
    accepted and their receipts wait at the SMSC until a second daemon binds the receiver."""
    async with simulator() as sim:
        config = make_config(
            sim.port or 0, carrier='binds = [{ mode = "tx", count = 1 }, { mode = "rx", count = 1 }]'
        )
        await create_account(db, "acme", credits="100")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:10], message="Hi"))
        async with daemon(config, db, pg_dsn, name="a", max_binds=1) as a:
            await wait_until(lambda: _true(a.stats().accepted == 10))
            await trio.sleep(0.3)
            assert await counts(db) == {"queued": 10}  # sent, waiting for their receipts
            assert sim.stats.receipts_queued == 10 and sim.stats.receipts_sent == 0
            async with daemon(config, db, pg_dsn, name="b", max_binds=1):
                await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 10}
        assert (await reconcile(db, "acme")).ok


def _modes(d: Daemon, carrier: str) -> list[str]:
    """The bind modes ``d`` runs for ``carrier``; none while the carrier is (re)starting."""
    health = d.stats().carriers.get(carrier)
    return [] if health is None else [x.mode for x in health.binds]


async def test_a_receiver_only_daemon_takes_the_transmitter_another_daemon_freed(
    db: Database, pg_dsn: str
) -> None:
    async with simulator() as sim, trio.open_nursery() as nursery:
        config = make_config(
            sim.port or 0, carrier='binds = [{ mode = "tx", count = 1 }, { mode = "rx", count = 1 }]'
        )
        await create_account(db, "acme", credits="100")
        a = Daemon(config, db, dsn=pg_dsn, passwords={}, instance_name="a", max_binds=1,
                   sweep_interval=0.5, db_timeout=2.0)  # fmt: skip
        await nursery.start(a.run)
        async with daemon(config, db, pg_dsn, name="b") as b:  # no max_binds: all it can get
            assert [x.mode for x in a.stats().carriers["sim"].binds] == ["tx"]
            assert [x.mode for x in b.stats().carriers["sim"].binds] == ["rx"]
            await a.drain(5.0)  # the transmitter's daemon stops
            # b takes the freed transmitter at its next heartbeat and submits from then on. It
            # restarts the carrier to do so, and while it restarts the carrier is not in stats.
            await wait_until(lambda: _true(_modes(b, "sim") == ["tx", "rx"]))
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:20], message="Hi"))
            await wait_until(lambda: all_final(db))
            sb = b.stats()
        assert await counts(db) == {"delivered": 20}
        assert (sb.submitted, sb.receipts) == (20, 20)
        assert (await reconcile(db, "acme")).ok


async def test_failover_when_only_the_receiver_of_the_primary_is_bound(db: Database, pg_dsn: str) -> None:
    """A carrier whose receiver is bound but whose transmitter is down is no carrier to submit to."""
    slow = {"reconnect": BackoffPolicy(base=60.0, factor=1.0, cap=60.0)}  # the tx stays down
    async with simulator() as sim:
        config = parse_config(
            _CARRIER.format(name="a", port=sim.port, binds=TX_RX)
            + _CARRIER.format(name="b", port=sim.port, binds="binds = 1")
            + _FAILOVER,
            source="failover.toml",
        )
        await create_account(db, "acme", credits="10")
        async with daemon(config, db, pg_dsn, carrier_options=slow) as d:
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:5], message="Hi"))
            await wait_until(lambda: all_final(db))
            for session in sim.bound_sessions("a"):
                if session.mode is not None and session.mode.value == "transmitter":
                    session.abort()
            await wait_until(lambda: _true(not d.stats().carriers["a"].can_submit))
            assert d.stats().carriers["a"].up  # the receiver is still bound
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[5:10], message="Hi"))
            await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 10}
        carriers = dict(await db.fetch("SELECT carrier, count(*) FROM message_parts GROUP BY carrier"))
        assert carriers == {"a": 5, "b": 5}
        assert (await reconcile(db, "acme")).ok


_CARRIER = """
[[carriers]]
name = "{name}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
response_timeout = "2s"
{binds}
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "udh8"
"""
_FAILOVER = """
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
"""


def test_slot_order_alternates_transmitters_and_receivers() -> None:
    tx, rx, trx = BindMode.TX, BindMode.RX, BindMode.TRX
    assert slot_order([trx, trx, trx]) == [0, 1, 2]  # binds = N: the order it always had
    assert slot_order([tx, tx, rx]) == [0, 2, 1]
    assert slot_order([rx, tx]) == [1, 0]  # a daemon allowed one bind can still submit
    assert slot_order([rx, rx, tx, trx]) == [3, 0, 2, 1]


async def _true(value: bool) -> bool:
    return value
