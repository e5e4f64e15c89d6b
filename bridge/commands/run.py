"""`smpp-bridge run -c FILE`: the daemon, as systemd runs it (see docs/operations.md)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", required=True, help="configuration file")


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import structlog
    import trio

    from bridge.gc_tuning import tune_gc
    from bridge.logs import configure_logging
    from bridge.notify import Notifier
    from bridge.ops.http import ListenError
    from bridge.service import SchemaError, ServiceOptions, serve
    from bridge.store.connect import ConnectError, database_dsn
    from config.load import ConfigError, load_config

    # Read (and drop) NOTIFY_SOCKET first: the embedded PostgreSQL started
    # below must not inherit it.
    notifier = Notifier.from_environ()
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    if not loaded.config.database.configured:
        # `run` never guesses a database (only `demo` and the tests do).
        return _error(
            f"{args.config}: no database configured: set [database] dsn, dsn_env or dsn_file, "
            "or embedded = true"
        )
    configure_logging(loaded.config.logging)
    log = structlog.get_logger("bridge.run")
    options = ServiceOptions(config_path=Path(args.config), notifier=notifier)
    hooks = loaded.config.webhooks
    if hooks.enabled and hooks.run_in_daemon:
        from bridge.webhooks.sealing import MasterKey, SealError
        from config.load import webhook_master_key

        try:
            key = webhook_master_key(loaded.config)
            options.webhook_master_key = MasterKey.parse(key.reveal()) if key is not None else None
        except (ConfigError, SealError) as exc:
            return _error(f"{args.config}: {exc}")
        options.webhooks = True
    tune_gc()  # after the imports and the configuration: see bridge/gc_tuning.py
    try:
        with database_dsn(loaded) as dsn:
            return trio.run(serve, loaded, dsn, options)
    except (ConnectError, SchemaError, ListenError) as exc:
        return _error(str(exc))
    except Exception as exc:
        # The database unreachable at start-up, a crash in the pipeline: logged
        # with its traceback, exit 1 so systemd's Restart=on-failure applies.
        log.exception("the daemon failed", error=repr(exc))
        return 1
