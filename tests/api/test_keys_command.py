"""`smpp-bridge keys create / list / revoke` and what the database keeps of a key."""

from __future__ import annotations

import hashlib
import json

import pytest
import trio

from bridge.cli import main
from bridge.store.db import open_database
from bridge.store.keys import KEY_PATTERN, new_key, parse_key


def _sql(dsn: str, sql: str, *args: object) -> object:
    async def run() -> object:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await db.fetchrow(sql, *args)

    return trio.run(run)


def test_keys_are_160_random_bits_and_parse_back() -> None:
    keys = {new_key("live")[0] for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert KEY_PATTERN.fullmatch(key) and len(key) == len("psk_live_") + 32  # 32 x 5 bits
        assert parse_key(key) == ("live", key[9:17])
    assert parse_key("psk_test_" + "0" * 32) == ("test", "0" * 8)
    for bad in ("psk_live_" + "0" * 31, "psk_prod_" + "0" * 32, "psk_live_" + "I" * 32, "psk_live_" + "u" * 32):
        assert parse_key(bad) is None


def test_create_list_revoke(pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "acme", "--credits", "10", "--dsn", pg_dsn_sync]) == 0
    capsys.readouterr()
    assert main(["keys", "create", "acme", "--name", "shop", "--dsn", pg_dsn_sync]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert KEY_PATTERN.fullmatch(key) and key.startswith("psk_live_")
    assert "shown once" in out.err
    row = _sql(pg_dsn_sync, "SELECT * FROM api_keys")
    assert row is not None
    # only the digest and the prefix are stored, never the key
    assert bytes(row["hash"]) == hashlib.sha256(key.encode()).digest()  # type: ignore[index]
    assert row["prefix"] == key[9:17] and row["requests_per_minute"] == 60  # type: ignore[index]
    assert key not in json.dumps({k: str(v) for k, v in dict(row).items()})  # type: ignore[call-overload]

    assert main(["keys", "create", "acme", "--name", "ci", "--test", "--no-rate-limit", "--dsn", pg_dsn_sync]) == 0
    test_key = capsys.readouterr().out.strip()
    assert test_key.startswith("psk_test_")

    assert main(["keys", "list", "--json", "--dsn", pg_dsn_sync]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(k["name"], k["product"], k["requests_per_minute"], k["revoked_at"]) for k in listed] == [
        ("shop", "live", 60, None), ("ci", "test", None, None),
    ]  # fmt: skip
    assert key not in json.dumps(listed) and test_key not in json.dumps(listed)

    assert main(["keys", "revoke", str(listed[0]["id"]), "--dsn", pg_dsn_sync]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "acme", "--dsn", pg_dsn_sync]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "revoked" in lines[0] and "active" in lines[1] and "..." in lines[0]


def test_errors(pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "nobody", "--name", "x", "--dsn", pg_dsn_sync]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["keys", "revoke", "999", "--dsn", pg_dsn_sync]) == 2
    assert "no API key 999" in capsys.readouterr().err
    assert main(["accounts", "create", "acme", "--dsn", pg_dsn_sync]) == 0
    assert main(["keys", "create", "acme", "--name", "x", "--max-recipients", "1001", "--dsn", pg_dsn_sync]) == 2
    assert "max-recipients" in capsys.readouterr().err
