"""The database's functions as code: ``sql/functions/*.sql`` and ``sql/triggers/*.sql``.

Migrations hold the schema (tables, types, indexes, triggers, data moves); each
function the project defines in PostgreSQL lives in one file of its own, named
after it, holding its current definition as one ``CREATE OR REPLACE FUNCTION``.
``sql/triggers/`` holds the trigger functions (the ``CREATE TRIGGER`` statements
stay in the migrations), ``sql/functions/`` the others. A function's history is
git's.

``migrate`` applies them after the migrations, inside the migration lock and in
one transaction (``apply_functions``):

- a file whose SHA-256 differs from the one recorded in ``schema_functions``, or
  whose function was changed in the database since (its ``pg_get_functiondef``
  no longer hashes to the recorded one), is applied: ``CREATE OR REPLACE`` when
  the signature is unchanged; when it changed (other argument types, another
  result), the function of that name is dropped and the file creates the new one;
- a function recorded in ``schema_functions`` that no file defines any more is
  dropped. Only recorded functions are ever dropped: ``schema_functions`` is
  the list of what the project owns.

Bodies are created with ``check_function_bodies`` off, so the order of the files
does not matter (an SQL function may call one defined in a later file); each
applied function is then validated by its language's validator in the same
transaction. ``run`` and ``api`` refuse a database whose functions are not this
release's (``function_mismatches``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources

import asyncpg

from bridge.store.executor import Executor

__all__ = [
    "FUNCTIONS_TABLE",
    "FunctionFile",
    "FunctionsApplied",
    "FunctionsError",
    "apply_functions",
    "function_mismatches",
    "functions_refusal",
    "load_functions",
]

_KINDS = ("functions", "triggers")
_NAME = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\.sql$")
_CREATE = re.compile(r"^CREATE OR REPLACE FUNCTION (?P<name>[a-z_][a-z0-9_]*)\s*\(", re.MULTILINE)

FUNCTIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_functions (
    name       text PRIMARY KEY,
    signature  text NOT NULL,        -- regprocedure: name(argument types)
    file       text NOT NULL,        -- functions/NAME.sql or triggers/NAME.sql
    checksum   text NOT NULL,        -- SHA-256 of the file
    definition text NOT NULL,        -- md5(pg_get_functiondef) once applied: hand edits show
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class FunctionsError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FunctionFile:
    name: str
    file: str  # relative to bridge/store/sql
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class FunctionsApplied:
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # CREATE OR REPLACE, same signature
    recreated: list[str] = field(default_factory=list)  # signature changed: dropped, created
    dropped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.replaced or self.recreated or self.dropped)


def load_functions() -> list[FunctionFile]:
    """The function files shipped in ``bridge/store/sql``, by name."""
    found: dict[str, FunctionFile] = {}
    root = resources.files("bridge.store").joinpath("sql")
    for kind in _KINDS:
        for entry in root.joinpath(kind).iterdir():
            if not entry.name.endswith(".sql"):
                continue
            match = _NAME.match(entry.name)
            if match is None:
                raise FunctionsError(f"function file {kind}/{entry.name} is not named function_name.sql")
            sql = entry.read_text("utf-8")
            creates = _CREATE.findall(sql)
            if creates != [match["name"]]:
                raise FunctionsError(
                    f"{kind}/{entry.name} must hold one `CREATE OR REPLACE FUNCTION {match['name']}(` "
                    f"at the start of a line (found {creates})"
                )
            if match["name"] in found:
                raise FunctionsError(f"function {match['name']} has two files")
            found[match["name"]] = FunctionFile(match["name"], f"{kind}/{entry.name}", sql)
    return [found[name] for name in sorted(found)]


_RECORDED = """
SELECT f.name, f.signature, f.checksum,
       f.definition IS NOT DISTINCT FROM md5(pg_get_functiondef(to_regprocedure(f.signature))) AS intact
FROM schema_functions f
"""

# Functions of this name in the schema functions are created in (the first of the
# search_path), as regprocedure text.
_NAMED = """
SELECT p.oid::regprocedure::text FROM pg_proc p
WHERE p.proname = $1 AND p.pronamespace = current_schema()::regnamespace
"""

_VALIDATE = """
SELECT l.lanvalidator::regproc::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.oid = to_regprocedure($1) AND l.lanvalidator <> 0
"""

_RECORD = """
INSERT INTO schema_functions (name, signature, file, checksum, definition)
VALUES ($1, $2, $3, $4, md5(pg_get_functiondef(to_regprocedure($2))))
ON CONFLICT (name) DO UPDATE SET signature = EXCLUDED.signature, file = EXCLUDED.file,
    checksum = EXCLUDED.checksum, definition = EXCLUDED.definition, applied_at = now()
