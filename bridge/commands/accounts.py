"""`smpp-bridge accounts create NAME --credits X` / `accounts topup NAME AMOUNT`."""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="accounts_action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an account", description="create an account")
    create.add_argument("name", help="account name (not empty; unique)")
    create.add_argument("--credits", default="0", help="initial credits in MYR, e.g. 50.00 (default 0)")
    create.add_argument("--sender", help="default sender id of the account")
    add_database_arguments(create)
    topup = sub.add_parser("topup", help="add credits to an account", description="add credits to an account")
    topup.add_argument("name", help="account name")
    topup.add_argument("amount", help="MYR, e.g. 25.50")
    topup.add_argument("--note", help="why (kept in the ledger)")
    add_database_arguments(topup)


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import CliError, parse_money, with_database
    from bridge.store.accounts import Account, create_account, top_up
    from bridge.store.db import Database

    if not args.name.strip():
        raise CliError("the account name is empty; give a name such as acme")
    if args.accounts_action == "create":
        parse_money(args.credits, "--credits")
    else:
        parse_money(args.amount, "amount")

    async def main(db: Database) -> Account:
        if args.accounts_action == "create":
            return await create_account(
                db, args.name, credits=args.credits,
                default_sender_id=args.sender,
            )  # fmt: skip
        return await top_up(db, args.name, args.amount, note=args.note)

    try:
        account = with_database(args, main)
    except ValueError as exc:  # an amount the store refuses (zero top-up, too large)
        raise CliError(str(exc)) from None
    print(f"{account.name}: balance {account.balance} MYR (credits {account.credits})")
    return 0
