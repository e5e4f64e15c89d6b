"""`smpp-bridge migrate -c FILE`: apply the database migrations."""

from __future__ import annotations

import argparse

from bridge.commands.common import add_database_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import database_dsn_of, run_database
    from bridge.store.migrate import migrate

    with database_dsn_of(args) as dsn:
        applied = run_database(dsn, migrate)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0
