"""Each command resolves only the secrets it uses; the webhook master key is read apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.load import ConfigError, Secret, Secrets, example_text, load_config, webhook_master_key

DSN_ONLY = {"SMPP_BRIDGE_DSN": "postgresql://u:pw@db/x"}


def _example(tmp_path: Path, replace: tuple[str, str] = ("", "")) -> Path:
    path = tmp_path / "smpp-bridge.toml"
    path.write_text(example_text().replace(*replace))
    return path


def test_the_database_alone_needs_no_carrier_password_nor_webhook_secret(tmp_path: Path) -> None:
    # The example names MAXIS_SMPP_PASSWORD, GLOBAL_SMPP_PASSWORD, a celcom password
    # file that does not exist, and SMPP_BRIDGE_WEBHOOK_KEY: none is asked for.
    loaded = load_config(_example(tmp_path), secrets=Secrets.DATABASE, environ=DSN_ONLY)
    assert loaded.database_dsn == Secret(DSN_ONLY["SMPP_BRIDGE_DSN"])
    assert loaded.carrier_passwords == {} and not hasattr(loaded, "webhook_secret")


def test_run_still_needs_every_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAXIS_SMPP_PASSWORD is not set"):
        load_config(_example(tmp_path), environ=DSN_ONLY)


def test_carriers_alone_need_no_database(tmp_path: Path) -> None:
    pw = tmp_path / "celcom.pw"
    pw.write_text("c")
    pw.chmod(0o600)
    path = _example(tmp_path, ("/etc/smpp-bridge/celcom.password", str(pw)))
    env = {"MAXIS_SMPP_PASSWORD": "m", "GLOBAL_SMPP_PASSWORD": "g"}
    loaded = load_config(path, secrets=Secrets.CARRIERS, environ=env)
    assert loaded.database_dsn is None and set(loaded.carrier_passwords) == {"maxis", "celcom", "global"}


def test_the_webhook_master_key_is_read_apart_and_only_when_asked(tmp_path: Path) -> None:
    path = _example(tmp_path)
    env = dict(DSN_ONLY, MAXIS_SMPP_PASSWORD="m", GLOBAL_SMPP_PASSWORD="g")
    text = path.read_text().replace('password_file = "/etc/smpp-bridge/celcom.password"', 'password_env = "C"')
    path.write_text(text)
    loaded = load_config(path, environ=dict(env, C="c"))  # everything `run` resolves: no webhook key
    assert not hasattr(loaded, "webhook_secret")
    with pytest.raises(ConfigError, match="SMPP_BRIDGE_WEBHOOK_KEY is not set"):
        webhook_master_key(loaded.config, environ=env)
    key = webhook_master_key(loaded.config, environ=dict(env, SMPP_BRIDGE_WEBHOOK_KEY="k"))
    assert key == Secret("k")
