"""Every status path through a real simulator and a real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from bridge.simulator import DestinationRule, SimulatorConfig
from bridge.store.accounts import create_account, get_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from bridge.store.queries import get_message
from tests.dispatch.harness import MY_NUMBERS, all_final, counts, daemon, make_config, simulator, wait_until


async def test_sent_and_charged(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
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
