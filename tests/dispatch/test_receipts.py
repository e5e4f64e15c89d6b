"""Unknown outcomes, receipts before responses, duplicate receipts, MO, multipart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import trio

from bridge.carrier import BackoffPolicy, Inbound
from bridge.dispatch import apply
from bridge.simulator import MoConfig, SimulatorConfig
from bridge.smpp import DeliverSm
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from config.load import parse_config
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

FAST_RECONNECT = {"reconnect": BackoffPolicy(base=0.05, factor=1.0, cap=0.05)}


@pytest.mark.parametrize("policy", ["fail", "resubmit"])
async def test_unknown_outcome_policy(db: Database, pg_dsn: str, policy: str) -> None:
    # The simulator drops the connection instead of answering: the carrier reports
    # Unknown("disconnected") and the carrier's on_unknown_outcome decides.
    sim_config = SimulatorConfig(handset_log=10_000, disconnect=0.15, seed=7)
    async with simulator(sim_config) as sim:
        config = make_config(
            sim.port or 0, carrier=f'on_unknown_outcome = "{policy}"\nmax_attempts = 20'
        )
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:12], message="Hi"))
        async with daemon(config, db, pg_dsn, carrier_options=FAST_RECONNECT) as d:
            await wait_until(lambda: all_final(db), limit=40)
            stats = d.stats()
        assert stats.unknown > 0 and sim.stats.disconnects > 0
        final = await counts(db)
        if policy == "fail":
            assert final.get("failed", 0) == stats.unknown > 0
            errors = {r[0] for r in await db.fetch("SELECT error FROM messages WHERE state = 'failed'")}
            assert errors == {"unknown_outcome"}
        else:
            assert final == {"delivered": 12} and stats.resubmitted == stats.unknown
        # every handset got each message at most once (the simulator drops before accepting)
        destinations = [h.destination for h in sim.handsets]
        assert len(destinations) == len(set(destinations)) == final.get("delivered", 0)
        assert (await reconcile(db, "acme")).ok


async def test_receipts_before_responses_are_parked_and_applied(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, receipt_before_resp=1.0, seed=3)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:40], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert await counts(db) == {"delivered": 40}
        assert stats.receipts_applied == 40
        assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
        assert (await reconcile(db, "acme")).ok


async def test_a_response_waits_while_its_receipt_is_being_parked(
    db: Database, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parking is a statement of its own after apply_flush committed (apply.py).

    A response that landed in another flush meanwhile would not see the parked row,
    and its receipt would wait for the sweeper. The writer keeps the receipt's key
    busy until the parking committed, so the response's flush comes after it and
    takes the receipt out. Here each parking takes 0.3 s, the responses arrive in
    that window, and the sweeper (which would rescue a stranded receipt) never runs.
    """
    parkings: list[int] = []

    async def slow_park(conn: Any, receipts: Any, out: Any = None) -> None:
        parkings.append(len(receipts))
        await trio.sleep(0.3)
        await real_park(conn, receipts, out)

    real_park = apply.park
    monkeypatch.setattr(apply, "park", slow_park)
    # Receipts first, responses 0.1-0.2 s later: inside the parking of their receipts.
    sim_config = SimulatorConfig(
        handset_log=10_000, receipt_before_resp=1.0, late_resp=1.0, late_resp_delay=(0.1, 0.2), seed=5
    )
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:40], message="Hi"))
        async with daemon(config, db, pg_dsn, sweep_interval=3600.0) as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
    assert sum(parkings) > 0 and stats.receipts_parked == sum(parkings)
    assert await counts(db) == {"delivered": 40}
    assert stats.parked_applied == stats.receipts_parked and stats.receipts_applied == 40
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
    assert (await reconcile(db, "acme")).ok


def _receipt_pdu(message_id: str, stat: str = "DELIVRD") -> DeliverSm:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:{stat} err:000 text:"
    return DeliverSm(esm_class=0x04, short_message=text.encode())


async def test_duplicate_and_conflicting_receipts_change_nothing(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await add_webhook_url(db)
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:2], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db))
            ids = [r[0] for r in await db.fetch("SELECT carrier_message_id FROM message_parts")]
            before = await db.fetchval("SELECT count(*) FROM ledger"), await db.fetchval(
                "SELECT count(*) FROM webhook_outbox")
            acks: list[int] = []
            for message_id in ids:
                for stat in ("DELIVRD", "UNDELIV", "DELIVRD"):
                    await d._inbound_send.send(
                        Inbound(carrier="sim", pdu=_receipt_pdu(message_id, stat), ack=acks.append))
            await wait_until(lambda: _true(len(acks) == 6))
            stats = d.stats()
        assert acks == [0] * 6  # acknowledged (after the commit), nothing applied
        assert await counts(db) == {"delivered": 2}
        after = await db.fetchval("SELECT count(*) FROM ledger"), await db.fetchval(
            "SELECT count(*) FROM webhook_outbox")
        assert after == before
        assert stats.receipts_duplicate >= 6 and stats.receipts_applied == 2
        account = await get_account(db, "acme")
        assert account.charged == Decimal("0.1000")
        assert (await reconcile(db, "acme")).ok


async def _true(value: bool) -> bool:
    return value


async def test_mo_is_stored_and_acknowledged(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(mo=MoConfig(rate=50, count=5, text="STOP {n}"))
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0)
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _true(sim.stats.mo_acked == 5))
            stats = d.stats()
        rows = await db.fetch("SELECT body, source, destination, carrier FROM inbound_messages ORDER BY id")
        # each stored once; their order is the order their flushes committed in (two in flight)
        assert sorted(r["body"] for r in rows) == [f"STOP {n}" for n in range(1, 6)]
        assert {r["carrier"] for r in rows} == {"sim"} and stats.mo == 5


