"""`smpp-bridge migrate -c FILE`: apply the database migrations."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    parser.add_argument("--dsn", help="database DSN (instead of the configuration's)")


def run(args: argparse.Namespace) -> int:
    import trio

    from bridge.store.connect import ConnectError, configured_dsn
    from bridge.store.migrate import MigrationError, migrate

    try:
        with configured_dsn(args.config, args.dsn) as dsn:
            applied = trio.run(migrate, dsn)
    except (ConnectError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0
