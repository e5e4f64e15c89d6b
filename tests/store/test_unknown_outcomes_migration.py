"""Migration 0011: the receipt-text HMAC key, parked receipts stripped of their text,
the `unknown` part state and its index."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from bridge.store.db import Connection, open_connection
from bridge.store.migrate import load_migrations, migrate

OTP = "Your code is 482913"


async def _key(conn: Connection) -> bytes:
    ipad: bytes = await conn.fetchval("SELECT ipad FROM receipt_text_key")
    opad: bytes = await conn.fetchval("SELECT opad FROM receipt_text_key")
    key = bytes(b ^ 0x36 for b in ipad)
    assert key == bytes(b ^ 0x5C for b in opad)  # one key, RFC 2104 pads
    assert key[32:] == bytes(32)  # 32 random bytes, zero-padded to the block
    return key[:32]


@pytest.mark.parametrize("text", ["", "Hi", OTP, "Grüße, 你好 @£$", "x" * 200])
async def test_receipt_text_hmac_is_hmac_sha256_under_the_installation_key(pg_dsn: str, text: str) -> None:
    async with open_connection(pg_dsn) as conn:
        key = await _key(conn)
        got = bytes(await conn.fetchval("SELECT receipt_text_hmac($1)", text))
    assert got == hmac.new(key, text.encode(), hashlib.sha256).digest()


async def test_each_installation_gets_its_own_key(empty_dsn: str, pg_dsn: str) -> None:
    await migrate(empty_dsn)
    async with open_connection(empty_dsn) as a, open_connection(pg_dsn) as b:
        assert await _key(a) != await _key(b)
        assert await a.fetchval("SELECT count(*) FROM receipt_text_key") == 1


@pytest.mark.parametrize("text", [OTP, OTP + " " + "x" * 39_980], ids=["otp", "40000_chars"])
async def test_parked_receipts_lose_their_text_and_keep_its_hmac(empty_dsn: str, text: str) -> None:
    """Of the first 255 characters (RECEIPT_TEXT_PREFIX): a receipt's text is unbounded,
    text_len a smallint."""
    migrations = load_migrations()
    version = next(m.version for m in migrations if m.name == "unknown_outcomes_and_accepted")
    before = [m for m in migrations if m.version < version]
    await migrate(empty_dsn, before)
    receipt = {"id": "77", "state": 2, "stat": "DELIVRD", "text": text, "submit_date_text": "2612071200"}
    raw = f"id:77 sub:001 dlvrd:001 submit date:2612071200 done date:2612071201 stat:DELIVRD err:000 text:{text}"
    async with open_connection(empty_dsn) as conn:
        for table in ("parked_receipts", "unmatched_receipts"):
            extra = ", id" if table == "unmatched_receipts" else ""
            await conn.execute(
                f"INSERT INTO {table} (carrier, id_key, receipt, raw, received_at{extra})"
                f" VALUES ('sim', '77', $1, $2, now(){', 1' if extra else ''})",
                receipt, raw.encode(),
            )  # fmt: skip
    await migrate(empty_dsn)
    async with open_connection(empty_dsn) as conn:
        key = await _key(conn)
        row = await conn.fetchrow("SELECT * FROM parked_receipts")
        moved = await conn.fetchrow("SELECT * FROM unmatched_receipts")
    assert row is not None and moved is not None
    for kept in (row, moved):
        assert OTP not in json.dumps(kept["receipt"]) and kept["raw"] is None
        assert kept["receipt"]["stat"] == "DELIVRD" and kept["receipt"]["text"] is None
    assert bytes(row["text_hmac"]) == hmac.new(key, text[:255].encode(), hashlib.sha256).digest()
    assert row["text_len"] == min(len(text), 255)


async def test_unknown_parts_are_found_through_their_partial_index(pg_dsn: str) -> None:
    async with open_connection(pg_dsn) as conn:
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT * FROM message_parts WHERE state = 'unknown' AND next_attempt_at <= now()"
        ))  # fmt: skip
        order = await conn.fetchval(
            "SELECT array_agg(enumlabel ORDER BY enumsortorder)::text FROM pg_enum"
            " WHERE enumtypid = 'part_state'::regtype"
        )
    assert "message_parts_unknown" in plan
    assert order == "{queued,submitting,submitted,unknown,delivered,failed}"
