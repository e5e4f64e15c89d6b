"""The comparison harness cannot rot: `python -m bench compare --quick` runs end to end.

One small round (2,000 messages per system: smpp-bridge through its API with
signed webhooks back, Kannel with its internal and its PostgreSQL DLR store,
our core path) against the simulator, then the results
file, the plots and the report. No target is checked here: timings on a shared
machine prove nothing; that the harness still runs and every message reached
its final state does. Skips without Kannel on a developer machine, fails under
CI=true (tests/interop/process.py ``tool_missing``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import kannel
from tests.interop.process import tool_missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(150)
def test_compare_quick_runs_every_system_and_writes_results_plots_and_report(
    tmp_path: Path,
) -> None:
    if not kannel.available():
        tool_missing("kannel not installed: apt-get install kannel")
    if importlib.util.find_spec("matplotlib") is None:
        tool_missing("matplotlib not installed (the dev extra): ./dev bootstrap")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "compare", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=140,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (results,) = tmp_path.glob("*-compare-quick.json")
    data = json.loads(results.read_text())
    compare = data["results"]["compare"]
    systems = compare["summary"]["systems"]
    assert set(systems) == {"bridge-http", "kannel-internal", "kannel-pgsql", "bridge-core"}
    for name, system in systems.items():
        assert system["every_message_final"], (name, system)
        assert system["every_signature_valid"], (name, system)
        assert system["per_s"] > 0 and system["cpu_us_per_msg_total"] > 0, (name, system)
    for run in compare["runs"]:
        if run["system"] == "kannel-pgsql":
            assert run["dlr_rows_left"] == 0  # the oid column makes Kannel's deletes work
    for suffix in ("-throughput.png", "-cpu.png", "-latency.png"):
        assert results.with_name(results.stem + suffix).stat().st_size > 1000
    report = results.with_suffix(".md").read_text()
    assert "Kannel 1.4.5, PostgreSQL DLR store" in report and "not like for like" in report
