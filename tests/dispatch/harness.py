"""A whole system in one trio run: simulator, PostgreSQL database, Daemon(s)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from bridge.dispatch import Daemon
from bridge.simulator import Simulator, SimulatorConfig
from bridge.store.db import Database
from config.load import parse_config
from config.schema import Config

MY_NUMBERS = [f"+6012{n:07d}" for n in range(3_000_000, 3_100_000)]


def make_config(
    port: int, *, carrier: str = "", daemon: str = "", extra: str = "", window: int = 20,
    poll: str = "0.2s", response_timeout: str = "3s", writer_delay: str = "20ms", grace: str = "0s",
) -> Config:
    """Carrier "sim" on the simulator's port; MY numbers route to it; 0.05 MYR a segment.

    ``grace``: the carrier's unknown_outcome_grace. "0s" (the policy at once, as before
    migration 0011) unless a test is about the grace: the default of 1 h would keep
    the unknown outcomes of fault tests pending past their time limits."""
    return parse_config(
        f"""
[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {port}
system_id = "bridge"
window = {window}
tps = 100000
enquire_link_interval = "5s"
response_timeout = "{response_timeout}"
unknown_outcome_grace = "{grace}"
{carrier}
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "udh8"

[[routes]]
country = "MY"
carriers = [{{ carrier = "sim" }}]

[rates.countries]
MY = "0.0500"

[daemon]
heartbeat_interval = "0.3s"
lease = "1.5s"
poll_interval = "{poll}"
writer_delay = "{writer_delay}"
{daemon}
{extra}
""",
        source="test.toml",
    )


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, limit: float = 20.0, every: float = 0.05
) -> None:
    """Poll the database (state lives there, not in an event) until ``predicate`` holds."""
    with trio.fail_after(limit):
        while not await predicate():  # noqa: ASYNC110 (polling PostgreSQL)
            await trio.sleep(every)


async def counts(db: Database) -> dict[str, int]:
    rows = await db.fetch("SELECT state::text, count(*) AS n FROM messages GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


async def all_final(db: Database) -> bool:
    pending: int = await db.fetchval(
        "SELECT count(*) FROM messages WHERE state NOT IN ('delivered', 'failed', 'invalid')"
    )
    return pending == 0


@contextlib.asynccontextmanager
async def simulator(config: SimulatorConfig | None = None) -> AsyncIterator[Simulator]:
    sim = Simulator(config or SimulatorConfig(handset_log=100_000))
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve, "127.0.0.1", 0)
        yield sim
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def daemon(
    config: Config, db: Database, dsn: str, *, name: str = "d1", drain: bool = True, **kw: Any
) -> AsyncIterator[Daemon]:
    kw.setdefault("sweep_interval", 0.5)
    kw.setdefault("db_timeout", 2.0)
    d = Daemon(config, db, dsn=dsn, passwords={"sim": "pw"}, instance_name=name, **kw)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        yield d
        if drain:
            await d.drain(5.0)
        else:
            nursery.cancel_scope.cancel()


async def add_webhook_url(db: Database, account: str = "acme", url: str = "https://example.invalid/hook") -> None:
    """Give ``account`` a webhook URL: outbox rows are written only for such accounts."""
    await db.execute(
        "INSERT INTO webhook_endpoints (account_id, url) SELECT id, $2 FROM accounts WHERE name = $1", account, url
    )
