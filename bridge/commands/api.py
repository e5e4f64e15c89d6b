"""`smpp-bridge api -c FILE [--listen HOST:PORT]`: the seed 000 REST API process (docs/api.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to serve (default: [api] listen)")
    parser.add_argument(
        "--workers", type=int, metavar="N",
        help="API processes sharing the listening socket (default: [api] workers, 1)",
    )  # fmt: skip
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
    from bridge.gc_tuning import tune_gc
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
            workers = args.workers or config.api.workers
            if workers < 1:
                return _error("--workers must be at least 1")
            # uvicorn handles SIGTERM and SIGINT while it serves, then raises the
            # signal again for the handler that was there before: the default
            # one for SIGTERM would end the parent before it stops its workers.
            signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
            # As the daemon (bridge/gc_tuning.py): a request leaves little behind
            # but its allocations ran a young collection every few requests, and
            # objects frozen before the fork stay shared with the workers.
            tune_gc()
            children = _fork(workers - 1)
            if children is None:  # a forked worker: serve, then leave without cleanup of the parent's
                os._exit(0 if serve(create_app(config, dsn, url=url), config.api, sock) else 1)
            try:
                started = serve(create_app(config, dsn, url=url, notifier=notifier), config.api, sock)
            finally:
                _stop(children)
            if not started:
                log.error("the API did not start")
                return 1
    except ConnectError as exc:
        return _error(str(exc))
    return 0


def _fork(count: int) -> list[int] | None:
    """``count`` more processes serving the same socket (pre-fork, before any event loop).

    Returns the children's pids in the parent, None in a child. Every process
    has its own pool, batcher and caches; the rate limits and revocations hold
    across them through the database (docs/api.md).
    """
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            return None
        children.append(pid)
    return children


def _stop(children: list[int]) -> None:
    """The parent stopped (SIGTERM, SIGINT): stop the workers the same way and wait for them."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
