"""End to end: enqueue (what `smpp-bridge send` and the API call) -> daemon -> simulator ->
receipts -> outbox -> the sender -> a real receiver: one signed sms.status per message."""

from __future__ import annotations

import json

import trio

from bridge.simulator import DestinationRule, SimulatorConfig
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from bridge.webhooks import verify
from bridge.webhooks.service import run_sender
from config.load import parse_config
from tests.dispatch.harness import MY_NUMBERS, all_final, daemon, make_config, simulator, wait_until
from tests.webhooks.helpers import KEY, account_with_url, wait_rows
from tests.webhooks.receiver import receiver

_HOOKS = """
[webhooks]
require_https = false
allow_networks = ["127.0.0.1/32"]
"""


async def test_one_signed_sms_status_per_message_with_its_final_status(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(
        handset_log=1000, destination_rules=(DestinationRule(suffix="77", submit_status=0x0B),)
    )
    async with simulator(sim_config) as sim, receiver() as rec:
        config = make_config(sim.port or 0, extra=_HOOKS)
        acme = await account_with_url(db, "acme", rec.url())
        numbers = [*MY_NUMBERS[:20], "+60120000077", "+6012"]  # one rejected by the SMSC, one invalid
        result = await enqueue(db, config, "acme", SendRequest(to=numbers, message="Your code is 482915",
                                                                reference="order-9821"))  # fmt: skip
        async with daemon(config, db, pg_dsn), trio.open_nursery() as nursery:
            # The sender as the daemon runs it: its own pool, the configuration's policy.
            await nursery.start(run_sender, config, pg_dsn, KEY)
            await wait_until(lambda: all_final(db))
            got = await rec.wait_for(21, limit=20)
            await wait_rows(db, "SELECT bool_and(state = 'delivered') FROM webhook_outbox")
            await trio.sleep(0.3)  # nothing more arrives
            nursery.cancel_scope.cancel()
    assert len(rec.received) == 21  # none for the invalid number (final in the 201 answer)
    final = {r["public_id"]: r["state"] for r in await db.fetch("SELECT public_id, state::text AS state FROM messages")}
    bodies = {}
    for request in got:
        assert verify(acme.secret, request.body, request.headers["x-prosignals-signature"])
        body = json.loads(request.body)
        bodies[body["id"]] = body
    assert len(bodies) == 21
    for recipient in result.recipients:
        if recipient.status == "invalid":
            assert recipient.id not in bodies
            continue
        body = bodies[recipient.id]
        assert body["status"] == {"delivered": "sent", "failed": "failed"}[final[recipient.id]]
        assert body["campaignId"] == result.campaign_id and body["reference"] == "order-9821"
        assert body["to"] == recipient.to and body["attempt"] == 1
    assert sum(b["status"] == "failed" for b in bodies.values()) == 1


def test_the_example_configuration_parses_with_the_new_webhooks_table() -> None:
    from config.load import example_text

    hooks = parse_config(example_text()).webhooks
    assert hooks.master_key_env == "SMPP_BRIDGE_WEBHOOK_KEY" and hooks.retention.seconds == 7 * 86400
