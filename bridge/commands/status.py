"""`smpp-bridge status [MESSAGE_ID]`.

With an id: one message as seed 000's GET /sms/{id} returns it. A message that
failed or is invalid carries ``error`` (a code) and ``reason`` (what it means, in
words); see bridge/store/reasons.py.

Without: the running daemon's carriers, binds, rates and queue, from its
``/health`` endpoint (``[daemon] metrics_listen`` of the configuration, or
``--url``; several ``--url`` for several instances), as tables; ``--watch``
prints them again every few seconds.
"""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message_id", metavar="MESSAGE_ID", nargs="?",
                        help="msg_... as returned by send (without: the daemon's carriers and queue)")  # fmt: skip
    add_database_arguments(parser)
    parser.add_argument("--url", action="append", metavar="URL",
                        help="a daemon's status endpoint, e.g. http://127.0.0.1:9187 (repeatable; "
                        "default: [daemon] metrics_listen)")  # fmt: skip
    parser.add_argument("--watch", nargs="?", const=2.0, type=float, metavar="SECONDS",
                        help="refresh every SECONDS (default 2) until Ctrl-C")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.message_id is None:
        return _daemon_status(args)
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


def _urls(args: argparse.Namespace) -> list[str]:
    from bridge.commands.common import CliError, load

    if args.url:
        return [u.rstrip("/") for u in args.url]
    listen = load(args.config, what=" or --url URL").config.daemon.metrics_listen
    if not listen:
        raise CliError("the daemon serves no status endpoint: set [daemon] metrics_listen, or give --url URL")
    from bridge.ops.http import parse_address

    host, port = parse_address(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # listening everywhere: ask locally
    return [f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"]


def _fetch(url: str) -> dict[str, object]:
    import json
    import urllib.error
    import urllib.request

    from bridge.commands.common import CliError

    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as resp:
            data: dict[str, object] = json.loads(resp.read())
            return data
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot read {url}/health: {reason}; is the daemon running with metrics_listen?") from None


def _daemon_status(args: argparse.Namespace) -> int:
    import sys
    import time

    from bridge.ops.table import render_table

    urls = _urls(args)
    while True:
        text = "\n".join(render_table(_fetch(url)) for url in urls)
        if args.watch:
            sys.stdout.write("\x1b[H\x1b[2J" if sys.stdout.isatty() else "\n")
        sys.stdout.write(text)
        sys.stdout.flush()
        if not args.watch:
            return 0
        time.sleep(max(0.2, args.watch))
