"""Configuration: the example validates, every error names its key and line."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.cli import main
from config.load import (
    ConfigError,
    example_text,
    load_config,
    locate_key,
    parse_config,
    read_secret_file,
)
from config.schema import Duration
from dlr import IdForm, MessageState, Status

EXAMPLE = example_text()


def _line_of(text: str, needle: str) -> int:
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in text")


def test_example_is_complete_and_valid() -> None:
    cfg = parse_config(EXAMPLE, source="example.toml")
    assert {c.name for c in cfg.carriers} == {"maxis", "celcom", "global"}
    maxis = cfg.carrier("maxis")
    assert maxis.receipt_timeout == Duration(72 * 3600)
    assert maxis.status_overrides == {"ACCEPTED": "sent"}
    assert maxis.status_table()[MessageState.ACCEPTED] is Status.SENT
    assert cfg.carrier("celcom").status_table()[MessageState.ACCEPTED] is Status.PENDING
    assert maxis.response_id_form is IdForm.HEX and maxis.receipt_id_form is IdForm.DECIMAL
    assert cfg.rates.rate_for("MY") == Decimal("0.0500")
    assert cfg.rates.rate_for("FR") == Decimal("0.2000")
    assert cfg.database.dsn_env == "SMPP_BRIDGE_DSN"
    # Every top-level table of the schema appears in the example.
    for table in ("database", "carriers", "routes", "rates", "senders", "classify",
                  "logging", "webhooks", "daemon"):  # fmt: skip
        assert re.search(rf"^\[\[?{table}[\].]", EXAMPLE, re.M), table


def test_cli_example_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "example"]) == 0
    printed = capsys.readouterr().out
    assert printed == EXAMPLE
    path = tmp_path / "c.toml"
    path.write_text(printed)
    assert main(["config", "check", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    path.write_text(printed.replace("window = 20", "window = 0"))
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "carriers[1].window" in err
    assert f"c.toml:{_line_of(printed, 'window = 20')}:" in err


def test_defaults_follow_the_issue() -> None:
    cfg = parse_config('[[carriers]]\nname = "a"\nhost = "h"\nsystem_id = "s"\n')
    carrier = cfg.carriers[0]
    assert carrier.receipt_timeout.seconds == 72 * 3600
    assert carrier.on_receipt_timeout == "failed"
    assert carrier.max_attempts == 5
    assert carrier.max_age.seconds == 600
    # docs/outcomes.md "Unknown outcome", "ACCEPTED" (migration 0011)
    assert carrier.unknown_outcome_grace.seconds == 3600 and carrier.accepted_timeout.seconds == 3600
    assert carrier.receipt_time_zone == "UTC"
    assert carrier.port == 2775
    assert carrier.segmentation.concat == "udh8"
    assert not cfg.database.configured


# (text to replace, replacement, expected key, a substring of the line the error must point at)
MUTATIONS = [
    ("port = 3550", "port = 99999", "carriers[1].port", "port = 99999"),
    ("port = 3550", 'port = "x"', "carriers[1].port", 'port = "x"'),
    ("port = 3550", "prot = 3550", "carriers[1].prot", "prot = 3550"),
    ('bind_mode = "trx"  ', 'bind_mode = "xx"  ', "carriers[0].bind_mode", 'bind_mode = "xx"'),
    ('{ mode = "rx", count = 1 }]\nsystem_id', '{ mode = "xx", count = 1 }]\nsystem_id', "carriers[2].binds[1].mode", '"xx"'),
    ('[{ mode = "tx", count = 2 }, { mode = "rx", count = 1 }]\nsystem_id', '[{ mode = "tx", count = 0 }]\nsystem_id', "carriers[2].binds[0].count", "count = 0"),
    ('[{ mode = "tx", count = 2 }, { mode = "rx", count = 1 }]\nsystem_id', '[{ mode = "tx", cuont = 2 }]\nsystem_id', "carriers[2].binds[0].cuont", "cuont"),
    ('receipt_timeout = "48h"', 'receipt_timeout = "48x"', "carriers[1].receipt_timeout", "48x"),
    ('system_id = "psig"', 'system_id = "a-very-long-system-id"', "carriers[2].system_id", "a-very-long"),
    ('name = "celcom"\n', "", "carriers[1].name", "[[carriers]]"),
    # msgspec does not name the key of a bad dict value: the table is named.
    ('MY = "0.0500"', "MY = 0.05", "rates.countries", "[rates.countries]"),
    ('MY = "0.0500"', 'MY = "0.00001"', "rates.countries", "[rates.countries]"),
    ('max_parts = 10                  #', "max_parts = 0 #", "carriers[0].segmentation.max_parts", "max_parts = 0"),
    ('{ carrier = "celcom", weight = 1 }', '{ carrier = "nope" }', "routes[0].carriers[1].carrier", "nope"),
    ('failover = []', 'failover = ["ghost"]', "routes[0].failover[0]", "ghost"),
    ('country = "SG"', 'country = "sg"', "routes[1].country", 'country = "sg"'),
    ('level = "info"', 'level = "loud"', "logging.level", "loud"),
    ('name = "global"', 'name = "maxis"', "carriers[2].name", 'name = "maxis"'),
    ('status_overrides = { ACCEPTED = "sent" }', 'status_overrides = { ACCEPTD = "sent" }', "carriers[0]", "[[carriers]]"),
    ('status_overrides = { ACCEPTED = "sent" }', 'status_overrides = { ACCEPTED = "ok" }', "carriers[0].status_overrides", "ACCEPTED"),
    ('response_id_form = "hex"', 'response_id_form = "base64"', "carriers[0].response_id_form", "base64"),
    ('shift_tables = []               #', 'shift_tables = ["xx"] #', "carriers[0].segmentation", "[carriers.segmentation]"),
    ('concat = "sar"', 'concat = "udh7"', "carriers[2].segmentation.concat", "udh7"),
    ('"0x45" = "retry"', '"0x45" = "later"', "carriers[0].status_actions", "later"),
    ('"0x45" = "retry"', 'ESME_RNOPE = "retry"', "carriers[0]", "[[carriers]]"),
    ('"0x45" = "retry"', '"0" = "retry"', "carriers[0]", "[[carriers]]"),
    ('"0x45" = "retry"', 'ESME_ROK = "retry"', "carriers[0]", "[[carriers]]"),
    ('# metrics_listen = "127.0.0.1:9464"', 'metrics_listen = "localhost:99999"', "daemon", "[daemon]"),
    ('# metrics_listen = "127.0.0.1:9464"', 'metrics_listen = "127.0.0.1:http"', "daemon", "[daemon]"),
    ('listen = "127.0.0.1:8080"', 'listen = "[::1:8080"', "api", "[api]"),
    ('listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:"', "api", "[api]"),
]


@pytest.mark.parametrize(("old", "new", "key", "line_text"), MUTATIONS)
def test_errors_name_key_and_line(old: str, new: str, key: str, line_text: str) -> None:
    assert old in EXAMPLE
    text = EXAMPLE.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="f.toml")
    err = info.value
    assert err.key == key, str(err)
    assert err.line is not None, str(err)
    assert line_text in text.splitlines()[err.line - 1], str(err)
    assert str(err).startswith(f"f.toml:{err.line}: {key}: ")


def test_cross_table_rules() -> None:
    text = EXAMPLE.replace(
        'max_parts = 10\n\n[[carriers]]\nname = "global"', 'max_parts = 9\n\n[[carriers]]\nname = "global"'
    )
    with pytest.raises(ConfigError, match="segmentation profile") as info:
        parse_config(text)
    assert info.value.key == "routes[0]"
    assert info.value.line == _line_of(text, 'name = "my-mobile"') - 1
    dup = EXAMPLE.replace('country = "SG"', 'prefix = "601"')
    with pytest.raises(ConfigError, match="same prefix"):
        parse_config(dup)
    with pytest.raises(ConfigError, match="exactly one of prefix"):
        parse_config(EXAMPLE.replace('country = "SG"', 'country = "SG"\nprefix = "65"'))
    with pytest.raises(ConfigError, match="cannot be combined"):
        parse_config('[database]\ndsn = "postgresql://x"\nembedded = true\n')
    with pytest.raises(ConfigError, match="lease must be longer"):
        parse_config('[daemon]\nlease = "1s"\n')


def test_status_actions_reach_the_carrier_retry_policy() -> None:
    from bridge.carrier.policy import Action, RetryPolicy

    carrier = parse_config(EXAMPLE).carriers[0]
    policy = RetryPolicy.from_config(carrier)
    assert policy.classify(0x45) is Action.RETRY  # overridden: ESME_RSUBMITFAIL
    assert policy.classify(0x08) is Action.PERMANENT  # ESME_RSYSERR overridden by name
    assert policy.classify(0x58) is Action.THROTTLE  # default kept
    assert carrier.connect_timeout.seconds == 10


def test_toml_syntax_error_has_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[database]\ndsn = "x"\nbroken = \n', source="s.toml")
    assert info.value.line == 3
    assert "not valid TOML" in str(info.value)


# --- secrets -----------------------------------------------------------------


def _secret_config(tmp_path: Path, mode: int) -> Path:
    pw = tmp_path / "celcom.pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, mode)
    cfg = tmp_path / "c.toml"
    cfg.write_text(EXAMPLE.replace("/etc/smpp-bridge/celcom.password", str(pw)))
    return cfg


ENV = {
    "SMPP_BRIDGE_DSN": "postgresql://u:pw@db/x",
    "MAXIS_SMPP_PASSWORD": "maxispw",
    "GLOBAL_SMPP_PASSWORD": "g",
}


def test_secrets_resolve_from_env_and_private_file(tmp_path: Path) -> None:
    loaded = load_config(_secret_config(tmp_path, 0o600), environ=ENV)
    assert loaded.carrier_passwords["celcom"].reveal() == "s3cret"
    assert loaded.carrier_passwords["maxis"].reveal() == "maxispw"
    assert loaded.database_dsn is not None
    assert loaded.database_dsn.reveal() == ENV["SMPP_BRIDGE_DSN"]
    # The webhook master key is not resolved with the others: only the
    # commands that sign or set webhook secrets read it (config.load.webhook_master_key).
    assert not hasattr(loaded, "webhook_secret")
    # Secrets never print.
    assert "s3cret" not in repr(loaded) and "maxispw" not in repr(loaded)
    assert "pw@db" not in str(loaded.database_dsn)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_group_or_world_readable_secret_file_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(ConfigError, match="chmod 600") as info:
        load_config(_secret_config(tmp_path, mode), environ=ENV)
    assert info.value.key == "carriers[1].password_file"
    assert info.value.file is not None and info.value.line is not None
    line = Path(info.value.file).read_text().splitlines()[info.value.line - 1]
    assert line.startswith(f'password_file = "{tmp_path}')


def test_missing_env_names_key_and_line(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "MAXIS_SMPP_PASSWORD"}
    path = _secret_config(tmp_path, 0o600)
    with pytest.raises(ConfigError, match="MAXIS_SMPP_PASSWORD is not set") as info:
        load_config(path, environ=env)
    assert info.value.key == "carriers[0].password_env"
    assert info.value.line == _line_of(path.read_text(), 'password_env = "MAXIS')


def test_password_longer_than_smpp_allows(tmp_path: Path) -> None:
    env = dict(ENV, MAXIS_SMPP_PASSWORD="123456789")
    with pytest.raises(ConfigError, match="longer than 8"):
        load_config(_secret_config(tmp_path, 0o600), environ=env)


def test_password_the_codec_cannot_write_is_refused(tmp_path: Path) -> None:
    env = dict(ENV, MAXIS_SMPP_PASSWORD="pass€")
    with pytest.raises(ConfigError, match="Latin-1") as info:
        load_config(_secret_config(tmp_path, 0o600), environ=env)
    assert "pass€" not in str(info.value)
    latin = dict(ENV, MAXIS_SMPP_PASSWORD="passé")
    loaded = load_config(_secret_config(tmp_path, 0o600), environ=latin)
    assert loaded.carrier_passwords["maxis"].reveal() == "passé"


def test_read_secret_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read secret file"):
        read_secret_file(tmp_path / "nope")


# --- durations and line mapping (properties) ---------------------------------

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(_UNITS))), min_size=1, max_size=4))
def test_duration_parse_sums_units(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert Duration.parse(text).seconds == pytest.approx(sum(n * _UNITS[u] for n, u in parts))


@given(st.text(max_size=8).filter(lambda s: not re.fullmatch(r"(\d+(\.\d+)?(ms|s|m|h|d))+", s.strip().replace(" ", ""))))
def test_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)


_KEYS = ["host", "port", "window", "tps", "system_id", "binds"]


@given(st.lists(st.permutations(_KEYS), min_size=1, max_size=4), st.data())
def test_locate_key_finds_the_written_line(orders: list[list[str]], data: st.DataObject) -> None:
    lines: list[str] = []
    where: dict[tuple[int, str], int] = {}
    for i, order in enumerate(orders):
        lines.append("[[carriers]]")
        for key in order:
            lines.append(f"{key} = 1")
            where[(i, key)] = len(lines)
        lines.append("[carriers.segmentation]")
        lines.append("max_parts = 3")
        where[(i, "max_parts")] = len(lines)
    text = "\n".join(lines)
    i = data.draw(st.integers(0, len(orders) - 1))
    key = data.draw(st.sampled_from(_KEYS))
    assert locate_key(text, ("carriers", i, key)) == where[(i, key)]
    assert locate_key(text, ("carriers", i, "segmentation", "max_parts")) == where[(i, "max_parts")]


def test_service_unit_is_hardened() -> None:
    unit = (Path(__file__).resolve().parents[2] / "config" / "smpp-bridge.service").read_text()
    directives = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert directives["Type"] == "notify"
    assert directives["User"] == "smpp-bridge"
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes")]:  # fmt: skip
        assert directives[key] == value
    for key in ("WatchdogSec", "ReadWritePaths", "EnvironmentFile", "ExecReload"):
        assert key in directives


def test_receipt_time_zone_must_be_a_zone_name() -> None:
    base = '[[carriers]]\nname = "a"\nhost = "h"\nsystem_id = "s"\n'
    assert parse_config(base + 'receipt_time_zone = "Asia/Kuala_Lumpur"\n').carriers[0].receipt_time_zone
    with pytest.raises(ConfigError, match="receipt_time_zone"):
        parse_config(base + 'receipt_time_zone = "Mars/Olympus"\n')


def test_api_service_unit_is_hardened() -> None:
    unit = (Path(__file__).resolve().parents[2] / "config" / "smpp-bridge-api.service").read_text()
    directives = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert directives["Type"] == "notify"
    assert directives["User"] == "smpp-bridge"
    assert "smpp-bridge api -c" in directives["ExecStart"]
    daemon = (Path(__file__).resolve().parents[2] / "config" / "smpp-bridge.service").read_text()
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "RestrictAddressFamilies", "MemoryDenyWriteExecute", "SystemCallFilter", "CapabilityBoundingSet"):  # fmt: skip
        assert f"\n{key}=" in daemon and directives[key] == dict(
            line.split("=", 1) for line in daemon.splitlines() if line.startswith(key + "=")
        )[key], key
