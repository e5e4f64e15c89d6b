"""Expected errors of the console commands: one `error: ...` line saying what to do, exit 2.

Each case runs ``bridge.cli.main`` as the console script does: an exception
escaping it would be a traceback on the operator's terminal, and fails the test.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from bridge.cli import build_parser, main
from bridge.commands import common
from tests.service.helpers import write_config
from tests.store.pg import PgServer, _admin, _new_name

OTP = "Your verification code is 482915"

# One invocation per database command; "{dsn}" is replaced by the DSN under test.
DATABASE_COMMANDS = {
    "migrate": ["migrate", "--dsn", "{dsn}"],
    "balance": ["balance", "acme", "--dsn", "{dsn}"],
    "accounts": ["accounts", "create", "acme", "--dsn", "{dsn}"],
    "status": ["status", "msg_x", "--dsn", "{dsn}"],
    "webhooks": ["webhooks", "show", "--account", "acme", "--dsn", "{dsn}"],
    "send": ["send", "--account", "acme", "--to", "+60123456789", "--message", OTP, "--dsn", "{dsn}"],
}


@pytest.fixture(autouse=True)
def _config_for_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `send` reads routes and rates from the configuration; --dsn gives the database.
    monkeypatch.setenv(common.CONFIG_ENV, str(write_config(tmp_path / "c.toml")))
    monkeypatch.delenv("TEST_BRIDGE_DSN", raising=False)
    monkeypatch.delenv("TEST_BRIDGE_PASSWORD", raising=False)


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _run(template: list[str], dsn: str) -> int:
    return main([arg.replace("{dsn}", dsn) for arg in template])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def empty_dsn_sync(pg_server: PgServer) -> Iterator[str]:
    """A database that exists but was never migrated."""
    name = _new_name()
    trio.run(_admin, pg_server.admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.dsn_for(name)
    finally:
        trio.run(_admin, pg_server.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS))
def test_a_bad_dsn(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    for dsn in ("nonsense://x", "postgresql://u@127.0.0.1:notaport/db"):
        assert _run(DATABASE_COMMANDS[command], dsn) == 2
        assert "DSN is not valid" in _error_line(capsys)


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS))
def test_a_refused_connection(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    assert _run(DATABASE_COMMANDS[command], f"postgresql://postgres@127.0.0.1:{port}/x") == 2
    line = _error_line(capsys)
    assert f"127.0.0.1:{port}" in line and "connection refused" in line and "is the server running" in line


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS))
def test_a_missing_database(command: str, pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(DATABASE_COMMANDS[command], pg_server.dsn_for("sbt_no_such_database")) == 2
    line = _error_line(capsys)
    assert '"sbt_no_such_database" does not exist' in line and "createdb sbt_no_such_database" in line


@pytest.mark.parametrize("command", sorted(set(DATABASE_COMMANDS) - {"migrate"}))
def test_an_unmigrated_database(command: str, empty_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(DATABASE_COMMANDS[command], empty_dsn_sync) == 2
    assert "run `smpp-bridge migrate`" in _error_line(capsys)


def test_a_password_is_never_shown(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    assert main(["balance", "acme", "--dsn", f"postgresql://bridge:s3cret@127.0.0.1:{port}/db"]) == 2
    assert "s3cret" not in _error_line(capsys)


def test_an_empty_account_name(pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "", "--dsn", pg_dsn_sync]) == 2
    assert "account name is empty" in _error_line(capsys)
    assert main(["accounts", "create", "  ", "--dsn", pg_dsn_sync]) == 2
    _error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["accounts", "create", "acme", "--credits", "abc"],
        ["accounts", "create", "acme", "--credits", "NaN"],
        ["accounts", "create", "acme", "--credits", "-1"],
        ["accounts", "topup", "acme", ""],
    ],
)
def test_a_bad_amount(argv: list[str], pg_dsn_sync: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--dsn", pg_dsn_sync]) == 2
    line = _error_line(capsys)
    assert "is not an amount in MYR" in line and "ConversionSyntax" not in line


def test_a_missing_configuration_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["balance", "acme"], ["migrate"], ["status", "msg_x"], ["config", "check"],
                 ["send", "--account", "a", "--to", "+60123456789", "--message", "hi"]):  # fmt: skip
        assert main([*argv, *(["-c"] if argv[0] != "config" else []), str(tmp_path / "nope.toml")]) == 2
        assert "cannot read configuration: No such file" in _error_line(capsys)


def test_a_configuration_that_is_not_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b"\xff\xfe[database]\n")
    assert main(["config", "check", str(config)]) == 2
    assert "not UTF-8" in _error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "dsn"
    secret.write_text("postgresql://x")
    secret.chmod(0o000)
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\ndsn_file = "{secret}"\n')
    assert main(["balance", "acme", "-c", str(config)]) == 2
    assert "cannot read secret file" in _error_line(capsys)


def test_a_secret_file_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Passes the mode check (0700 is the owner's only), then cannot be read: as
    # unreadable for root as a mode-0000 file is for anyone else.
    secret = tmp_path / "secrets"
    secret.mkdir(mode=0o700)
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\ndsn_file = "{secret}"\n')
    assert main(["balance", "acme", "-c", str(config)]) == 2
    assert "cannot read secret file" in _error_line(capsys)


def test_no_configuration_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(common.CONFIG_ENV)
    monkeypatch.setattr(common, "DEFAULT_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["status", "msg_x"]) == 2
    assert "give -c FILE" in _error_line(capsys)
    assert main(["send", "--account", "a", "--to", "+60123456789", "--message", "hi"]) == 2
    assert "routes and rates" in _error_line(capsys)


def test_the_simulator_on_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate", "--port", str(port), "--stats-interval", "0"]) == 2
    line = _error_line(capsys)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "another --port" in line


def test_the_console_script_prints_no_traceback() -> None:
    # The installed entry point, as an operator runs it.
    port = _free_port()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from bridge.cli import main; sys.exit(main())",
         "migrate", "--dsn", f"postgresql://postgres@127.0.0.1:{port}/x"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: cannot connect") and done.stderr.count("\n") == 1, done.stderr


def test_a_bug_still_shows_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.commands import balance

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(balance, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["balance", "acme", "--dsn", "postgresql://x"])


# --- help -----------------------------------------------------------------------------


def _actions(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action, str | None]]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", action, helps.get(name)
                yield from _actions(sub, f"{path} {name}")
            continue
        yield f"{path} {'/'.join(action.option_strings) or action.dest}", action, action.help


def test_every_command_and_argument_has_a_help_line() -> None:
    parser, _ = build_parser()
    seen = list(_actions(parser, "smpp-bridge"))
    assert len(seen) > 60  # the walk reached the sub-commands' arguments
    missing = [where for where, _, help_text in seen if not help_text or help_text == argparse.SUPPRESS]
    assert missing == []
