"""Every status path through a real simulator and a real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from bridge.simulator import DestinationRule, SimulatorConfig
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from bridge.store.queries import get_message
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


async def test_sent_and_charged(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        await add_webhook_url(db)
        result = await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hello there"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert await counts(db) == {"delivered": 3}
        for r in result.recipients:
            view = await get_message(db, r.id)
            assert view is not None and view.status == "sent" and view.charged
            assert view.carrier_ref is not None
        account = await get_account(db, "acme")
        assert account.charged == Decimal("0.1500") and account.reserved == 0
        assert (await reconcile(db, "acme")).ok
        assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 3
        assert stats.accepted == 3 and stats.sent == 3 and stats.receipts_applied == 3
        assert sim.stats.submits == 3


FAILING = SimulatorConfig(
    handset_log=100_000,
    destination_rules=(
        DestinationRule(suffix="1", stat="UNDELIV", err=1),
        DestinationRule(suffix="2", stat="REJECTD", err=2),
        DestinationRule(suffix="3", submit_status=0x0B),  # ESME_RINVDSTADR: permanent
    ),
)


async def test_failed_paths_refund_and_invalid_is_never_sent(db: Database, pg_dsn: str) -> None:
    numbers = ["+60123000011", "+60123000012", "+60123000013", "+60123000010"]
    async with simulator(FAILING) as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        result = await enqueue(db, config, "acme", SendRequest(to=[*numbers, "+60123"], message="Hi"))
        async with daemon(config, db, pg_dsn):
            await wait_until(lambda: all_final(db))
        states = {r.to: (await get_message(db, r.id)) for r in result.recipients}
        assert {to: v.status for to, v in states.items() if v} == {
            "+60123000011": "failed", "+60123000012": "failed", "+60123000013": "failed",
            "+60123000010": "sent", "+60123": "invalid",
        }  # fmt: skip
        errors = dict(await db.fetch("SELECT destination, error FROM messages"))
        assert errors["+60123000011"] == "UNDELIV" and errors["+60123000012"] == "REJECTD"
        assert errors["+60123000013"] == "submit_error_0x0B"
        assert errors["+60123"] == "invalid_number"
        ledger = dict(await db.fetch(
            "SELECT kind::text, count(*) FROM ledger WHERE message_id IS NOT NULL GROUP BY kind"))
        assert ledger == {"reservation": 4, "refund": 3, "charge": 1}
        account = await get_account(db, "acme")
        assert account.charged == Decimal("0.0500") and account.reserved == 0
        assert (await reconcile(db, "acme")).ok
        # the invalid number never reached the SMSC; the permanent error was not retried
        assert sorted(h.destination for h in sim.handsets) == ["60123000010", "60123000011", "60123000012"]
        assert sim.stats.submits == 4
