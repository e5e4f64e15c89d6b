"""`smpp-bridge api -c FILE [--listen HOST:PORT]`: the seed 000 REST API process (docs/api.md)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to serve (default: [api] listen)")
    parser.add_argument(
        "--print-openapi", action="store_true",
        help="print the OpenAPI document this version serves and exit",
    )  # fmt: skip


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.print_openapi:
        from bridge.api.openapi import document_bytes

        sys.stdout.write(document_bytes().decode())
        return 0
    if not args.config:
        return _error("give -c FILE")

    import structlog

    from bridge.api.server import ListenError, bind, check_transport, parse_listen, serve
    from bridge.logs import configure_logging
    from bridge.notify import Notifier
    from bridge.store.connect import ConnectError, database_dsn
    from config.load import ConfigError, load_config

    # Read (and drop) NOTIFY_SOCKET first: an embedded PostgreSQL started below
    # must not inherit it.
    notifier = Notifier.from_environ()
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    config = loaded.config
    configure_logging(config.logging)
    log = structlog.get_logger("bridge.api")
    try:
        host, port = parse_listen(args.listen or config.api.listen)
        tls = check_transport(config.api, host)
        sock = bind(host, port)
    except ListenError as exc:
        return _error(str(exc))
    from bridge.api.app import create_app

    try:
        with database_dsn(loaded) as dsn:
            bound = sock.getsockname()
            url = f"{'https' if tls else 'http'}://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
            if not serve(create_app(config, dsn, url=url, notifier=notifier), config.api, sock):
                log.error("the API did not start")
                return 1
    except ConnectError as exc:
        return _error(str(exc))
    return 0
