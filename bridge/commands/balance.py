"""`smpp-bridge balance ACCOUNT`: the seed's GET /balance for one account."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account", help="account name")
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")
    parser.add_argument("--json", action="store_true", help="print the GET /balance JSON body")


def run(args: argparse.Namespace) -> int:
    import trio

    from bridge.store.accounts import AccountNotFound, balance
    from bridge.store.connect import ConnectError, configured_dsn
    from bridge.store.db import open_database
    from bridge.store.models import Balance, to_json

    async def main(dsn: str) -> Balance:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await balance(db, args.account)

    try:
        with configured_dsn(args.config, args.dsn) as dsn:
            result = trio.run(main, dsn)
    except (ConnectError, AccountNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(to_json(result).decode())
    else:
        print(f"{args.account}: {result.balance} {result.currency}")
    return 0
