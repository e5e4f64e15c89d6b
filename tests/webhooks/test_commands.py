"""`smpp-bridge webhooks set|show|rotate-secret|test`, and commands that need no webhook secret."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.webhooks import verify
from tests.webhooks.helpers import KEY_TEXT
from tests.webhooks.receiver import Receiver


def _config(tmp: Path, dsn: str, *, key: bool = True) -> Path:
    key_file = tmp / "webhook.key"
    key_file.write_text(KEY_TEXT + "\n")
    os.chmod(key_file, 0o600)
    cfg = tmp / "bridge.toml"
    master = f'master_key_file = "{key_file}"' if key else 'master_key_env = "SMPP_BRIDGE_TEST_UNSET_KEY"'
    cfg.write_text(f"""
[database]
dsn = "{dsn}"

[webhooks]
enabled = false
{master}
require_https = false
allow_networks = ["127.0.0.1/32"]
""")
    return cfg


def test_set_show_rotate_and_test(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], threaded_receiver: Receiver
) -> None:
    cfg = str(_config(tmp_path, pg_dsn_sync))
    assert main(["accounts", "create", "acme", "--credits", "5", "-c", cfg]) == 0
    capsys.readouterr()
    url = threaded_receiver.url()
    assert main(["webhooks", "set", "--account", "acme", url, "-c", cfg]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"secret: (whsec_\S+)", out)
    assert secret is not None and len(secret.group(1)) >= 6 + 43
    assert main(["webhooks", "show", "--account", "acme", "--dsn", pg_dsn_sync]) == 0
    shown = capsys.readouterr().out
    assert url in shown and secret.group(1) not in shown and secret.group(1)[-4:] in shown
    # A new URL keeps the secret.
    assert main(["webhooks", "set", "--account", "acme", url + "?v=2", "-c", cfg]) == 0
    assert "secret:" not in capsys.readouterr().out
    assert main(["webhooks", "rotate-secret", "--account", "acme", "-c", cfg]) == 0
    new = re.search(r"secret: (whsec_\S+)", capsys.readouterr().out)
    assert new is not None and new.group(1) != secret.group(1)
    assert main(["webhooks", "test", "--account", "acme", "-c", cfg]) == 0
    assert "HTTP 200: delivered" in capsys.readouterr().out
    (request,) = threaded_receiver.received
    assert request.headers["x-prosignals-event"] == "webhook.test" and request.target == "/hook?v=2"
    assert verify([new.group(1)], request.body, request.headers["x-prosignals-signature"])


def test_commands_that_sign_nothing_ask_for_no_webhook_key(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(_config(tmp_path, pg_dsn_sync, key=False))  # the key's variable is not set
    assert main(["migrate", "-c", cfg]) == 0
    assert main(["accounts", "create", "acme", "--credits", "5", "-c", cfg]) == 0
    assert main(["balance", "acme", "-c", cfg]) == 0
    assert main(["webhooks", "show", "--account", "acme", "-c", cfg]) == 0
    assert "no webhook URL" in capsys.readouterr().out
    # The commands that seal or sign say what is missing.
    assert main(["webhooks", "set", "--account", "acme", "http://127.0.0.1:9/h", "-c", cfg]) == 2
    assert "SMPP_BRIDGE_TEST_UNSET_KEY" in capsys.readouterr().err
    assert main(["webhooks", "set", "--account", "acme", "http://127.0.0.1:9/h", "--key", "psk_live_x",
                 "-c", cfg]) == 2  # fmt: skip
    assert "api_keys" in capsys.readouterr().err


def test_the_configuration_comes_from_the_environment_like_the_other_commands(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.commands import common

    monkeypatch.setenv(common.CONFIG_ENV, str(_config(tmp_path, pg_dsn_sync)))
    assert main(["accounts", "create", "acme", "--credits", "5"]) == 0
    assert main(["webhooks", "set", "--account", "acme", "http://127.0.0.1:9/h"]) == 0
    assert "secret: whsec_" in capsys.readouterr().out
    assert main(["webhooks", "show", "--account", "acme"]) == 0
    assert "http://127.0.0.1:9/h" in capsys.readouterr().out


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_expected_errors_are_one_line_and_exit_2(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.commands import common

    monkeypatch.delenv(common.CONFIG_ENV, raising=False)
    monkeypatch.setattr(common, "DEFAULT_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["webhooks", "rotate-secret", "--account", "acme"]) == 2
    assert "give -c FILE" in _one_error(capsys)
    cfg = str(_config(tmp_path, pg_dsn_sync))
    assert main(["webhooks", "set", "--account", "nobody", "http://127.0.0.1:9/h", "-c", cfg]) == 2
    assert "no account named 'nobody'" in _one_error(capsys)
    assert main(["accounts", "create", "acme", "--credits", "5", "-c", cfg]) == 0
    assert main(["webhooks", "set", "--account", "acme", "ftp://127.0.0.1/h", "-c", cfg]) == 2
    assert "https://" in _one_error(capsys)
    assert main(["webhooks", "test", "--account", "acme", "-c", cfg]) == 2
    assert "no webhook URL" in _one_error(capsys)
    assert main(["webhooks", "run", "-c", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read configuration" in _one_error(capsys)
