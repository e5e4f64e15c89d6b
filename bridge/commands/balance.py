"""`smpp-bridge balance ACCOUNT`: the seed's GET /balance for one account."""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account", help="account name")
    add_database_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the GET /balance JSON body")


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import with_database
    from bridge.store.accounts import balance
    from bridge.store.db import Database
    from bridge.store.models import Balance, to_json

    async def main(db: Database) -> Balance:
        return await balance(db, args.account)

    result = with_database(args, main)
    if args.json:
        print(to_json(result).decode())
    else:
        print(f"{args.account}: {result.balance} {result.currency}")
    return 0
