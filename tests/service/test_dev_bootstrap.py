"""`./dev` shows its progress while it bootstraps (a stand-in Python and pip: no network, no minute)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = 25

# Answers what `dev` asks of a Python: the version checks, `-m venv DIR` (a copy
# of itself as DIR/bin/python) and `-m pip install ...` (pip's stdout lines).
FAKE_PYTHON = r"""#!/usr/bin/env bash
case "$1" in
    -c) case "$2" in *platform*) echo 3.12.1 ;; esac; exit 0 ;;
esac
if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi
if [[ " $* " == *" -e . "* ]]; then
    echo "Obtaining file:///checkout"
    echo "Installing collected packages: smpp-bridge"
    exit 0
fi
echo "Looking in indexes: https://pypi.org/simple"
for n in $(seq 1 PACKAGES); do
    echo "Collecting pkg$n==1.$n (from -r requirements.lock (line $n))"
    echo "  Downloading pkg$n-1.$n-py3-none-any.whl (1 kB)"
done
echo "Installing collected packages: $(seq -s ', ' 1 PACKAGES)"
echo "Successfully installed everything"
exit "${FAKE_PIP_STATUS:-0}"
""".replace("PACKAGES", str(PACKAGES))


def _checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    lines = ["# a comment", ""] + [f"pkg{n}==1.{n}" for n in range(1, PACKAGES + 1)]
    (tmp_path / "requirements.lock").write_text("\n".join(lines) + "\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    python = tmp_path / "fakepython"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path, dict(os.environ, PYTHON=str(python))


def _bootstrap(checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["./dev", "bootstrap"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_each_step_and_the_packages_show(tmp_path: Path) -> None:
    checkout, env = _checkout(tmp_path)
    done = _bootstrap(checkout, env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("== bootstrapping .venv")
    assert f"== [2/3] installing {PACKAGES} pinned packages from requirements.lock" in lines
    assert "   [10/25] pkg10==1.10" in lines and "   [20/25] pkg20==1.20" in lines  # not a terminal: every tenth
    assert f"   installing {PACKAGES} package(s)..." in lines
    assert any(line.startswith("== [1/3] creating .venv with") and "(3.12.1)" in line for line in lines)
    assert "== [3/3] installing smpp-bridge from this checkout (editable)" in lines
    assert lines[-1].startswith("== ready in ")
    assert len(lines) <= 12, done.stderr  # short
    assert done.stdout == ""  # pip's own lines are summarised, not passed on
    # Bootstrapped: the next run says nothing.
    again = _bootstrap(checkout, env)
    assert again.returncode == 0 and again.stderr == ""


def test_a_failing_pip_stops_the_bootstrap(tmp_path: Path) -> None:
    checkout, env = _checkout(tmp_path)
    done = _bootstrap(checkout, dict(env, FAKE_PIP_STATUS="1"))
    assert done.returncode != 0
    assert "== ready" not in done.stderr and not (checkout / ".venv" / ".lock-sha256").exists()
