"""An upgrade: what a release with migrations 1-6 left in flight, finished by this one."""

from __future__ import annotations

import msgspec

import dlr
from bridge.carrier import Inbound
from bridge.smpp import DeliverSm
from bridge.store.accounts import reconcile
from bridge.store.db import open_database
from bridge.store.enqueue import SendRequest, prepare, store_sends
from bridge.store.migrate import load_migrations, migrate
from bridge.store.routing import RouteTable
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)

_RELEASE_BEFORE = 6  # migrations 0007 (messages move when final) and 0008 (apply_flush) came after


def _receipt_text(carrier_id: str) -> bytes:
    return (f"id:{carrier_id} sub:001 dlvrd:001 submit date:2612010000 done date:2612010001"
            " stat:DELIVRD err:000 text:").encode()  # fmt: skip


async def test_messages_left_submitted_and_a_receipt_parked_without_status_finish(empty_dsn: str) -> None:
    await migrate(empty_dsn, load_migrations()[:_RELEASE_BEFORE])
    config = make_config(1)
    carrier = config.carriers[0]
    keys = {cid: dlr.id_key(cid, carrier.response_id_form) for cid in ("OLD1", "OLD2")}
    async with open_database(empty_dsn, min_size=1, max_size=4) as db:
        # The older release's account (today's create_account reads account_charges, migration 0028).
        account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ('acme', 10) RETURNING id")
        await db.execute("INSERT INTO ledger (account_id, kind, amount) VALUES ($1, 'credit', 10)", account)
        # The URL where the older release kept it: migration 0013 moves it to webhook_endpoints.
        await db.execute("UPDATE accounts SET webhook_url = 'https://example.invalid/hook' WHERE name = 'acme'")
        # Today's enqueue records the API key of a campaign (migration 0012); the older
        # release had no such column: give it one for this enqueue only. Its reservation
        # went to accounts.reserved, which migration 0028 renames committed.
        await db.execute("ALTER TABLE campaigns ADD COLUMN api_key_id bigint")
        await db.execute("ALTER TABLE accounts RENAME COLUMN reserved TO committed")
        send = prepare(config, RouteTable(config), account, SendRequest(to=MY_NUMBERS[:2], message="Hi"),
                       default_sender_id=None)  # fmt: skip
        await store_sends(db, [send])
        await db.execute("ALTER TABLE accounts RENAME COLUMN committed TO reserved")
        await db.execute("ALTER TABLE campaigns DROP COLUMN api_key_id")
        first, second = [r["id"] for r in await db.fetch("SELECT id FROM messages ORDER BY id")]
        # As the older release left them: both parts accepted under a carrier id, the
        # messages moved to 'submitted', and the second one's receipt parked in the
        # same instant (a parked row then had no status columns).
        for message_id, cid in ((first, "OLD1"), (second, "OLD2")):
            await db.execute(
                "UPDATE message_parts SET state = 'submitted', carrier = 'sim', carrier_message_id = $2,"
                " id_key = $3, submitted_at = now() WHERE message_id = $1",
                message_id, cid, keys[cid],
            )  # fmt: skip
        await db.execute("UPDATE messages SET state = 'submitted' WHERE id = ANY($1::bigint[])", [first, second])
        parsed = dlr.parse_receipt(_receipt_text("OLD2"), None, 0x04)
        await db.execute(
            "INSERT INTO parked_receipts (carrier, id_key, receipt, raw) VALUES ('sim', $1, $2, $3)",
            keys["OLD2"], msgspec.to_builtins(parsed), _receipt_text("OLD2"),
        )  # fmt: skip

    applied = await migrate(empty_dsn)
    assert [m.version for m in applied.migrations] == list(range(_RELEASE_BEFORE + 1, len(load_migrations()) + 1))
    async with open_database(empty_dsn, min_size=1, max_size=4) as db, simulator() as sim:
        config = make_config(sim.port or 0)
        async with daemon(config, db, empty_dsn) as d:
            acks: list[int] = []
            pdu = DeliverSm(esm_class=0x04, short_message=_receipt_text("OLD1"))
            await d._inbound_send.send(Inbound(carrier="sim", pdu=pdu, ack=acks.append))
            # The first one's receipt arrives now; the parked one is applied by the
            # sweeper's late-match pass (apply_flush leaves rows without a status).
            await wait_until(lambda: all_final(db))
            stats = d.stats()
        assert acks == [0]
        assert await counts(db) == {"delivered": 2}
        assert stats.sent == 2 and stats.parked_applied == 1
        assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
        assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 2
        assert (await reconcile(db, "acme")).ok
