"""`smpp-bridge preflight run|users|keys|networks` (SMS Preflight, docs/preflight.md).

- ``run --sender-id X``: the self-test now: a session of the ``[preflight] account``
  and one probe per network through the bridge's own routes (the daemon sends them
  and matches what comes back); ``--wait`` follows it to the end and prints the verdicts;
- ``users create ACCOUNT --plan pro --name N --email E``: make an account a preflight user;
- ``keys create ACCOUNT --name NAME``: an ``sp_`` key, printed once;
- ``networks``: GET /api/networks as JSON.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bridge.commands.common import add_database_arguments

if TYPE_CHECKING:
    from bridge.store.db import Database
    from config.schema import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="preflight_action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the self-test now: a probe through every network's route")
    run.add_argument("--sender-id", required=True, help="the sender id the probes are sent from")
    run.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="follow the session this long (the daemon must be running) and print its verdicts")  # fmt: skip
    add_database_arguments(run)
    users = sub.add_parser("users", help="make an account a preflight user (plan and profile)")
    users_sub = users.add_subparsers(dest="users_action", metavar="ACTION", required=True)
    create = users_sub.add_parser("create", help="create or update a preflight user (the account is made if missing)")
    create.add_argument("account", help="account name")
    create.add_argument("--plan", choices=["free", "pro", "team"], required=True, help="the seed's plan")
    create.add_argument("--name", required=True, help="the user's name (GET /api/auth/me)")
    create.add_argument("--email", required=True, help="the user's e-mail address")
    create.add_argument("--company", help="the user's company")
    add_database_arguments(create)
    keys = sub.add_parser("keys", help="create an sp_ key for a preflight user")
    keys_sub = keys.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    key = keys_sub.add_parser("create", help="create a key (printed once)")
    key.add_argument("account", help="a preflight user's account name")
    key.add_argument("--name", required=True, help="what the key is for")
    add_database_arguments(key)
    networks = sub.add_parser("networks", help="the probe networks' health as JSON (GET /api/networks)")
    add_database_arguments(networks)


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import CliError, load, with_database

    action = args.preflight_action
    if action == "run":
        from bridge.logs import configure_logging
        from config.load import Secrets

        config = load(args.config, secrets=Secrets.DATABASE, what=" (with [preflight] networks)").config
        configure_logging(config.logging, stream=sys.stderr)  # stdout is the session's JSON
        if not config.preflight.networks:
            raise CliError("no [[preflight.networks]] in the configuration: nothing to probe")
        return _print(with_database(args, lambda db: _self_test(db, config, args.sender_id, args.wait)))
    if action == "users":
        return _print(with_database(args, lambda db: _user(db, args)))
    if action == "keys":
        token = with_database(args, lambda db: _key(db, args.account, args.name))
        print(token)
        print("shown once: store it now", file=sys.stderr)
        return 0
    return _print(with_database(args, _networks))


def _print(value: object) -> int:
    import msgspec

    print(msgspec.json.format(msgspec.json.encode(value)).decode())
    return 0


async def _self_test(db: Database, config: Config, sender_id: str, wait: float) -> object:
    from datetime import UTC, datetime

    import trio

    from bridge.preflight.selftest import start_self_test
    from bridge.preflight.sessions import get_session

    session_id = await start_self_test(db, config, sender_id=sender_id, now=datetime.now(UTC))
    with trio.move_on_after(wait):
        while wait:
            found = await get_session(db, session_id)
            if found is not None and found[1].status != "pending":
                break
            await trio.sleep(1.0)
    found = await get_session(db, session_id)
    assert found is not None
    return found[1]


async def _user(db: Database, args: argparse.Namespace) -> object:
    from bridge.preflight.users import create_user

    user = await create_user(db, args.account, plan=args.plan, name=args.name, email=args.email,
                             company=args.company)  # fmt: skip
    return {"user": user.as_json(), "plan": user.plan.as_json()}


async def _key(db: Database, account: str, name: str) -> str:
    from bridge.commands.common import CliError
    from bridge.preflight.users import create_key, get_user

    user = await get_user(db, account)
    if user is None:
        raise CliError(f"{account!r} is not a preflight user: `smpp-bridge preflight users create {account} ...` first")
    _, token = await create_key(db, user.account_id, name)
    return token


async def _networks(db: Database) -> object:
    from datetime import UTC, datetime

    from bridge.preflight.networks import networks_health

    return await networks_health(db, datetime.now(UTC))
