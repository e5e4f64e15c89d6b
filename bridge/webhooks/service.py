"""The sender from a configuration: inside the daemon, or as `smpp-bridge webhooks run`."""

from __future__ import annotations

import ssl
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import structlog
import trio

from bridge.store.db import Database, open_database
from bridge.webhooks.client import HttpClient
from bridge.webhooks.guard import AddressGuard
from bridge.webhooks.policy import POLICIES, SMS_STATUS, DeliveryPolicy
from bridge.webhooks.sealing import MasterKey
from bridge.webhooks.sender import Sender, SenderSettings
from config.schema import Config

__all__ = ["build_sender", "open_sender_database", "policies_for", "run_sender"]

log = structlog.get_logger("bridge.webhooks")

# The sender's statements (outbox.py) find their rows by index whatever the parameters
# (the claim's due rows by the partial index, everything else by the primary key), so a
# generic plan serves every call. Left to itself PostgreSQL planned the claim anew at
# each call (its custom plan looks cheaper than a generic one with an unknown LIMIT):
# 0.3 ms of a 1.7 ms claim of 100 rows.
_SESSION = {"plan_cache_mode": "force_generic_plan"}


def open_sender_database(dsn: str) -> AbstractAsyncContextManager[Database]:
    """The sender's own small pool: the SMPP pipeline's connections never wait for it."""
    return open_database(dsn, min_size=1, max_size=2, settings=_SESSION)


def policies_for(config: Config) -> dict[str, DeliveryPolicy]:
    hooks = config.webhooks
    sms = SMS_STATUS.tuned(
        delays=tuple(d.seconds for d in hooks.retry_delays), timeout=hooks.timeout.seconds,
        user_agent=hooks.user_agent,
    )  # fmt: skip
    from bridge.preflight.webhook import SESSION_COMPLETE_POLICY

    # seed 004's session.complete keeps its own schedule and headers (docs/preflight.md).
    return {**POLICIES, sms.event: sms, SESSION_COMPLETE_POLICY.event: SESSION_COMPLETE_POLICY}


def build_sender(
    config: Config, db: Database, master_key: MasterKey | None, *,
    ssl_context: ssl.SSLContext | None = None, settings: SenderSettings | None = None,
) -> Sender:  # fmt: skip
    hooks = config.webhooks
    guard = AddressGuard.from_settings(require_https=hooks.require_https, allow_networks=hooks.allow_networks)
    base = settings or SenderSettings()
    # The lease covers a whole request and the time to write its outcome.
    settings = replace(
        base, endpoint_concurrency=hooks.concurrency, retention=hooks.retention.seconds,
        lease=max(base.lease, 3 * hooks.timeout.seconds + 10),
    )  # fmt: skip
    client = HttpClient(guard, ssl_context=ssl_context, max_idle=hooks.concurrency)
    return Sender(db, client, master_key=master_key, policies=policies_for(config), settings=settings)


async def run_sender(
    config: Config, dsn: str, master_key: MasterKey | None, *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:  # fmt: skip
    """A sender with its own small pool: the SMPP pipeline's connections never wait for it.

    Whatever goes wrong in it (the database away at start, a bug) is logged and the
    sender starts again after a pause: inside the daemon it must never stop the SMPP
    pipeline.
    """
    started = False
    while True:
        try:
            async with open_sender_database(dsn) as db:
                sender = build_sender(config, db, master_key)
                if not started:
                    started = True
                    task_status.started()
                await sender.run()
        except Exception as exc:
            log.exception("webhook sender failed: starting again in 5 s", error=repr(exc))
        if not started:
            started = True
            task_status.started()
        await trio.sleep(5.0)
