"""`smpp-bridge keys create ACCOUNT --name NAME` / `keys list` / `keys revoke ID` (docs/api.md)."""

from __future__ import annotations

import argparse
import sys


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("account", help="account name")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--test", action="store_true", help="a psk_test_ key: its sends take [api] test_route")
    limit = create.add_mutually_exclusive_group()
    limit.add_argument("--requests-per-minute", type=int, default=60, metavar="N",
                       help="rate limit of the key (default 60, seed 000)")  # fmt: skip
    limit.add_argument("--no-rate-limit", action="store_true", help="no per-minute limit")
    create.add_argument("--max-recipients", type=int, default=100, metavar="N",
                        help="recipients per call, 1-1000 (default 100, the seed's)")  # fmt: skip
    _common(create)
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("account", nargs="?", help="only this account's keys")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    _common(listing)
    revoke = sub.add_parser("revoke", help="revoke a key: refused by every API process within a second")
    revoke.add_argument("id", type=int, help="key id (see `keys list`)")
    _common(revoke)


def run(args: argparse.Namespace) -> int:
    import asyncpg
    import msgspec
    import trio

    from bridge.store.connect import ConnectError, configured_dsn
    from bridge.store.db import open_database
    from bridge.store.keys import (
        AccountNotFound,
        ApiKey,
        KeyNotFound,
        create_key,
        list_keys,
        revoke_key,
    )

    token: str | None = None

    async def main(dsn: str) -> list[ApiKey]:
        nonlocal token
        async with open_database(dsn, min_size=1, max_size=1) as db:
            if args.keys_action == "create":
                key, token = await create_key(
                    db, args.account, args.name, product="test" if args.test else "live",
                    requests_per_minute=None if args.no_rate_limit else args.requests_per_minute,
                    max_recipients=args.max_recipients,
                )  # fmt: skip
                return [key]
            if args.keys_action == "revoke":
                return [await revoke_key(db, args.id)]
            return await list_keys(db, args.account)

    try:
        with configured_dsn(args.config, args.dsn) as dsn:
            keys = trio.run(main, dsn)
    except (ConnectError, AccountNotFound, KeyNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except asyncpg.CheckViolationError:
        print("error: --requests-per-minute must be positive, --max-recipients 1-1000", file=sys.stderr)
        return 2
    if token is not None:
        key = keys[0]
        print(token)
        print(f"key {key.id} of {key.account} ({key.name}): shown once, store it now", file=sys.stderr)
        return 0
    for key in keys:
        if getattr(args, "json", False):
            print(msgspec.json.encode(_row(key)).decode())
        else:
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            rate = f"{key.requests_per_minute}/min" if key.requests_per_minute else "unlimited"
            print(f"{key.id}\t{key.account}\t{key.shown}\t{key.name}\t{rate}\t{state}")
    return 0


def _row(key: object) -> dict[str, object]:
    from dataclasses import asdict

    row: dict[str, object] = asdict(key)  # type: ignore[call-overload]
    for name in ("created_at", "last_used_at", "revoked_at"):
        moment = row[name]
        if moment is not None:
            row[name] = moment.isoformat()  # type: ignore[attr-defined]
    return row
