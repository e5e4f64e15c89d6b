"""Preflight test helpers: a configuration with probe networks, users, MO rows through the writer's statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.dispatch.apply import Applied, apply_mo
from bridge.dispatch.inbound import MoRow
from bridge.preflight.networks import sync_networks
from bridge.preflight.users import User, create_user
from bridge.store.db import Database
from config.load import parse_config
from config.schema import Config

NETWORKS = """
[[preflight.networks]]
slug = "ee"
name = "EE"
numbers = ["+447700900001", "+447700900002"]
carrier = "sim"

[[preflight.networks]]
slug = "vodafone"
name = "Vodafone"
numbers = ["+447700900011"]
carrier = "sim"
"""


def preflight_config(networks: str = NETWORKS, extra: str = "") -> Config:
    return parse_config(
        f"""
[[carriers]]
name = "sim"
host = "127.0.0.1"
port = 2775
system_id = "bridge"
{networks}
{extra}
""",
        source="test.toml",
    )


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def setup(db: Database, config: Config, *, plan: str = "pro", account: str = "acme") -> User:
    await sync_networks(db, config.preflight)
    return await create_user(db, account, plan=plan, name="Jane Smith", email="jane@example.com", company="Acme Ltd")


def mo_row(source: str, destination: str, text: bytes, *, ton: int = 5, esm: int = 0, coding: int = 0,
           concat: tuple[int, int, int] | None = None) -> MoRow:  # fmt: skip
    ref, total, seq = concat if concat else (None, None, None)
    return MoRow(
        carrier="sim", source=source, source_ton=ton, source_npi=0, destination=destination, dest_ton=1,
        dest_npi=1, esm_class=esm, data_coding=coding, body=None, raw=text, concat_ref=ref, concat_seq=seq,
        concat_total=total,
    )  # fmt: skip


async def store_mo(db: Database, *rows: MoRow) -> None:
    """As the daemon's writer stores MO (the same statement)."""
    await apply_mo(db, list(rows), Applied())
