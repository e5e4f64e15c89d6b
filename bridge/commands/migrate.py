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
        done = run_database(dsn, migrate)
    for migration in done.migrations:
        print(f"applied {migration.version:04d}_{migration.name}")
    functions = done.functions
    for verb, names in (("created", functions.created), ("replaced", functions.replaced),
                        ("dropped and created (new signature)", functions.recreated),
                        ("dropped", functions.dropped)):  # fmt: skip
        for name in names:
            print(f"function {name}: {verb}")
    if not done.migrations and not functions:
        print("database is up to date")
    return 0
