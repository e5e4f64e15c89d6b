"""`smpp-bridge send --account NAME --to +6012... --message TEXT`: queue a send (seed 000 POST /sms/send).

Prints the seed's 201 body as JSON. The daemon (`smpp-bridge run`) picks the
messages up; `smpp-bridge status MESSAGE_ID` follows one.
"""

from __future__ import annotations

import argparse
import sys


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
    parser.add_argument("-c", "--config", metavar="FILE", required=True,
                        help="configuration file (routes, rates, database)")  # fmt: skip
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")


def run(args: argparse.Namespace) -> int:
    import trio

    from bridge.store.connect import ConnectError, database_dsn
    from bridge.store.db import open_database
    from bridge.store.enqueue import EnqueueError, SendRequest, enqueue
    from bridge.store.models import SendResult, to_json
    from config.load import ConfigError, load_config

    request = SendRequest(
        to=args.to[0] if len(args.to) == 1 else list(args.to),
        message=args.message, sender_id=args.sender_id, reference=args.reference, type=args.type,
    )  # fmt: skip

    async def main(dsn: str) -> SendResult:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await enqueue(db, loaded.config, args.account, request)

    try:
        # Secrets are needed only for the database: a --dsn skips resolving them.
        loaded = load_config(args.config, resolve=not args.dsn)
        if args.dsn:
            result = trio.run(main, args.dsn)
        else:
            with database_dsn(loaded) as dsn:
                result = trio.run(main, dsn)
    except (ConfigError, ConnectError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EnqueueError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(to_json(result).decode())
    return 0
