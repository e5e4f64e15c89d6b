"""API keys (seed 000 "Authentication"): made, stored as SHA-256, found by prefix.

A key is ``psk_live_`` or ``psk_test_`` followed by 32 lower-case Crockford
base32 characters: 160 random bits from ``secrets``. The database keeps its
SHA-256 and the first 8 random characters (``prefix``, unique), which find
the row; the API compares digests with ``hmac.compare_digest``. The key itself
is shown once, by ``smpp-bridge keys create``.

Runtime-free: these functions await an ``Executor`` (trio for the console
commands, asyncio for the API process).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from bridge.store.accounts import AccountNotFound, get_account
from bridge.store.executor import Executor

__all__ = [
    "KEY_PATTERN",
    "ApiKey",
    "KeyRecord",
    "Product",
    "create_key",
    "digest",
    "list_keys",
    "lookup_key",
    "new_key",
    "parse_key",
    "revoke_key",
    "touch_keys",
]

Product = Literal["live", "test", "preflight"]  # preflight: `sp_` keys (bridge/preflight)

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, 5 bits a character
_RANDOM_CHARS = 32  # 160 bits
_PREFIX_CHARS = 8
KEY_PATTERN = re.compile(r"psk_(live|test)_([0-9a-hjkmnp-tv-z]{32})")


def new_key(product: Product) -> tuple[str, str]:
    """A fresh key and its prefix."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"psk_{product}_{random_part}", random_part[:_PREFIX_CHARS]


def parse_key(token: str) -> tuple[Product, str] | None:
    """(product, prefix) of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(token)
    if match is None:
        return None
    product: Product = "live" if match.group(1) == "live" else "test"
    return product, match.group(2)[:_PREFIX_CHARS]


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the API needs to authenticate and limit a request."""

    id: int
    account_id: int
    product: Product
    hash: bytes
    requests_per_minute: int | None
    max_recipients: int
    revoked: bool
    # The account's default sender id, read with the key (and as fresh as the
    # API's cached copy of it): the sends of this key need it to be planned.
    default_sender_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as `keys list` shows it (never the key itself)."""

    id: int
    account: str
    product: Product
    prefix: str
    name: str
    requests_per_minute: int | None
    max_recipients: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def shown(self) -> str:
        return f"psk_{self.product}_{self.prefix}..."


_LIST = """
SELECT k.id, a.name AS account, k.product::text, k.prefix, k.name, k.requests_per_minute,
       k.max_recipients, k.created_at, k.last_used_at, k.revoked_at
FROM api_keys k JOIN accounts a ON a.id = k.account_id
"""


async def create_key(
    db: Executor,
    account: str | int,
    name: str,
    *,
    product: Product = "live",
    requests_per_minute: int | None = 60,
    max_recipients: int = 100,
) -> tuple[ApiKey, str]:
    """A new key of ``account``: (its row, the key, to show once)."""
    found = await get_account(db, account)  # AccountNotFound
    for _ in range(5):
        token, prefix = new_key(product)
        try:
            key_id = await db.fetchval(
                "INSERT INTO api_keys (account_id, product, prefix, hash, name, requests_per_minute,"
                " max_recipients) VALUES ($1, $2::api_product, $3, $4, $5, $6, $7) RETURNING id",
                found.id, product, prefix, digest(token), name, requests_per_minute, max_recipients,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            continue  # two keys with one 40-bit prefix: draw again
        row = await db.fetchrow(_LIST + " WHERE k.id = $1", key_id)
        assert row is not None
        return ApiKey(**dict(row)), token
    raise RuntimeError("could not draw a key with an unused prefix")  # pragma: no cover


async def list_keys(db: Executor, account: str | None = None) -> list[ApiKey]:
    if account is None:
        rows = await db.fetch(_LIST + " ORDER BY k.id")
    else:
        rows = await db.fetch(_LIST + " WHERE a.name = $1 ORDER BY k.id", account)
        if not rows:
            await get_account(db, account)  # AccountNotFound for an unknown name
    return [ApiKey(**dict(row)) for row in rows]


async def revoke_key(db: Executor, key_id: int) -> ApiKey:
    """Revoke a key now (again: no change). Every API process refuses it within a second."""
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    row = await db.fetchrow(_LIST + " WHERE k.id = $1", key_id)
    if row is None:
        raise KeyNotFound(f"no API key {key_id}")
    return ApiKey(**dict(row))


class KeyNotFound(LookupError):
    pass


async def lookup_key(db: Executor, prefix: str) -> KeyRecord | None:
    row = await db.fetchrow(
        "SELECT k.id, k.account_id, k.product::text, k.hash, k.requests_per_minute, k.max_recipients,"
        " k.revoked_at IS NOT NULL AS revoked, a.default_sender_id"
        " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.prefix = $1",
        prefix,
    )
    return None if row is None else KeyRecord(**dict(row))


async def touch_keys(db: Executor, key_ids: list[int]) -> None:
    """``last_used_at = now()`` for keys used since the last call (one statement)."""
    if key_ids:
        await db.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::bigint[])", sorted(key_ids)
        )


__all__ += ["AccountNotFound", "KeyNotFound"]
