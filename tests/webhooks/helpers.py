"""Webhook test helpers: an account with an endpoint, final messages with outbox rows, a sender."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from bridge.webhooks.client import HttpClient
from bridge.webhooks.endpoints import set_endpoint
from bridge.webhooks.guard import AddressGuard
from bridge.webhooks.policy import POLICIES, DeliveryPolicy
from bridge.webhooks.sealing import MasterKey
from bridge.webhooks.sender import Sender, SenderSettings
from tests.dispatch.harness import MY_NUMBERS, make_config

KEY, KEY_TEXT = MasterKey.generate()
LOCAL = AddressGuard.from_settings(require_https=False, allow_networks=["127.0.0.1/32"])


class FakeClock:
    """Wall-clock time that moves only when told to (the schedule in the table uses it)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Account:
    name: str
    secret: str
    numbers: list[str]


_next_number = iter(range(10**9))


async def account_with_url(db: Database, name: str, url: str, *, credits: str = "100") -> Account:
    await create_account(db, name, credits=credits)
    _info, secret = await set_endpoint(db, KEY, account=name, url=url, require_https=False)
    assert secret is not None
    return Account(name, secret, [])


async def final_messages(
    db: Database, account: str, count: int, *, state: str = "delivered", reference: str | None = "order-1"
) -> list[int]:
    """``count`` messages of ``account`` made final (delivered/failed) through finalize_messages."""
    config = make_config(1)
    ids: list[int] = []
    for start in range(0, count, 100):
        n = min(100, count - start)
        numbers = [MY_NUMBERS[next(_next_number) % len(MY_NUMBERS)] for _ in range(n)]
        result = await enqueue(db, config, account, SendRequest(to=numbers, message="Hi", reference=reference))
        ids += [int(r["id"]) for r in await db.fetch(
            "SELECT id FROM messages WHERE campaign_id = (SELECT id FROM campaigns WHERE public_id = $1)"
            " ORDER BY id", result.campaign_id)]  # fmt: skip
    await db.fetch(
        "SELECT * FROM finalize_messages($1::bigint[], $2::text[], $3::text[], '{}'::bigint[], true, NULL)",
        ids, [state] * len(ids), [None] * len(ids),
    )  # fmt: skip
    return ids


async def outbox(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch("SELECT * FROM webhook_outbox ORDER BY id")]


def fast_settings(**overrides: Any) -> SenderSettings:
    base: dict[str, Any] = {"poll_interval": 0.02, "flush_delay": 0.005}
    base.update(overrides)
    return SenderSettings(**base)


@contextlib.asynccontextmanager
async def running_sender(
    db: Database, *, clock: Any = None, settings: SenderSettings | None = None,
    policies: dict[str, DeliveryPolicy] | None = None, guard: AddressGuard = LOCAL,
    master_key: MasterKey | None = KEY,
) -> AsyncIterator[Sender]:  # fmt: skip
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    sender = Sender(
        db, HttpClient(guard), master_key=master_key, policies=policies or POLICIES,
        settings=settings or fast_settings(), **kwargs,
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(sender.run)
        yield sender
        nursery.cancel_scope.cancel()


async def wait_rows(db: Database, sql: str, *args: Any, limit: float = 10.0) -> None:
    with trio.fail_after(limit):
        while not await db.fetchval(sql, *args):  # noqa: ASYNC110 (state lives in PostgreSQL)
            await trio.sleep(0.02)
