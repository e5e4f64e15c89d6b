"""The systemd unit, the README and the commands agree on the installed layout; the unit verifies."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.commands.common import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "config" / "smpp-bridge.service"


def _directive(name: str) -> str:
    (value,) = re.findall(rf"^{name}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)
    return value


def _exec_start() -> tuple[str, str]:
    """(program, configuration file) of the unit's ExecStart."""
    argv = shlex.split(_directive("ExecStart"))
    assert argv[1:3] == ["run", "-c"], argv
    return argv[0], argv[3]


def test_the_readme_installs_where_the_unit_looks() -> None:
    program, config = _exec_start()
    readme = ROOT.joinpath("README.md").read_text()
    section = readme[readme.index("### Running it for real") : readme.index("### Documents")]
    # The configuration file: the unit's, and no other.
    assert config in section
    assert set(re.findall(r"/etc/smpp-bridge/[\w.-]+\.toml", readme)) == {config}
    # The program: the README builds the virtual environment the unit runs.
    venv = program.removesuffix("/bin/smpp-bridge")
    assert venv.endswith("/.venv")
    checkout = venv.removesuffix("/.venv")
    assert f"git clone REPOSITORY {checkout}" in section and f"{checkout}/dev bootstrap" in section
    assert program in section
    # The commands' default configuration is the unit's file.
    assert config == DEFAULT_CONFIG
    # The documentation link points into that checkout.
    assert _directive("Documentation") == f"file://{checkout}/docs/configuration.md"


def test_the_unit_header_agrees() -> None:
    program, config = _exec_start()
    header = UNIT.read_text().split("[Unit]")[0]
    assert config in header and program in header
    assert set(re.findall(r"/etc/smpp-bridge/[\w.-]+\.toml", header)) == {config}


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail("systemd-analyze missing in CI: .ci/system-packages installs systemd", pytrace=False)
        pytest.skip("systemd-analyze not installed: apt-get install systemd")
    # The installed layout, rooted in tmp_path: ExecStart's program must exist.
    program, _ = _exec_start()
    installed = tmp_path / program.lstrip("/")
    installed.parent.mkdir(parents=True)
    installed.write_text("#!/bin/sh\nexit 0\n")
    installed.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(program, str(installed)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert UNIT.name not in done.stderr, done.stderr  # no warning about our unit either
