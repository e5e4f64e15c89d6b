"""Commands ask only for the secrets they use, with the example configuration as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.commands import common
from config.load import example_text

OTP = "Your verification code is 482915"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The example configuration; of its secrets only the DSN's variable is set."""
    for name in ("MAXIS_SMPP_PASSWORD", "GLOBAL_SMPP_PASSWORD", "SMPP_BRIDGE_WEBHOOK_SECRET", common.CONFIG_ENV):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "smpp-bridge.toml"
    path.write_text(example_text())
    return str(path)


def test_database_commands_need_only_the_dsn(
    example: str, pg_dsn_sync: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMPP_BRIDGE_DSN", pg_dsn_sync)
    assert main(["migrate", "-c", example]) == 0
    assert main(["accounts", "create", "acme", "--credits", "5", "-c", example]) == 0
    assert main(["accounts", "topup", "acme", "1", "-c", example]) == 0
    assert main(["balance", "acme", "-c", example]) == 0
    assert main(["send", "--account", "acme", "--to", "+60123456789", "--message", OTP, "-c", example]) == 0
    message_id = json.loads(capsys.readouterr().out.splitlines()[-1])["recipients"][0]["id"]
    assert main(["status", message_id, "-c", example]) == 0
    assert capsys.readouterr().err == ""


def test_send_takes_dsn_without_c(
    example: str, pg_dsn_sync: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Neither the DSN's variable nor -c: --dsn, and the routes from $SMPP_BRIDGE_CONFIG.
    monkeypatch.delenv("SMPP_BRIDGE_DSN", raising=False)
    monkeypatch.setenv(common.CONFIG_ENV, example)
    assert main(["accounts", "create", "acme", "--credits", "5", "--dsn", pg_dsn_sync]) == 0
    argv = ["send", "--account", "acme", "--to", "+60123456789", "--message", OTP, "--dsn", pg_dsn_sync]
    assert main(argv) == 0
    body = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert body["totals"] == {"accepted": 1, "failed": 0, "invalid": 0}
