"""`smpp-bridge send --account NAME --to +6012... --message TEXT`: queue a send (seed 000 POST /sms/send).

Prints the seed's 201 body as JSON; a recipient that will not be sent has
``error`` and ``reason`` saying why. The daemon (`smpp-bridge run`) picks the
messages up; `smpp-bridge status MESSAGE_ID` follows one. The routes, rates
and carriers come from the configuration file (the daemon's); the database
from ``--dsn`` or that file.
"""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", required=True, help="account name")
    parser.add_argument(
        "--to", action="append", required=True, metavar="NUMBER",
        help="recipient in E.164 (+60123456789); repeat for up to 100",
    )  # fmt: skip
    parser.add_argument("--message", required=True, help="the text (GSM-7 or Unicode)")
    parser.add_argument("--sender-id", help="sender id (alphanumeric, number or short code)")
    parser.add_argument("--reference", help="your reference, echoed back")
    parser.add_argument(
        "--type", choices=("otp", "marketing", "transactional"),
        help="message type (default: classified from the text, as seed 000 says)",
    )  # fmt: skip
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import contextlib

    from bridge.commands.common import load, run_database
    from bridge.store.connect import database_dsn
    from bridge.store.db import open_database
    from bridge.store.enqueue import SendRequest, enqueue
    from bridge.store.models import SendResult, to_json
    from config.load import Secrets

    request = SendRequest(
        to=args.to[0] if len(args.to) == 1 else list(args.to),
        message=args.message, sender_id=args.sender_id, reference=args.reference, type=args.type,
    )  # fmt: skip
    # The routes and rates are in the configuration; of its secrets only the
    # database's is used, and none with --dsn.
    loaded = load(
        args.config, secrets=None if args.dsn else Secrets.DATABASE,
        what=" (the daemon's: send needs its routes and rates)",
    )  # fmt: skip

    async def main(dsn: str) -> SendResult:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await enqueue(db, loaded.config, args.account, request)

    with contextlib.ExitStack() as stack:
        dsn = args.dsn or stack.enter_context(database_dsn(loaded))
        result = run_database(dsn, main)
    print(to_json(result).decode())
    return 0
