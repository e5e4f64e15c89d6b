"""`smpp-bridge status MESSAGE_ID`: one message as seed 000's GET /sms/{id} returns it.

A message that failed or is invalid carries ``error`` (a code) and ``reason``
(what it means, in words); see bridge/store/reasons.py.
"""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message_id", metavar="MESSAGE_ID", help="msg_... as returned by send")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import CliError, with_database
    from bridge.store.db import Database
    from bridge.store.models import MessageView, to_json
    from bridge.store.queries import get_message

    async def main(db: Database) -> MessageView | None:
        return await get_message(db, args.message_id)

    view = with_database(args, main)
    if view is None:
        raise CliError(f"not_found: no message {args.message_id}")
    print(to_json(view).decode())
    return 0