"""


async def _drop(tx: Executor, signature: str) -> None:
    try:
        async with tx.transaction():
            await tx.execute(f"DROP FUNCTION IF EXISTS {signature}")
    except asyncpg.DependentObjectsStillExistError as exc:
        raise FunctionsError(
            f"cannot drop {signature}: {exc.detail or exc}; a migration must drop what depends on it first"
        ) from exc


async def _apply_one(tx: Executor, function: FunctionFile, out: FunctionsApplied) -> str:
    """Create or replace one function; returns its signature.

    The functions already named like the file are its earlier versions (recorded or,
    before the first run, created by the migrations): when the signature changed,
    they are dropped.
    """
    before = {r[0] for r in await tx.fetch(_NAMED, function.name)}
    try:
        async with tx.transaction():  # a savepoint: a refused replacement leaves nothing
            await tx.execute(function.sql)
        kind = out.replaced if before else out.created
    except asyncpg.InvalidFunctionDefinitionError:
        # Same argument types, another result or other parameter names: CREATE OR
        # REPLACE refuses (42P13). Drop the old definition, then create.
        if not before:
            raise
        for old in sorted(before):
            await _drop(tx, old)
        await tx.execute(function.sql)
        kind = out.recreated
    after = {r[0] for r in await tx.fetch(_NAMED, function.name)}
    if after - before:
        # Other argument types: the file created a new function beside the old one.
        for old in sorted(before & after):
            await _drop(tx, old)
        after -= before
        if before:
            kind = out.recreated
    if len(after) != 1:
        raise FunctionsError(f"{function.file}: {len(after)} functions are named {function.name}: {sorted(after)}")
    [signature] = after
    kind.append(function.name)
    return str(signature)


async def apply_functions(tx: Executor, functions: list[FunctionFile]) -> FunctionsApplied:
    """Bring the database's functions to ``functions``; ``tx`` is inside a transaction
    and holds the migration lock."""
    out = FunctionsApplied()
    await tx.execute(FUNCTIONS_TABLE)
    await tx.execute("SET LOCAL check_function_bodies = off")
    recorded = {r["name"]: r for r in await tx.fetch(_RECORDED)}
    applied: list[tuple[FunctionFile, str]] = []
    for function in functions:
        row = recorded.get(function.name)
        if row is not None and row["checksum"] == function.checksum and row["intact"]:
            continue
        applied.append((function, await _apply_one(tx, function, out)))
    wanted = {f.name for f in functions}
    for name in sorted(set(recorded) - wanted):
        await _drop(tx, recorded[name]["signature"])
        await tx.execute("DELETE FROM schema_functions WHERE name = $1", name)
        out.dropped.append(name)
    # Every body is there now: check each applied one as CREATE FUNCTION would have.
    await tx.execute("SET LOCAL check_function_bodies = on")
    for function, signature in applied:
        validator = await tx.fetchval(_VALIDATE, signature)
        if validator is not None:
            await tx.execute(f"SELECT {validator}(to_regprocedure($1))", signature)
        await tx.execute(_RECORD, function.name, signature, function.file, function.checksum)
    return out


async def function_mismatches(db: Executor, functions: list[FunctionFile] | None = None) -> list[str]:
    """How the database's functions differ from this release's files (empty: they match)."""
    wanted = {f.name: f for f in (load_functions() if functions is None else functions)}
    if await db.fetchval("SELECT to_regclass('schema_functions')") is None:
        return ["no function of this release was applied (schema_functions is missing)"]
    rows = {r["name"]: r for r in await db.fetch(_RECORDED)}
    problems = [f"{name}: missing" for name in sorted(set(wanted) - set(rows))]
    problems += [f"{name}: not in this release" for name in sorted(set(rows) - set(wanted))]
    for name in sorted(set(wanted) & set(rows)):
        if rows[name]["checksum"] != wanted[name].checksum:
            problems.append(f"{name}: another version ({wanted[name].file} differs)")
        elif not rows[name]["intact"]:
            problems.append(f"{name}: changed in the database since it was applied")
    return problems


async def functions_refusal(db: Executor) -> str | None:
    """Why ``run`` and ``api`` must not start on ``db`` (its functions are not this
    release's), or None."""
    problems = await function_mismatches(db)
    if not problems:
        return None
    more = f"; {len(problems) - 5} more" if len(problems) > 5 else ""
    return (
        f"the database's functions do not match this release ({'; '.join(problems[:5])}{more}): "
        "run `smpp-bridge migrate` first"
    )
