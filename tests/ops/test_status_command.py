"""`smpp-bridge status` without an id: the daemon's carriers, binds and queue as tables."""

from __future__ import annotations

import subprocess
import sys

import pytest
import trio

from bridge.cli import main
from bridge.ops.table import render_table
from bridge.store.db import Database
from tests.dispatch.harness import daemon, make_config, simulator
from tests.ops.test_endpoint import endpoint


def _status(*argv: str, timeout: float | None = None) -> str:
    cmd = [sys.executable, "-c", "import sys; from bridge.cli import main; sys.exit(main())", "status", *argv]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or 30, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout
        return out.decode() if isinstance(out, bytes) else (out or "")
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_status_prints_carriers_and_binds_and_watches(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        async with daemon(config, db, pg_dsn) as d, endpoint(d, db) as (url, _):
            with trio.fail_after(10):
                await sim.wait_bound(2)
            text = await trio.to_thread.run_sync(_status, "--url", url)
            lines = text.splitlines()
            assert any(line.split()[:2] == ["sim", "live"] for line in lines), text
            assert sum(1 for line in lines if line.startswith("sim ") and "bound_trx" in line) == 2, text
            watched = await trio.to_thread.run_sync(lambda: _status("--url", url, "--watch", "0.3", timeout=2.5))
            assert watched.count("instance d1") >= 2, watched


def test_status_without_an_endpoint_says_what_to_set(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    from pathlib import Path

    from tests.service.helpers import write_config

    config = write_config(Path(str(tmp_path)) / "b.toml")
    assert main(["status", "-c", str(config)]) == 2
    assert "metrics_listen" in capsys.readouterr().err


def test_the_table_of_a_down_carrier() -> None:
    health = {"status": "down", "instance": {"name": "a"}, "database": {"reachable": False},
              "networks": [{"name": "x", "status": "down", "binds": [{"slot": 0, "bound": False, "state": "down"}],
                            "slots": [0], "throttle": {}}]}  # fmt: skip
    text = render_table(health)
    assert "UNREACHABLE" in text and any(line.split()[:3] == ["x", "down", "0/1"] for line in text.splitlines())
