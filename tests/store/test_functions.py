"""Database functions as files (bridge/store/functions.py): migrate applies them, run refuses drift."""

from __future__ import annotations

import re

import pytest

from bridge.service import SchemaError, check_functions
from bridge.store.db import Connection, open_connection
from bridge.store.functions import FunctionFile, function_mismatches, load_functions
from bridge.store.migrate import MigrationError, load_migrations, migrate


def _with(name: str, sql: str) -> list[FunctionFile]:
    """This release's files, with ``name``'s replaced by ``sql``."""
    return [FunctionFile(f.name, f.file, sql) if f.name == name else f for f in load_functions()]


def _without(name: str) -> list[FunctionFile]:
    return [f for f in load_functions() if f.name != name]


async def _definitions(conn: Connection, name: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT pg_get_functiondef(oid) FROM pg_proc WHERE proname = $1 AND pronamespace = 'public'::regnamespace",
        name,
    )
    return [r[0] for r in rows]


def test_every_file_holds_its_own_function() -> None:
    functions = load_functions()
    assert {f.file.split("/")[0] for f in functions} == {"functions", "triggers"}
    for function in functions:
        assert function.file.endswith(f"/{function.name}.sql")
        assert re.search(
            rf"^CREATE OR REPLACE FUNCTION {function.name}\(", function.sql, re.MULTILINE
        )
    # Trigger functions sit in triggers/, the others in functions/.
    for function in functions:
        returns_trigger = "RETURNS trigger" in function.sql
        assert returns_trigger == function.file.startswith("triggers/"), function.file


async def test_a_migrated_database_has_this_releases_functions(pg_dsn: str) -> None:
    async with open_connection(pg_dsn) as conn:
        assert await function_mismatches(conn) == []
        recorded = {r[0] for r in await conn.fetch("SELECT name FROM schema_functions")}
    assert recorded == {f.name for f in load_functions()}


async def test_a_changed_file_is_applied_again_then_nothing(pg_dsn: str) -> None:
    old = next(f for f in load_functions() if f.name == "receipt_text_hmac")
    changed = _with(old.name, old.sql.replace("SELECT sha256(", "SELECT /* changed */ sha256("))
    async with open_connection(pg_dsn) as conn:
        assert await function_mismatches(conn, changed) == [
            "receipt_text_hmac: another version (functions/receipt_text_hmac.sql differs)"
        ]
    done = await migrate(pg_dsn, functions=changed)
    assert done.migrations == [] and done.functions.replaced == ["receipt_text_hmac"]
    assert not (done.functions.created or done.functions.recreated or done.functions.dropped)
    async with open_connection(pg_dsn) as conn:
        [definition] = await _definitions(conn, "receipt_text_hmac")
        assert "/* changed */" in definition
        assert await function_mismatches(conn, changed) == []
        assert await function_mismatches(conn) != []  # the release's file is another version now
    assert not (await migrate(pg_dsn, functions=changed)).functions


async def test_a_new_signature_replaces_the_old_function(pg_dsn: str) -> None:
    # Other argument types: CREATE OR REPLACE would leave an overload beside the old one.
    more_args = _with(
        "webhook_endpoint_for",
        """
CREATE OR REPLACE FUNCTION webhook_endpoint_for(p_account bigint, p_key bigint, p_spare integer)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM webhook_endpoints_for(p_account, p_key)
$$;
""",
    )
    done = await migrate(pg_dsn, functions=more_args)
    assert done.functions.recreated == ["webhook_endpoint_for"]
    async with open_connection(pg_dsn) as conn:
        [definition] = await _definitions(conn, "webhook_endpoint_for")
        assert "p_spare integer" in definition
    # Another result type with the same arguments: CREATE OR REPLACE refuses it.
    other_result = _with(
        "receipt_text_hmac",
        """
CREATE OR REPLACE FUNCTION receipt_text_hmac(p_text text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(k.opad || sha256(k.ipad || convert_to(p_text, 'UTF8'))), 'hex') FROM receipt_text_key k
$$;
""",
    )
    done = await migrate(pg_dsn, functions=other_result)
    # webhook_endpoint_for goes back to this release's file: its signature changes again.
    assert done.functions.recreated == ["receipt_text_hmac", "webhook_endpoint_for"]
    async with open_connection(pg_dsn) as conn:
        assert await conn.fetchval("SELECT pg_typeof(receipt_text_hmac('x'))::text") == "text"
        assert (
            await conn.fetchval(
                "SELECT signature FROM schema_functions WHERE name = 'receipt_text_hmac'"
            )
            == "receipt_text_hmac(text)"
        )


