"""Per-connection setup shared by both executors (trio ``db`` and asyncio ``aio``)."""

from __future__ import annotations

import asyncpg
import msgspec

__all__ = ["SERVER_SETTINGS", "init_connection"]

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
