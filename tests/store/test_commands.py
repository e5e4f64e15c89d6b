"""`smpp-bridge accounts`, `balance` and `migrate` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main


def test_accounts_and_balance(pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "acme", "--credits", "50.00", "--sender", "Acme", "--dsn", pg_dsn_sync]) == 0
    assert "balance 50.0000 MYR" in capsys.readouterr().out
    assert main(["accounts", "topup", "acme", "2.5", "--note", "promo", "--dsn", pg_dsn_sync]) == 0
    assert main(["balance", "acme", "--json", "--dsn", pg_dsn_sync]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(out) == {"balance": 52.5, "currency": "MYR"}
    assert out == '{"balance":52.5000,"currency":"MYR"}'  # exact, like the seed's 42.5000


@pytest.mark.parametrize(
    "argv",
    [
        ["accounts", "create", "acme", "--credits", "0.00001"],
        ["accounts", "topup", "ghost", "1"],
        ["accounts", "topup", "acme", "0"],
        ["accounts", "topup", "acme", "lots"],
        ["balance", "ghost"],
    ],
)
def test_command_errors_exit_2(pg_dsn_sync: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "acme", "--dsn", pg_dsn_sync]) == 0
    assert main([*argv, "--dsn", pg_dsn_sync]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_duplicate_account(pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "acme", "--dsn", pg_dsn_sync]) == 0
    assert main(["accounts", "create", "acme", "--dsn", pg_dsn_sync]) == 2
    assert "exists" in capsys.readouterr().err


def test_commands_read_the_dsn_from_the_config(
    pg_dsn_sync: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[database]\ndsn_env = "TEST_BRIDGE_DSN"\n')
    monkeypatch.setenv("TEST_BRIDGE_DSN", pg_dsn_sync)
    assert main(["migrate", "-c", str(config)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["accounts", "create", "viaconfig", "--credits", "1", "-c", str(config)]) == 0
    monkeypatch.delenv("TEST_BRIDGE_DSN")
    assert main(["balance", "viaconfig", "-c", str(config)]) == 2
    assert "TEST_BRIDGE_DSN is not set" in capsys.readouterr().err