async def test_multipart_messages_aggregate(db: Database, pg_dsn: str) -> None:
    from bridge.simulator import DestinationRule

    sim_config = SimulatorConfig(
        handset_log=10_000, destination_rules=(DestinationRule(suffix="9", stat="UNDELIV"),)
    )
    long_text = "x" * 400  # 3 parts of 153/153/94 septets
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=["+60123000008", "+60123000009"], message=long_text))
        async with daemon(config, db, pg_dsn):
            await wait_until(lambda: all_final(db))
        rows = dict(await db.fetch("SELECT destination, state::text FROM messages"))
        assert rows == {"+60123000008": "delivered", "+60123000009": "failed"}
        assert await db.fetchval("SELECT count(*) FROM message_parts WHERE state = 'delivered'") == 3
        account = await get_account(db, "acme")
        assert account.charged == Decimal("0.1500") and account.reserved == 0
        assert (await reconcile(db, "acme")).ok
        # one concatenation reference, parts 1..3 of 3 in the UDH (TS 23.040 9.2.3.24.1)
        assert sim.stats.submits == 6


async def test_payload_profile_sends_one_pdu_for_a_long_message(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = parse_config(
            f"""
[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {sim.port}
system_id = "bridge"
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "payload"

[[routes]]
country = "MY"
carriers = [{{ carrier = "sim" }}]

[rates.countries]
MY = "0.0500"

[daemon]
poll_interval = "0.2s"
""",
            source="payload.toml",
        )
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:2], message="y" * 400))
        async with daemon(config, db, pg_dsn):
            await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 2}
        assert sim.stats.submits == 2  # one submit_sm per message, message_payload carries it all
        parts = await db.fetch("SELECT message_id, seq, state::text, carrier_message_id FROM message_parts")
        assert len(parts) == 6 and {p["state"] for p in parts} == {"delivered"}
        assert len({p["carrier_message_id"] for p in parts}) == 2
        account = await get_account(db, "acme")
        assert account.charged == Decimal("0.3000")  # billed as 3 parts each (docs/segmenter.md)
        assert (await reconcile(db, "acme")).ok


async def test_odd_inbound_is_stored_not_fatal(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        async with daemon(config, db, pg_dsn) as d:
            acks: list[int] = []
            odd = [
                DeliverSm(data_coding=0x03, short_message=b"caf\xe9\x00 ok", source_addr="60123", destination_addr="1"),
                DeliverSm(data_coding=0x04, short_message=b"\x00\x01\x02"),  # binary
                DeliverSm(esm_class=0x04, short_message=b"id:77 stat:DELIVRD err:FFFFFFFFFFFF text:\x00x"),
                DeliverSm(esm_class=0x04, short_message=b"no id here"),  # malformed receipt
            ]
            for pdu in odd:
                await d._inbound_send.send(Inbound(carrier="sim", pdu=pdu, ack=acks.append))
            await wait_until(lambda: _true(len(acks) == 4))
            stats = d.stats()
        assert acks == [0, 0, 0, 0] and stats.writer_errors == 0
        bodies = [r[0] for r in await db.fetch("SELECT body FROM inbound_messages ORDER BY id")]
        assert bodies == ["café ok", None, "no id here"]
        assert stats.receipts_malformed == 1 and stats.receipts_parked == 1
        parked = await db.fetchrow("SELECT id_key, receipt FROM parked_receipts")
        assert parked is not None and parked["id_key"] == "77" and parked["receipt"]["err"] == "FFFFFFFFFFFF"


@pytest.mark.parametrize(
    ("late_resp_delay", "writer_delay"),
    [
        pytest.param((0.6, 0.8), "20ms", id="after-the-commit"),
        # The writer holds the Unknown outcomes for 0.5 s, the responses come 0.05-0.15 s
        # after the timeout: each overtakes its outcome's commit and waits for it
        # (bridge/dispatch/late.py). Dropped before that: the receipts were parked.
        pytest.param((0.35, 0.45), "0.5s", id="before-the-commit"),
    ],
)
async def test_late_responses_are_applied(
    db: Database, pg_dsn: str, late_resp_delay: tuple[float, float], writer_delay: str
) -> None:
    """docs/design.md "Reliability rules": a late resp is still applied.

    Every submit_sm_resp comes after its submit_sm has timed out (0.3 s): each part
    ends Unknown (timeout) and, by the default policy, fails and is refunded. Then its
    response arrives with the SMSC's id, and the part keeps that id, so the receipt
    that follows is recognised instead of parked for days.
    """
    sim_config = SimulatorConfig(
        handset_log=10_000, late_resp=1.0, late_resp_delay=late_resp_delay, receipt_delay=(2.0, 2.5), seed=9
    )
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, response_timeout="0.3s", writer_delay=writer_delay)
        await create_account(db, "acme", credits="10")
        await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:10], message="Hi"))
        async with daemon(config, db, pg_dsn, sweep_interval=3600.0) as d:
            await wait_until(lambda: all_final(db))
            await wait_until(lambda: _true(d.stats().receipts_duplicate == 10))
            stats = d.stats()
    assert await counts(db) == {"failed": 10}
    assert stats.unknown == stats.late_accepted == stats.late_applied == 10
    assert stats.receipts_parked == 0 and await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
    ids = {r[0] for r in await db.fetch("SELECT carrier_message_id FROM message_parts")}
    assert None not in ids and len(ids) == 10
    assert (await reconcile(db, "acme")).ok
