"""The self-test: the bridge sends a probe through its own routes to every probe number.

A session of mode ``self_test`` belongs to the ``[preflight] account`` (made a
``team`` user if it is not one yet), and each of its networks gets one SMS queued
like any other send: routed by the network's ``route`` (else by its number),
segmented, priced and charged to that account. The MO that comes back is
matched as any other (matcher.py); its latency is measured from the probe's
submit_sm (message_parts.submitted_at), not from the session's creation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import structlog

from bridge.preflight.sessions import NewSession, create_session
from bridge.preflight.users import create_user, get_user
from bridge.store.db import Database
from bridge.store.enqueue import EnqueueError, enqueue_many
from bridge.store.plan import SendRequest
from bridge.store.routing import FixedRoute, RouteTable
from config.schema import Config

__all__ = ["SelfTestError", "start_self_test"]

log = structlog.get_logger("bridge.preflight.selftest")


class SelfTestError(Exception):
    pass


async def start_self_test(db: Database, config: Config, *, sender_id: str, now: datetime) -> UUID:
    """Create the session and queue its probes; returns the session id."""
    preflight = config.preflight
    if preflight.account is None:
        raise SelfTestError("[preflight] account is not set: the self-test's probes are charged to it")
    user = await get_user(db, preflight.account)
    if user is None:
        user = await create_user(db, preflight.account, plan="team", name="Self-test", email="self-test@localhost")
    body_template = preflight.self_test_body
    ttl = timedelta(seconds=preflight.session_ttl.seconds)
    session_id = await create_session(
        db, user.account_id, NewSession(sender_id=sender_id, mode="self_test"), now=now, ttl=ttl
    )
    row = await db.fetchrow("SELECT test_code FROM preflight_sessions WHERE id = $1", session_id)
    assert row is not None
    body = body_template.replace("{code}", row["test_code"])
    await db.execute("UPDATE preflight_sessions SET expected_body = $2 WHERE id = $1", session_id, body)
    results = await db.fetch("SELECT network, digits FROM preflight_results WHERE session_id = $1", session_id)
    routes = {r.name: r for r in config.routes if r.name}
    by_slug = {n.slug: n for n in preflight.networks}
    default = RouteTable(config)
    for result in results:
        network = by_slug.get(result["network"])
        table = default
        if network is not None and network.route is not None and network.route in routes:
            table = FixedRoute(config, routes[network.route])
        try:
            (sent,) = await enqueue_many(
                db, config, user.account_id,
                [SendRequest(to="+" + result["digits"], message=body, sender_id=sender_id)], routes=table,
            )  # fmt: skip
        except EnqueueError as exc:
            log.error("self-test probe not queued", network=result["network"], error=exc.message)
            continue
        recipient = sent.recipients[0]
        await db.execute(
            "UPDATE preflight_results SET probe_message_id = (SELECT id FROM messages WHERE public_id = $3)"
            " WHERE session_id = $1 AND network = $2",
            session_id, result["network"], recipient.id,
        )  # fmt: skip
    log.info("self-test started", session=str(session_id), networks=len(results))
    return session_id
