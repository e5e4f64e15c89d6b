"""`smpp-bridge accounts create NAME --credits X` / `accounts topup NAME AMOUNT`."""

from __future__ import annotations

import argparse
import sys


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="accounts_action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an account")
    create.add_argument("name")
    create.add_argument("--credits", default="0", help="initial credits in MYR, e.g. 50.00")
    create.add_argument("--sender", help="default sender id of the account")
    _common(create)
    topup = sub.add_parser("topup", help="add credits to an account")
    topup.add_argument("name")
    topup.add_argument("amount", help="MYR, e.g. 25.50")
    topup.add_argument("--note", help="why (kept in the ledger)")
    _common(topup)


def run(args: argparse.Namespace) -> int:
    from decimal import InvalidOperation

    import trio

    from bridge.store.accounts import (
        Account,
        AccountExists,
        AccountNotFound,
        create_account,
        top_up,
    )
    from bridge.store.connect import ConnectError, configured_dsn
    from bridge.store.db import open_database

    async def main(dsn: str) -> Account:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            if args.accounts_action == "create":
                return await create_account(
                    db, args.name, credits=args.credits,
                    default_sender_id=args.sender,
                )  # fmt: skip
            return await top_up(db, args.name, args.amount, note=args.note)

    try:
        with configured_dsn(args.config, args.dsn) as dsn:
            account = trio.run(main, dsn)
    except (ConnectError, AccountExists, AccountNotFound, ValueError, InvalidOperation) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{account.name}: balance {account.balance} MYR (credits {account.credits})")
    return 0
