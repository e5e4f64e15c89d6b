"""SimulatorConfig: TOML loading, validation, and the `smpp-bridge simulate` flags."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import smpplib.client
import smpplib.smpp

from bridge.commands import simulate
from bridge.simulator import (
    ConfigError,
    DestinationRule,
    Outcome,
    SimulatorConfig,
    config_from_mapping,
    load_config,
    with_overrides,
)

REPO = Path(__file__).resolve().parents[2]

EXAMPLE = """
message_id_format = "hex64"
receipt_delay = [0.1, 2.0]
throttle_tps = 500
queue_full = 0.01
seed = 7

[accounts]
bridge = "secret"

[[outcomes]]
stat = "DELIVRD"
weight = 0.9

[[outcomes]]
stat = "UNDELIV"
weight = 0.1
err = 1

[[destination_rules]]
suffix = "0000"

[[sender_rewrites]]
dest_prefix = "4477"
sender = "447700000001"

[mo]
rate = 2
count = 10
"""


def test_defaults_accept_anything_and_deliver() -> None:
    config = SimulatorConfig()
    assert config.host == "127.0.0.1" and config.accounts == {}
    assert config.outcomes == (Outcome(stat="DELIVRD", weight=1.0, err=0),)
    assert config.throttle_tps is None and config.queue_full == 0 and config.disconnect == 0


def test_toml_file_top_level_or_simulator_table(tmp_path: Path) -> None:
    plain = tmp_path / "sim.toml"
    plain.write_text(EXAMPLE, encoding="utf-8")
    config = load_config(plain)
    assert config.message_id_format == "hex64"
    assert config.receipt_delay == (0.1, 2.0)
    assert config.accounts == {"bridge": "secret"}
    assert config.outcomes[1] == Outcome(stat="UNDELIV", weight=0.1, err=1)
    assert config.destination_rules == (DestinationRule(suffix="0000"),)
    assert config.mo.rate == 2 and config.mo.count == 10
    nested = tmp_path / "demo.toml"
    tables = re.sub(r"(?m)^(\[+)", r"\1simulator.", EXAMPLE)  # [accounts] -> [simulator.accounts]
    nested.write_text("[simulator]\n" + tables, encoding="utf-8")
    assert load_config(nested) == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"receipt_delay": [2, 1]}, "min 2.0 is above max 1.0"),
        ({"queue_full": 1.5}, "queue_full"),
        ({"colour": "blue"}, "colour"),
        ({"outcomes": []}, "at least one outcome"),
        ({"outcomes": [{"stat": "DELIVRD", "weight": 0}]}, "add up to zero"),
        ({"outcomes": [{"stat": "SMILING"}]}, "stat"),
        ({"destination_rules": [{"stat": "UNDELIV"}]}, "prefix or a suffix"),
        ({"message_id_format": "roman"}, "message_id_format"),
    ],
)
def test_invalid_settings_are_refused_with_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("receipt_delay = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    config = simulate.build_config(_args(
        "--config", str(path), "--port", "0", "--id-format", "uuid", "--receipt-delay", "0.5",
        "--fail-rate", "0.25", "--fail-suffix", "9999", "--throttle-tps", "80",
        "--account", "a:b", "--account", "c:d:e", "--no-receipt-tlvs", "--mo-text", "hi {n}",
        "--rewrite-sender", "33=SPAM", "--receipt-before-resp", "0.5",
        "--late-resp", "0.1", "--late-resp-delay", "2,4", "--no-resp", "0.01",
        "--throttle-per-bind", "--intermediate",
    ))  # fmt: skip
    assert config.port == 0 and config.message_id_format == "uuid"
    assert config.receipt_delay == (0.5, 0.5)
    assert [(o.stat, o.weight) for o in config.outcomes] == [("DELIVRD", 0.75), ("UNDELIV", 0.25)]
    assert [r.suffix for r in config.destination_rules] == ["9999"]
    assert config.throttle_tps == 80 and config.throttle_scope == "bind"
    assert config.intermediate_notifications is True
    assert config.receipt_tlvs is False
    assert config.accounts == {"a": "b", "c": "d:e"}
    # The file's MO rate and count survive a flag that changes only the text.
    assert (config.mo.rate, config.mo.count, config.mo.text) == (2, 10, "hi {n}")
    assert config.sender_rewrites[0].sender == "SPAM"
    assert config.receipt_before_resp == 0.5
    assert (config.late_resp, config.late_resp_delay, config.no_resp) == (0.1, (2.0, 4.0), 0.01)
    assert config.seed == 7 and config.queue_full == 0.01  # untouched file values


def test_outcome_flags_and_errors() -> None:
    config = simulate.build_config(_args("--outcome", "delivrd=8", "--outcome", "EXPIRED=2:27"))
    assert config.outcomes == (
        Outcome(stat="DELIVRD", weight=8.0), Outcome(stat="EXPIRED", weight=2.0, err=27)
    )
    for bad in (("--receipt-delay", "soon"), ("--outcome", "DELIVRD"), ("--fail-rate", "2"),
                ("--account", "nopassword"), ("--receipt-delay", "3,1")):
        with pytest.raises(ValueError):
            simulate.build_config(_args(*bad))
    assert simulate.run(_args("--receipt-delay", "3,1")) == 2


def test_with_overrides_validates_again() -> None:
    config = with_overrides(SimulatorConfig(), receipt_delay=(0.0, 1.0))
    assert config.receipt_delay == (0.0, 1.0)
    with pytest.raises(ConfigError):
        with_overrides(config, receipt_window=0)
    with pytest.raises(ConfigError):  # every queue is bounded: there is no "0 = unbounded"
        with_overrides(config, receipt_queue_limit=0)


def test_simulate_command_serves_reports_and_stops_on_sigterm() -> None:
    argv = ["simulate", "--port", "0", "--stats-interval", "0.2", "--id-format", "hex64"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", *argv],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("smpp-bridge simulate: listening on 127.0.0.1:"), first
        port = int(first.split("127.0.0.1:")[1].split()[0])
        assert port > 0
        assert proc.stdout.readline().startswith("stats: binds=0")
        client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
        client.connect()
        try:
            client.bind_transmitter(system_id="cli", password="x")
            pdu = smpplib.smpp.make_pdu("submit_sm", client=client, destination_addr="4477",
                                        short_message=b"hi")
            client.send_pdu(pdu)
            resp = client.read_pdu()
        finally:
            client.disconnect()
        assert resp.status == 0 and len(resp.message_id) == 64  # --id-format hex64
        while "submits=1" not in proc.stdout.readline():  # the next stats line counts it
            pass
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SIGTERM, stopping" in out and "stopped; binds=1 bound=0 submits=1" in out
