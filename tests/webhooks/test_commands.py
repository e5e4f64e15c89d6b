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


def _key(cfg: str, account: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["keys", "create", account, "--name", "shop", "-c", cfg]) == 0
    return capsys.readouterr().out.strip()


def test_a_key_of_the_account_gets_an_endpoint_of_its_own(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], threaded_receiver: Receiver
) -> None:
    cfg = str(_config(tmp_path, pg_dsn_sync))
    for name in ("acme", "other"):
        assert main(["accounts", "create", name, "--credits", "5", "-c", cfg]) == 0
    token, theirs = _key(cfg, "acme", capsys), _key(cfg, "other", capsys)
    prefix = token.split("_")[2][:8]
    # Without an endpoint of its own, the key's events go to the account's.
    assert main(["webhooks", "set", "--account", "acme", threaded_receiver.url("/acme"), "-c", cfg]) == 0
    capsys.readouterr()
    assert main(["webhooks", "show", "--account", "acme", "--key", prefix, "-c", cfg]) == 0
    assert "no URL of its own" in capsys.readouterr().out
    shown = f"psk_live_{prefix}..."  # as `keys list` shows it
    assert main(["webhooks", "set", "--account", "acme", "--key", shown, threaded_receiver.url("/key"), "-c", cfg]) == 0
    secret = re.search(r"secret: (whsec_\S+)", capsys.readouterr().out)
    assert secret is not None
    assert main(["webhooks", "show", "--account", "acme", "-c", cfg]) == 0
    both = capsys.readouterr().out
    assert "/acme" in both and "/key" in both and " key " in both
    assert main(["webhooks", "test", "--account", "acme", "--key", prefix, "-c", cfg]) == 0
    (request,) = threaded_receiver.received
    assert request.target == "/key" and verify([secret.group(1)], request.body, request.headers["x-prosignals-signature"])
    assert main(["webhooks", "rotate-secret", "--account", "acme", "--key", prefix, "-c", cfg]) == 0
    assert "/key" in capsys.readouterr().out
    # Refused: another account's key, an unknown prefix, a revoked key.
    assert main(["webhooks", "set", "--account", "acme", "--key", theirs.split("_")[2][:8], "http://127.0.0.1:9/h",
                 "-c", cfg]) == 2  # fmt: skip
    assert "is not a key of account 'acme'" in _one_error(capsys)
    assert main(["webhooks", "rotate-secret", "--account", "acme", "--key", "zzzzzzzz", "-c", cfg]) == 2
    assert "no API key with prefix 'zzzzzzzz'" in _one_error(capsys)
    assert main(["keys", "revoke", "1", "-c", cfg]) == 0
    capsys.readouterr()
    assert main(["webhooks", "test", "--account", "acme", "--key", prefix, "-c", cfg]) == 2
    assert "is revoked" in _one_error(capsys)


def test_the_schema_ties_a_keys_endpoint_to_a_key_of_the_same_account(pg_dsn_sync: str) -> None:
    import asyncpg
    import trio

    from bridge.store.accounts import create_account
    from bridge.store.db import open_database
    from bridge.store.keys import create_key

    async def main_() -> None:
        async with open_database(pg_dsn_sync, min_size=1, max_size=1) as db:
            await create_account(db, "acme", credits="1")
            await create_account(db, "other", credits="1")
            key, _token = await create_key(db, "other", "x")
            acme = await db.fetchval("SELECT id FROM accounts WHERE name = 'acme'")
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await db.execute(
                    "INSERT INTO webhook_endpoints (account_id, api_key_id, url) VALUES ($1, $2, 'http://x/')",
                    acme, key.id,
                )  # fmt: skip
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await db.execute(
                    "INSERT INTO webhook_endpoints (account_id, api_key_id, url) VALUES ($1, 999999, 'http://x/')",
                    acme,
                )  # fmt: skip

    trio.run(main_)
