"""session.complete through the webhook sender: the seed's schedule (now, +30 s, +5 min),
retries on 5xx and no answer only, never on 3xx / 4xx; the session's own URL; signed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio

from bridge.preflight.outcomes import expire_due
from bridge.preflight.sessions import NewSession, create_session
from bridge.preflight.webhook import SESSION_COMPLETE_POLICY
from bridge.store.db import Database
from bridge.webhooks.endpoints import set_endpoint
from bridge.webhooks.policy import sign
from tests.preflight.helpers import Clock, preflight_config, setup
from tests.webhooks.helpers import KEY, FakeClock, outbox, running_sender, wait_rows
from tests.webhooks.receiver import Behaviour, receiver

POLICIES = {SESSION_COMPLETE_POLICY.event: SESSION_COMPLETE_POLICY}


async def _ended_session(db: Database, url: str, *, own_url: str | None = None, plan: str = "pro") -> str:
    """An expired session of a user whose account has an endpoint at ``url``; the secret."""
    user = await setup(db, preflight_config(), plan=plan)
    _, secret = await set_endpoint(db, KEY, account="acme", url=url, require_https=False)
    assert secret is not None
    clock = Clock()
    await create_session(db, user.account_id, NewSession(sender_id="MYAPP", webhook_url=own_url), now=clock(),
                         ttl=timedelta(minutes=5))  # fmt: skip
    await expire_due(db, clock.now + timedelta(minutes=5))
    return secret


async def test_three_attempts_now_30s_5min_then_dead(db: Database) -> None:
    clock = FakeClock()
    async with receiver() as rec:
        rec.routes["/pf"] = Behaviour(status=503)
        secret = await _ended_session(db, rec.url("/pf"))
        async with running_sender(db, clock=clock, policies=POLICIES):
            await rec.wait_for(1)
            for attempt, delay in ((2, 30.0), (3, 300.0)):
                await wait_rows(db, "SELECT attempts = $1 AND claimed_by IS NULL FROM webhook_outbox", attempt - 1)
                clock.advance(delay - 0.001)
                await trio.sleep(0.2)
                assert len(rec.received) == attempt - 1
                clock.advance(0.001)
                await rec.wait_for(attempt)
            await wait_rows(db, "SELECT state = 'dead' FROM webhook_outbox")
            clock.advance(3600)
            await trio.sleep(0.2)
    assert len(rec.received) == 3
    assert len({r.headers["x-smsprobe-delivery"] for r in rec.received}) == 1
    assert all("x-prosignals-attempt" not in r.headers and "x-smsprobe-attempt" not in r.headers for r in rec.received)
    for r in rec.received:
        assert r.headers["x-smsprobe-signature"] == "sha256=" + sign(secret, r.body)


@pytest.mark.parametrize("status", [301, 400, 404, 410])
async def test_3xx_and_4xx_are_never_retried(db: Database, status: int) -> None:
    async with receiver() as rec:
        rec.routes["/pf"] = Behaviour(status=status)
        await _ended_session(db, rec.url("/pf"))
        async with running_sender(db, policies=POLICIES):
            await wait_rows(db, "SELECT state = 'dead' FROM webhook_outbox")
    (row,) = await outbox(db)
    assert (row["attempts"], row["last_status"]) == (1, status)


async def test_no_answer_within_the_timeout_is_retried(db: Database) -> None:
    policy = SESSION_COMPLETE_POLICY.tuned(timeout=0.3)
    async with receiver() as rec:
        rec.routes["/pf"] = Behaviour(status=200, delay=0.6)
        await _ended_session(db, rec.url("/pf"))
        async with running_sender(db, policies={policy.event: policy}):
            await wait_rows(db, "SELECT attempts = 1 AND claimed_by IS NULL FROM webhook_outbox")
    (row,) = await outbox(db)
    assert row["state"] == "pending" and row["last_error"] == "no answer within 0.3s"


async def test_the_sessions_own_url_wins_and_the_secret_stays_the_accounts(db: Database) -> None:
    async with receiver() as rec:
        secret = await _ended_session(db, rec.url("/account"), own_url=rec.url("/session"))
        async with running_sender(db, policies=POLICIES):
            (got,) = await rec.wait_for(1, "/session")
    assert rec.on("/account") == []
    assert got.headers["x-smsprobe-signature"] == "sha256=" + sign(secret, got.body)


async def test_no_webhook_without_an_endpoint_or_on_the_free_plan(db: Database) -> None:
    await _ended_session(db, "https://hooks.example.com/x", plan="free")
    assert await outbox(db) == []
