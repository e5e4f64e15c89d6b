"""Sessions against PostgreSQL: probe numbers, quota, matching, multipart, expiry with an injectable clock, webhooks."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from bridge.preflight.matcher import match_inbox
from bridge.preflight.networks import networks_health
from bridge.preflight.outcomes import expire_due
from bridge.preflight.plans import PLANS
from bridge.preflight.sessions import NewSession, QuotaExceeded, create_session, get_session
from bridge.preflight.webhook import SESSION_COMPLETE_POLICY
from bridge.store.db import Database
from bridge.webhooks.endpoints import set_endpoint
from bridge.webhooks.policy import sign
from tests.preflight.helpers import Clock, mo_row, preflight_config, setup, store_mo
from tests.webhooks.helpers import KEY

TTL = timedelta(minutes=5)


async def _numbers(db: Database, session_id: object) -> dict[str, str]:
    found = await get_session(db, session_id)  # type: ignore[arg-type]
    assert found is not None
    return {r.network: r.phone_number for r in found[1].results}


async def test_each_session_gets_the_least_recently_used_number_of_each_network(db: Database) -> None:
    config = preflight_config()
    user = await setup(db, config)
    clock = Clock()
    seen = []
    for _ in range(3):
        sid = await create_session(db, user.account_id, NewSession(sender_id="MYAPP"), now=clock(), ttl=TTL)
        seen.append(await _numbers(db, sid))
        clock.advance(1)
    assert [s["ee"] for s in seen] == ["+447700900001", "+447700900002", "+447700900001"]
    assert {s["vodafone"] for s in seen} == {"+447700900011"}


async def test_the_monthly_quota_is_enforced(db: Database) -> None:
    user = await setup(db, preflight_config(), plan="free")
    clock = Clock()
    for _ in range(5):
        await create_session(db, user.account_id, NewSession(sender_id="A"), now=clock(), ttl=TTL, plan=PLANS["free"])
    with pytest.raises(QuotaExceeded):
        await create_session(db, user.account_id, NewSession(sender_id="A"), now=clock(), ttl=TTL, plan=PLANS["free"])


async def test_clean_intercepted_multipart_and_expiry_at_five_minutes(db: Database) -> None:
    config = preflight_config()
    user = await setup(db, config)
    await set_endpoint(db, KEY, account="acme", url="https://hooks.example.com/pf", require_https=False)
    clock = Clock()
    sid = await create_session(
        db, user.account_id, NewSession(sender_id="MYAPP", expected_body="Hello!", client_ref="deploy-42"),
        now=clock(), ttl=TTL,
    )  # fmt: skip
    numbers = await _numbers(db, sid)
    # EE: three parts with a 16-bit reference, out of order, sender intact.
    dest = numbers["ee"].lstrip("+")
    await store_mo(db, mo_row("MYAPP", dest, bytes((6, 8, 4, 1, 2, 3, 3)) + b"!", esm=0x40, concat=(258, 3, 3)))
    assert (await match_inbox(db)).waiting == 1
    await store_mo(
        db,
        mo_row("MYAPP", dest, bytes((6, 8, 4, 1, 2, 3, 1)) + b"Hel", esm=0x40, concat=(258, 3, 1)),
        mo_row("MYAPP", dest, bytes((6, 8, 4, 1, 2, 3, 2)) + b"lo", esm=0x40, concat=(258, 3, 2)),
    )
    done = await match_inbox(db)
    assert (done.matched, done.completed) == (1, 0)
    assert await expire_due(db, clock.now + TTL - timedelta(seconds=1)) == []
    assert await expire_due(db, clock.now + TTL) == [sid]
    found = await get_session(db, sid)
    assert found is not None
    view = found[1]
    assert view.status == "expired"
    ee, vodafone = view.results
    assert (ee.status, ee.verdict, ee.body_received, ee.body_matched, ee.sender_received) == (
        "received", "clean", "Hello!", True, "MYAPP")
    assert (vodafone.status, vodafone.verdict, vodafone.latency_ms) == ("expired", "lost", None)
    row = await db.fetchrow("SELECT event, payload, url FROM webhook_outbox")
    assert row is not None and row["event"] == "session.complete" and row["url"] is None
    headers, body = SESSION_COMPLETE_POLICY.request(delivery_id="dlv_1", secret="s", payload=row["payload"], attempt=1)
    payload = msgspec.json.decode(body)
    assert list(payload) == ["event", "session"]
    assert list(payload["session"])[:4] == ["id", "status", "sender_id", "client_ref"]
    assert list(payload["session"]["results"][0])[:3] == ["network", "network_name", "phone_number"]
    assert payload["session"]["status"] == "expired" and payload["session"]["client_ref"] == "deploy-42"
    lines = [line.split(b": ", 1) for line in headers.split(b"\r\n") if line]
    fields = {name: value for name, value in lines}
    assert fields[b"X-SMSProbe-Signature"] == b"sha256=" + sign("s", body).encode()
    assert fields[b"X-SMSProbe-Event"] == b"session.complete" and b"X-SMSProbe-Attempt" not in fields


async def test_overlapping_sessions_are_told_apart_and_a_tie_is_flagged(db: Database) -> None:
    config = preflight_config(networks="""
[[preflight.networks]]
slug = "ee"
name = "EE"
numbers = ["+447700900001"]
""")
    user = await setup(db, config, plan="team")
    clock = Clock()
    first = await create_session(db, user.account_id, NewSession(sender_id="A", expected_body="one"), now=clock(), ttl=TTL)
    clock.advance(1)
    second = await create_session(db, user.account_id, NewSession(sender_id="A", expected_body="two"), now=clock(), ttl=TTL)
    await store_mo(db, mo_row("A", "447700900001", b"two"))
    assert (await match_inbox(db)).completed == 1
    assert (await get_session(db, second))[1].status == "complete"  # type: ignore[index]
    assert (await get_session(db, first))[1].status == "pending"  # type: ignore[index]
    # Two more that cannot be told apart: the oldest takes the MO, flagged.
    clock.advance(1)
    third = await create_session(db, user.account_id, NewSession(sender_id="A"), now=clock(), ttl=TTL)
    await store_mo(db, mo_row("B", "447700900001", b"no code here"))
    assert (await match_inbox(db)).ambiguous == 1
    (result,) = (await get_session(db, first))[1].results  # type: ignore[index]
    assert (result.verdict, result.ambiguous, result.body_matched) == ("intercepted", True, False)
    assert (await get_session(db, third))[1].status == "pending"  # type: ignore[index]


async def test_self_test_sessions_feed_network_health(db: Database) -> None:
    config = preflight_config()
    user = await setup(db, config, plan="team")
    clock = Clock()
    sid = await create_session(db, user.account_id, NewSession(sender_id="A", mode="self_test"), now=clock(), ttl=TTL)
    numbers = await _numbers(db, sid)
    await store_mo(db, mo_row("A", numbers["ee"].lstrip("+"), b"probe"))
    await match_inbox(db)
    await expire_due(db, clock.now + TTL)
    health = {n["slug"]: n for n in (await networks_health(db, clock.now + TTL))["networks"]}
    assert health["ee"]["status"] == "live" and health["ee"]["uptime_24h"] == 100
    assert health["vodafone"]["status"] == "down" and health["vodafone"]["uptime_24h"] == 0
    assert health["ee"]["signal_dbm"] is None and len(health["ee"]["recent_heartbeats"]) == 1
