"""A carrier's binds: groups of several modes, the bind_mode shorthand, and the
carrier that could never receive its receipts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli import main
from config.load import ConfigError, example_text, parse_config
from config.schema import MAX_BINDS, BindGroup, BindMode, Carrier

HEAD = '[[carriers]]\nname = "c1"\nhost = "h"\nsystem_id = "s"\n'


def _carrier(extra: str) -> Carrier:
    return parse_config(HEAD + extra, source="c.toml").carriers[0]


def test_groups_of_several_modes() -> None:
    carrier = _carrier('binds = [{ mode = "tx", count = 2 }, { mode = "rx" }, { mode = "trx", count = 1 }]\n')
    assert carrier.bind_groups == (
        BindGroup(mode=BindMode.TX, count=2), BindGroup(mode=BindMode.RX, count=1),
        BindGroup(mode=BindMode.TRX, count=1),
    )  # fmt: skip
    assert carrier.slot_modes == (BindMode.TX, BindMode.TX, BindMode.RX, BindMode.TRX)
    assert carrier.transmits and carrier.receives


@pytest.mark.parametrize(
    ("extra", "modes"),
    [
        ("", (BindMode.TRX,)),
        ("binds = 3\n", (BindMode.TRX,) * 3),
        ('bind_mode = "trx"\nbinds = 2\n', (BindMode.TRX,) * 2),
        ('bind_mode = "rx"\n', (BindMode.RX,)),
    ],
)
def test_the_shorthand_still_works(extra: str, modes: tuple[BindMode, ...]) -> None:
    assert _carrier(extra).slot_modes == modes


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('bind_mode = "tx"\nbinds = [{ mode = "rx" }]\n', "carriers[0]", "bind_mode is for the shorthand"),
        ("binds = []\n", "carriers[0]", "empty"),
        ("binds = 0\n", "carriers[0].binds", ">= 1"),
        ('binds = [{ mode = "tx", count = 0 }]\n', "carriers[0].binds[0].count", ">= 1"),
        (f'binds = [{{ mode = "tx", count = {MAX_BINDS} }}, {{ mode = "rx" }}]\n', "carriers[0]",
         f"at most {MAX_BINDS}"),
        ('binds = [{ mode = "sideways" }]\n', "carriers[0].binds[0].mode", "Invalid enum value"),
        ('binds = [{ count = 2 }]\n', "carriers[0].binds[0].mode", "required"),
    ],
)
def test_bad_binds_are_refused_naming_the_key(extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _carrier(extra)
    assert info.value.key == key and words in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "extra",
    ['bind_mode = "tx"\n', 'bind_mode = "tx"\nbinds = 4\n', 'binds = [{ mode = "tx", count = 2 }]\n'],
)
def test_a_carrier_that_asks_for_receipts_needs_a_receiving_bind(extra: str) -> None:
    with pytest.raises(ConfigError) as info:
        _carrier(extra)
    err = info.value
    assert err.key == "carriers[0].binds"
    assert "'c1'" in err.message and "no rx or trx bind" in err.message
    # The line of the binds (or of the carrier table when only bind_mode is written).
    line = (HEAD + extra).splitlines()[(err.line or 0) - 1]
    assert line.startswith(("binds", "[[carriers]]")), line


def test_receive_only_and_mixed_carriers_are_accepted() -> None:
    assert not _carrier('bind_mode = "rx"\n').transmits
    assert _carrier('binds = [{ mode = "tx" }, { mode = "trx" }]\n').receives


def test_config_check_refuses_a_transmit_only_carrier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = example_text().replace(
        'binds = [{ mode = "tx", count = 2 }, { mode = "rx", count = 1 }]\nsystem_id',
        'bind_mode = "tx"\nsystem_id',
    )
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "carriers[2].binds" in err and "'global'" in err and "no rx or trx bind" in err


def test_the_example_default_carrier_transmits_and_receives() -> None:
    cfg = parse_config(example_text(), source="example.toml")
    glob = cfg.carrier("global")
    assert glob.slot_modes == (BindMode.TX, BindMode.TX, BindMode.RX)
    assert all(c.receives for c in cfg.carriers)


def test_config_check_warns_of_two_carriers_on_one_smsc_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The old workaround for a tx + rx account: receipts of "split-tx" parts come on
    # "split-rx" and would never match. (A tx-only carrier is refused outright.)
    text = "".join(
        f'[[carriers]]\nname = "{name}"\nhost = "SMSC.example"\nsystem_id = "acct"\nbind_mode = "{mode}"\n'
        for name, mode in (("split-trx", "trx"), ("split-rx", "rx"))
    ) + '[[carriers]]\nname = "other"\nhost = "smsc.example"\nport = 2776\nsystem_id = "acct"\n'
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    warnings = [line for line in out if line.startswith("warning:")]
    assert len(warnings) == 1 and "split-trx, split-rx" in warnings[0], out
    path.write_text(example_text())
    assert main(["config", "check", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_run_refuses_a_transmit_only_carrier_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[database]\ndsn = "postgresql://127.0.0.1:1/none"\n' + HEAD + 'bind_mode = "tx"\n')
    assert main(["run", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "carriers[0].binds" in err and "'c1'" in err and "no rx or trx bind" in err
