"""Versioned SQL migrations: ``migrations/NNNN_name.sql`` applied in order.

- ``schema_migrations`` records each applied version with the SHA-256 of its
  file; a file edited after it was applied is an error, not a silent drift.
- Each migration runs in its own transaction together with its
  ``schema_migrations`` row: it is applied completely or not at all.
- A session advisory lock serialises migrators: two daemons (or a daemon and
  an operator) starting at once cannot apply the same file twice; the second
  waits, then finds nothing to do. Re-running is a no-op.
- A database with versions this program does not know (a newer release
  migrated it) is refused rather than run against.
- Then, under the same lock and in one transaction, the functions of
  ``sql/functions`` and ``sql/triggers`` are brought to this release's files
  (``bridge.store.functions``): migrations hold the schema, the files the code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources

import trio

from bridge.store.db import Connection, open_connection
from bridge.store.functions import (
    FunctionFile,
    FunctionsApplied,
    FunctionsError,
    apply_functions,
    load_functions,
)

__all__ = [
    "MIGRATE_LOCK",
    "Migrated",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "load_migrations",
    "migrate",
]

# pg_advisory_lock key: b"smppmigr" as a signed 64-bit integer.
MIGRATE_LOCK = int.from_bytes(b"smppmigr", "big", signed=True)

_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Migrated:
    """What one run applied."""

    migrations: list[Migration]
    functions: FunctionsApplied


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations() -> list[Migration]:
    """The migrations shipped in ``bridge/store/migrations``, in version order."""
    found: list[Migration] = []
    for entry in resources.files("bridge.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"migration file {entry.name} is not named NNNN_name.sql")
            continue
        found.append(Migration(int(match["version"]), match["name"], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration versions must be 1, 2, 3, ...: found {migration.version} at {expected}")
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    conn: Connection,
    migrations: list[Migration] | None = None,
    functions: list[FunctionFile] | None = None,
) -> Migrated:
    """Apply what is missing on ``conn`` (a dedicated connection); returns what was applied.

    By default every migration and function file of this release. Given an explicit
    list of ``migrations`` (a database as an older release left it, in tests),
    function files are applied only when ``functions`` is given as well: a
    function of this release may need the schema of its last migration.
    """
    if migrations is None:
        wanted = load_migrations()
        if functions is None:
            functions = load_functions()
    else:
        wanted = migrations
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
    try:
        await conn.execute(_BOOKKEEPING)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {row["version"]: row for row in rows}
        known = {m.version for m in wanted}
        newer = sorted(set(done) - known)
        if newer:
            raise MigrationError(
                f"the database has migrations {newer} this version does not know: "
                "it was migrated by a newer smpp-bridge"
            )
        applied: list[Migration] = []
        for migration in wanted:
            row = done.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; add a new migration instead of editing an old one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )  # fmt: skip
            applied.append(migration)
        changed = FunctionsApplied()
        if functions is not None:
            try:
                async with conn.transaction():
                    changed = await apply_functions(conn, functions)
            except FunctionsError as exc:
                raise MigrationError(str(exc)) from exc
        return Migrated(applied, changed)
    finally:
        with trio.CancelScope(shield=True):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)


async def migrate(
    dsn: str, migrations: list[Migration] | None = None, functions: list[FunctionFile] | None = None
) -> Migrated:
    """Open a dedicated connection to ``dsn`` and apply the missing migrations and functions."""
    async with open_connection(dsn) as conn:
        return await apply_migrations(conn, migrations, functions)
