"""A skipped interop test says why in the `pytest -ra` summary, wherever the skip was raised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import trio

from tests.interop.process import tool_missing


async def test_skips_inside_a_nursery() -> None:
    async with trio.open_nursery():
        tool_missing("frobnicator not installed: apt-get install frobnicator")
'''


def _summary(tmp_path: Path, conftest: str) -> str:
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-q", "-ra", "-p", "no:cacheprovider",
         "-p", "no:randomly", "-c", str(ROOT / "pyproject.toml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="the interop peers run on Linux only")
def test_a_skip_inside_a_trio_nursery_keeps_its_reason(tmp_path: Path) -> None:
    hooks = "from tests.interop.conftest import pytest_runtest_makereport, pytest_runtest_setup  # noqa: F401\n"
    summary = _summary(tmp_path, hooks)
    assert "test_inner.py:7: frobnicator not installed: apt-get install frobnicator" in summary, summary
    assert "_pytest" not in summary
    # Without the hook, pytest-trio's bare re-raise loses it: what this guards against.
    assert "frobnicator" not in _summary(tmp_path, "")
