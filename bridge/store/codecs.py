"""Per-connection setup shared by both executors (trio ``db`` and asyncio ``aio``)."""

from __future__ import annotations

import asyncpg
import msgspec

__all__ = ["SERVER_SETTINGS", "init_connection", "no_reset"]

_json_encoder = msgspec.json.Encoder(decimal_format="number")

SERVER_SETTINGS = {"application_name": "smpp-bridge"}


async def init_connection(raw: asyncpg.Connection) -> None:
    # json/jsonb through msgspec: one codec for the whole project (money as numbers).
    for type_name in ("json", "jsonb"):
        await raw.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=lambda value: _json_encoder.encode(value).decode(),
            decoder=msgspec.json.decode,
            format="text",
        )


async def no_reset(_raw: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to a pool (both executors' pools).

    asyncpg's default reset (advisory unlocks, CLOSE ALL, UNLISTEN, RESET ALL) is
    one more round trip per borrow, awaited before the call that borrowed the
    connection returns: about a fifth of a single-recipient send's statements in
    the API, and in the daemon a second round trip after every claim and flush
    (the claimer waited for it before its next claim). Pooled connections leave
    no session state behind: session advisory locks and LISTEN go on a dedicated
    connection (``open_connection``, ``listen``), settings are ``SET LOCAL``,
    advisory locks ``pg_advisory_xact_lock``, and an open transaction is rolled
    back by asyncpg at release whatever the reset.
    """
