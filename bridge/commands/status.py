"""`smpp-bridge status MESSAGE_ID`: one message as seed 000's GET /sms/{id} returns it."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message_id", metavar="MESSAGE_ID", help="msg_... as returned by send")
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")


def run(args: argparse.Namespace) -> int:
    import trio

    from bridge.store.connect import ConnectError, configured_dsn
    from bridge.store.db import open_database
    from bridge.store.models import MessageView, to_json
    from bridge.store.queries import get_message

    async def main(dsn: str) -> MessageView | None:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await get_message(db, args.message_id)

    try:
        with configured_dsn(args.config, args.dsn) as dsn:
            view = trio.run(main, dsn)
    except ConnectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if view is None:
        print(f"error: not_found: no message {args.message_id}", file=sys.stderr)
        return 2
    print(to_json(view).decode())
    return 0
