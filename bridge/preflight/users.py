"""Preflight users (an account with a plan and a profile) and their ``sp_`` keys (runtime-free).

A key lives in ``api_keys`` with product ``preflight``: the SMS API's key parser
accepts only ``psk_`` keys and the preflight API only ``sp_`` ones, and both
compare the row's product, so a key of one product is refused (401) by the
other. The key itself is returned once, by ``create_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from bridge.preflight.ids import new_key, uuid7
from bridge.preflight.plans import PLANS, Plan
from bridge.store.accounts import AccountNotFound, create_account, get_account
from bridge.store.executor import Executor
from bridge.store.keys import digest

__all__ = ["KeyRow", "User", "create_key", "create_user", "get_user", "list_keys", "revoke_key"]

# Polling every 3-5 s (seed 004) while a few sessions run stays far below this.
KEY_REQUESTS_PER_MINUTE = 600


@dataclass(frozen=True, slots=True)
class User:
    account_id: int
    account: str
    public_id: UUID
    plan: Plan
    name: str
    email: str
    company: str | None
    webhook_url: str | None
    has_webhook_secret: bool

    def as_json(self) -> dict[str, Any]:
        """The seed's ``user`` object of GET /auth/me."""
        return {
            "id": str(self.public_id), "name": self.name, "email": self.email, "plan": self.plan.name,
            "company": self.company, "webhook_url": self.webhook_url, "has_webhook_secret": self.has_webhook_secret,
        }  # fmt: skip


_USER = """
SELECT u.account_id, a.name AS account, u.public_id, u.plan, u.name, u.email, u.company,
       e.url AS webhook_url, e.secret_sealed IS NOT NULL AS has_secret
FROM preflight_users u JOIN accounts a ON a.id = u.account_id
LEFT JOIN webhook_endpoints e ON e.account_id = u.account_id AND e.api_key_id IS NULL
"""


def _user(row: Any) -> User:
    return User(
        account_id=row["account_id"], account=row["account"], public_id=row["public_id"], plan=PLANS[row["plan"]],
        name=row["name"], email=row["email"], company=row["company"], webhook_url=row["webhook_url"],
        has_webhook_secret=bool(row["has_secret"]),
    )  # fmt: skip


async def get_user(db: Executor, account: int | str) -> User | None:
    if isinstance(account, int):
        row = await db.fetchrow(_USER + " WHERE u.account_id = $1", account)
    else:
        row = await db.fetchrow(_USER + " WHERE a.name = $1", account)
    return None if row is None else _user(row)


async def create_user(
    db: Executor, account: str, *, plan: str, name: str, email: str, company: str | None = None,
    credits: Decimal = Decimal(0),
) -> User:  # fmt: skip
    """Make ``account`` (created when missing) a preflight user with ``plan``; again: update it."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r} (known: {', '.join(PLANS)})")
    try:
        found = await get_account(db, account)
    except AccountNotFound:
        found = await create_account(db, account, credits=credits)
    await db.execute(
        "INSERT INTO preflight_users (account_id, public_id, plan, name, email, company)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO UPDATE SET plan = EXCLUDED.plan,"
        " name = EXCLUDED.name, email = EXCLUDED.email, company = EXCLUDED.company",
        found.id, uuid7(), plan, name, email, company,
    )  # fmt: skip
    user = await get_user(db, found.id)
    assert user is not None
    return user


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: UUID
    name: str
    last_used_at: datetime | None
    created_at: datetime


async def create_key(
    db: Executor, account_id: int, name: str, *, requests_per_minute: int | None = KEY_REQUESTS_PER_MINUTE
) -> tuple[KeyRow, str]:
    """A new ``sp_`` key: (its row, the key to show once)."""
    for _ in range(5):
        token, prefix = new_key()
        try:
            row = await db.fetchrow(
                "INSERT INTO api_keys (account_id, product, prefix, hash, name, requests_per_minute, public_id)"
                " VALUES ($1, 'preflight', $2, $3, $4, $5, $6) RETURNING public_id, name, last_used_at, created_at",
                account_id, prefix, digest(token), name, requests_per_minute, uuid7(),
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            continue  # an 8-character prefix already taken: draw again
        assert row is not None
        return KeyRow(row["public_id"], row["name"], row["last_used_at"], row["created_at"]), token
    raise RuntimeError("could not draw a key with an unused prefix")  # pragma: no cover


async def list_keys(db: Executor, account_id: int) -> list[KeyRow]:
    rows = await db.fetch(
        "SELECT public_id, name, last_used_at, created_at FROM api_keys"
        " WHERE account_id = $1 AND product = 'preflight' AND revoked_at IS NULL ORDER BY created_at, id",
        account_id,
    )
    return [KeyRow(r["public_id"], r["name"], r["last_used_at"], r["created_at"]) for r in rows]


async def revoke_key(db: Executor, account_id: int, public_id: UUID) -> tuple[str, str | None]:
    """("revoked" | "forbidden" | "missing", the key's prefix when revoked)."""
    row = await db.fetchrow(
        "SELECT account_id, prefix FROM api_keys WHERE public_id = $1 AND product = 'preflight'", public_id
    )
    if row is None:
        return "missing", None
    if row["account_id"] != account_id:
        return "forbidden", None
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE public_id = $1 AND revoked_at IS NULL", public_id)
    return "revoked", row["prefix"]