async def test_a_function_no_file_defines_is_dropped_and_only_ours(pg_dsn: str) -> None:
    extra = FunctionFile(
        "sbt_extra",
        "functions/sbt_extra.sql",
        "CREATE OR REPLACE FUNCTION sbt_extra() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n",
    )
    assert (await migrate(pg_dsn, functions=[*load_functions(), extra])).functions.created == [
        "sbt_extra"
    ]
    async with open_connection(pg_dsn) as conn:
        # An operator's own function is not the project's: never dropped.
        await conn.execute(
            "CREATE FUNCTION operator_own() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$"
        )
    done = await migrate(pg_dsn)
    assert done.functions.dropped == ["sbt_extra"]
    async with open_connection(pg_dsn) as conn:
        assert await conn.fetchval("SELECT to_regprocedure('sbt_extra()')") is None
        assert await conn.fetchval("SELECT operator_own()") == 2
        assert await function_mismatches(conn) == []


async def test_a_trigger_function_still_in_use_is_not_dropped(pg_dsn: str) -> None:
    with pytest.raises(MigrationError, match="cannot drop ledger_append_only"):
        await migrate(pg_dsn, functions=_without("ledger_append_only"))
    async with open_connection(pg_dsn) as conn:  # all or nothing
        assert await function_mismatches(conn) == []


async def test_a_function_edited_in_the_database_is_refused_then_restored(pg_dsn: str) -> None:
    async with open_connection(pg_dsn) as conn:
        await conn.execute(
            "CREATE OR REPLACE FUNCTION webhook_endpoint_for(p_account bigint, p_key bigint) RETURNS bigint"
            " LANGUAGE sql STABLE AS $$ SELECT NULL::bigint $$"
        )
        assert await function_mismatches(conn) == [
            "webhook_endpoint_for: changed in the database since it was applied"
        ]
        with pytest.raises(SchemaError, match="run `smpp-bridge migrate`"):
            await check_functions(conn)
    assert (await migrate(pg_dsn)).functions.replaced == ["webhook_endpoint_for"]
    async with open_connection(pg_dsn) as conn:
        await check_functions(conn)


async def test_a_body_that_does_not_compile_leaves_nothing(pg_dsn: str) -> None:
    broken = _with(
        "receipt_text_hmac",
        "CREATE OR REPLACE FUNCTION receipt_text_hmac(p_text text) RETURNS bytea"
        " LANGUAGE sql STABLE AS $$ SELECT no_such_column FROM receipt_text_key $$;\n",
    )
    with pytest.raises(Exception, match="no_such_column"):
        await migrate(pg_dsn, functions=broken)
    async with open_connection(pg_dsn) as conn:
        assert await function_mismatches(conn) == []


async def test_an_older_release_database_gets_the_files_after_its_migrations(
    empty_dsn: str,
) -> None:
    migrations = load_migrations()
    await migrate(empty_dsn, migrations[:-1])  # as a release before the last migration left it
    async with open_connection(empty_dsn) as conn:
        assert await function_mismatches(conn) != []
    done = await migrate(empty_dsn)
    assert [m.version for m in done.migrations] == [migrations[-1].version]
    # Every file is applied: over the function a migration made (replaced, or recreated
    # where the file changed its signature), or new (cancelled_on_return, claim_parts: no
    # migration made them).
    applied = done.functions.replaced + done.functions.recreated + done.functions.created
    assert sorted(applied) == sorted(f.name for f in load_functions())
    assert done.functions.created == ["cancelled_on_return", "claim_parts"] and not done.functions.dropped
    assert {"apply_flush", "settle_messages"} <= set(done.functions.recreated)
    async with open_connection(empty_dsn) as conn:
        await check_functions(conn)
        # A function with no file that only a migration made is dropped by a migration
        # (migration 0026), since migrate drops only what it recorded.
        assert await conn.fetchval("SELECT to_regproc('part_of_failed_message_is_cancelled')") is None


async def test_a_first_run_replaces_a_migration_made_function_whose_signature_changed(empty_dsn: str) -> None:
    # A database the migrations alone made (as the releases before function files left
    # it), upgraded straight to a release whose file changed the function's arguments.
    await migrate(empty_dsn, load_migrations())
    more_args = _with("webhook_endpoint_for", """
CREATE OR REPLACE FUNCTION webhook_endpoint_for(p_account bigint, p_key bigint, p_spare integer)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM webhook_endpoints_for(p_account, p_key)
$$;
""")
    done = await migrate(empty_dsn, functions=more_args)
    # The migrations made the old signatures of apply_flush and settle_messages too;
    # cancelled_on_return and claim_parts no migration made.
    assert done.functions.recreated == ["apply_flush", "settle_messages", "webhook_endpoint_for"]
    assert done.functions.created == ["cancelled_on_return", "claim_parts"]
    assert len(done.functions.replaced) == len(more_args) - 5
    async with open_connection(empty_dsn) as conn:
        [definition] = await _definitions(conn, "webhook_endpoint_for")
        assert "p_spare integer" in definition
        assert await function_mismatches(conn, more_args) == []
