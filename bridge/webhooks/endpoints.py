"""Webhook endpoints: set a URL, show, rotate the secret (per account, or per API key).

The secret is made here, sealed under the master key (bridge/webhooks/sealing.py)
and returned once, for the operator to hand to the customer; only its hint
(``whsec_...abcd``) is shown afterwards. Rotation replaces it at once: the
sender reads the sealed secret with every claim, so the next attempt is signed
with the new one (a receiver overlaps the two with ``verify([new, old], ...)``).

Per API key (seed 000 hangs the URL and secret on the key): an endpoint with
``api_key_id`` set receives the events of that key's sends; the account's
(``api_key_id`` NULL) receives the others. ``webhook_endpoint_for()`` in SQL is
the one place that says so. ``find_key`` turns the prefix an operator types
(``--key``) into the key's id, refusing a revoked key or another account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.store.db import Connection, Database
from bridge.store.executor import Executor
from bridge.webhooks.client import parse_url
from bridge.webhooks.guard import AddressGuard
from bridge.webhooks.sealing import MasterKey, new_secret, secret_hint

__all__ = [
    "EndpointError", "EndpointInfo", "endpoints_of", "find_key", "resolve_endpoint", "rotate_secret", "set_endpoint",
]  # fmt: skip


class EndpointError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    id: int
    account: str
    api_key_id: int | None
    url: str
    secret_hint: str | None
    secret_key_id: str | None
    secret_rotated_at: datetime | None


async def _account_id(conn: Executor, account: str) -> int:
    account_id = await conn.fetchval("SELECT id FROM accounts WHERE name = $1", account)
    if account_id is None:
        raise EndpointError(f"no account named {account!r}")
    return int(account_id)


def _key_prefix(text: str) -> str:
    """``psk_live_abcdefgh...``, ``psk_live_abcdefgh`` or ``abcdefgh`` (as `keys list` shows a key)."""
    prefix = text.strip().rstrip(".").rsplit("_", 1)[-1][:8].lower()
    if len(prefix) != 8:
        raise EndpointError(f"--key {text!r} is not a key prefix: give the 8 characters after psk_live_ (`keys list`)")
    return prefix


async def find_key(conn: Executor, account: str, key: str) -> int:
    """The id of the live API key of ``account`` whose prefix ``key`` gives."""
    account_id = await _account_id(conn, account)
    prefix = _key_prefix(key)
    row = await conn.fetchrow(
        "SELECT k.id, k.account_id, a.name AS account, k.revoked_at FROM api_keys k"
        " JOIN accounts a ON a.id = k.account_id WHERE k.prefix = $1", prefix,
    )  # fmt: skip
    if row is None:
        raise EndpointError(f"no API key with prefix {prefix!r}: see `smpp-bridge keys list {account}`")
    if row["account_id"] != account_id:
        raise EndpointError(f"API key {prefix!r} is not a key of account {account!r}")
    if row["revoked_at"] is not None:
        raise EndpointError(f"API key {prefix!r} is revoked ({row['revoked_at']:%Y-%m-%d %H:%M}); its sends are refused")
    return int(row["id"])


def check_url(url: str, *, require_https: bool) -> None:
    origin, _target = parse_url(url)
    AddressGuard(require_https=require_https).check_scheme(origin.scheme)


async def _seal_new(conn: Connection, key: MasterKey, endpoint_id: int) -> str:
    secret = new_secret()
    await conn.execute(
        "UPDATE webhook_endpoints SET secret_sealed = $2, secret_key_id = $3, secret_hint = $4,"
        " secret_rotated_at = now(), updated_at = now() WHERE id = $1",
        endpoint_id, key.seal(endpoint_id, secret), key.key_id, secret_hint(secret),
    )  # fmt: skip
    return secret


async def set_endpoint(
    db: Database, key: MasterKey, *, account: str, url: str, require_https: bool = True, api_key: str | None = None
) -> tuple[EndpointInfo, str | None]:
    """Set the URL of the account (or of its key ``api_key``, a prefix); a new endpoint
    (or one without a secret) gets a secret, returned once."""
    check_url(url, require_https=require_https)
    async with db.transaction() as tx:
        account_id = await _account_id(tx, account)
        key_id = None if api_key is None else await find_key(tx, account, api_key)
        conflict = "(account_id) WHERE api_key_id IS NULL" if key_id is None else "(api_key_id) WHERE api_key_id IS NOT NULL"
        row = await tx.fetchrow(
            "INSERT INTO webhook_endpoints (account_id, api_key_id, url) VALUES ($1, $2, $3)"
            f" ON CONFLICT {conflict} DO UPDATE SET url = EXCLUDED.url, updated_at = now()"
            " RETURNING id, secret_sealed IS NULL AS unsealed",
            account_id, key_id, url,
        )  # fmt: skip
        assert row is not None
        secret = await _seal_new(tx, key, row["id"]) if row["unsealed"] else None
    info = await resolve_endpoint(db, account=account, api_key_id=key_id)
    assert info is not None
    return info, secret


async def rotate_secret(
    db: Database, key: MasterKey, *, account: str, api_key: str | None = None
) -> tuple[EndpointInfo, str]:
    """A new secret for the endpoint of the account (or of its key), in force for the very next attempt."""
    async with db.transaction() as tx:
        account_id = await _account_id(tx, account)
        key_id = None if api_key is None else await find_key(tx, account, api_key)
        endpoint_id = await tx.fetchval(
            "SELECT id FROM webhook_endpoints WHERE account_id = $1 AND api_key_id IS NOT DISTINCT FROM $2 FOR UPDATE",
            account_id, key_id,
        )  # fmt: skip
        if endpoint_id is None:
            owner = f"account {account!r}" if key_id is None else f"API key {api_key!r} of {account!r}"
            raise EndpointError(f"{owner} has no webhook URL of its own: `smpp-bridge webhooks set` first")
        secret = await _seal_new(tx, key, endpoint_id)
    info = await resolve_endpoint(db, account=account, api_key_id=key_id)
    assert info is not None
    return info, secret


_INFO = """
SELECT e.id, a.name AS account, e.api_key_id, e.url, e.secret_hint, e.secret_key_id, e.secret_rotated_at
FROM webhook_endpoints e JOIN accounts a ON a.id = e.account_id
"""


def _info(row: object) -> EndpointInfo:
    r = row  # asyncpg Record
    return EndpointInfo(
        id=r["id"], account=r["account"], api_key_id=r["api_key_id"], url=r["url"],  # type: ignore[index]
        secret_hint=r["secret_hint"], secret_key_id=r["secret_key_id"],  # type: ignore[index]
        secret_rotated_at=r["secret_rotated_at"],  # type: ignore[index]
    )


async def resolve_endpoint(db: Database, *, account: str, api_key_id: int | None = None) -> EndpointInfo | None:
    """The endpoint an event of (account, key) goes to: webhook_endpoint_for() in SQL."""
    row = await db.fetchrow(
        _INFO + " WHERE e.id = webhook_endpoint_for((SELECT id FROM accounts WHERE name = $1), $2)",
        account, api_key_id,
    )  # fmt: skip
    return None if row is None else _info(row)


async def endpoints_of(db: Database, *, account: str) -> list[EndpointInfo]:
    rows = await db.fetch(_INFO + " WHERE a.name = $1 ORDER BY e.api_key_id NULLS FIRST", account)
    return [_info(r) for r in rows]
