"""`smpp-bridge run` refusals, `send` and `status` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from tests.service.helpers import write_config

OTP = "Your verification code is 482915"


def test_run_refuses_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[logging]\nformat = "json"\n')
    assert main(["run", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no database configured" in err and "embedded = true" in err


def test_run_refuses_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[database]\nembedded = true\nprot = 1\n")
    assert main(["run", "-c", str(config)]) == 2
    assert "database.prot" in capsys.readouterr().err


def test_run_refuses_an_unmigrated_database(
    pg_dsn_sync: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import trio

    from bridge.store.db import open_connection

    async def unmigrate() -> None:
        async with open_connection(pg_dsn_sync) as conn:
            await conn.execute("DELETE FROM schema_migrations")

    trio.run(unmigrate)
    monkeypatch.setenv("TEST_BRIDGE_DSN", pg_dsn_sync)
    monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "pw")
    assert main(["run", "-c", str(write_config(tmp_path / "c.toml", port=1))]) == 2
    assert "smpp-bridge migrate" in capsys.readouterr().err


def test_send_then_status(
    pg_dsn_sync: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEST_BRIDGE_DSN", pg_dsn_sync)
    monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "pw")
    config = str(write_config(tmp_path / "c.toml"))
    assert main(["accounts", "create", "acme", "--credits", "10", "-c", config]) == 0
    capsys.readouterr()
    argv = ["send", "--account", "acme", "--to", "+60123456789", "--to", "12345", "--to", "+6591234567",
            "--message", OTP, "--reference", "order-7", "-c", config]  # fmt: skip
    assert main(argv) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is True and body["campaignId"].startswith("camp_") and body["reference"] == "order-7"
    assert body["totals"] == {"accepted": 2, "failed": 0, "invalid": 1}
    assert body["estimatedCost"] == 0.17 and body["currency"] == "MYR"
    by_to = {r["to"]: r for r in body["recipients"]}
    assert by_to["12345"]["status"] == "invalid" and by_to["12345"]["cost"] == 0
    assert by_to["12345"]["error"] == "invalid_number" and "E.164" in by_to["12345"]["reason"]
    assert main(["status", by_to["12345"]["id"], "-c", config]) == 0
    invalid = json.loads(capsys.readouterr().out)
    assert invalid["error"] == "invalid_number" and invalid["reason"] == by_to["12345"]["reason"]
    assert by_to["+60123456789"] == {
        "id": by_to["+60123456789"]["id"], "to": "+60123456789", "status": "pending",
        "carrierRef": None, "cost": 0.05, "country": "MY",
    }  # fmt: skip

    message_id = by_to["+60123456789"]["id"]
    assert main(["status", message_id, "-c", config]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["id"] == message_id and view["status"] == "pending" and view["message"] == OTP
    assert view["charged"] is False and view["campaignId"] == body["campaignId"]
    assert main(["status", message_id, "--dsn", pg_dsn_sync]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == message_id


def test_send_and_status_errors(
    pg_dsn_sync: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEST_BRIDGE_DSN", pg_dsn_sync)
    monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "pw")
    config = str(write_config(tmp_path / "c.toml"))
    assert main(["accounts", "create", "poor", "--credits", "0.01", "-c", config]) == 0
    capsys.readouterr()
    send = ["send", "--account", "poor", "--message", OTP, "-c", config]
    assert main([*send, "--to", "+60123456789"]) == 2
    assert capsys.readouterr().err.startswith("error: insufficient_balance: ")
    assert main([*send, "--to", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: no_valid_recipients: ")
    assert main(["send", "--account", "ghost", "--message", OTP, "--to", "+60123456789", "-c", config]) == 2
    assert capsys.readouterr().err.startswith("error: not_found: ")
    assert main(["status", "msg_doesnotexist", "-c", config]) == 2
    assert "not_found" in capsys.readouterr().err
    assert main(["status", "msg_x"]) == 2
    assert "give -c FILE" in capsys.readouterr().err
