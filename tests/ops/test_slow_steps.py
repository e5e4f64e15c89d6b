"""The slow-step instrument (bridge/slow_steps.py): long trio task steps and collector passes."""

from __future__ import annotations

import gc
import time

import pytest
import trio

from bench.common import SIM_BRIDGE_CONFIG
from bridge.slow_steps import SlowSteps, install, uninstall
from config.load import parse_config
from config.schema import Daemon
from config.types import Duration

pytestmark = pytest.mark.timeout(30)


async def _busy(seconds: float) -> None:
    await trio.lowlevel.checkpoint()
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # one step that does not yield
        pass
    await trio.lowlevel.checkpoint()


def test_a_long_step_is_recorded_with_its_task_name_and_a_short_one_is_not() -> None:
    async def main() -> SlowSteps:
        instrument = install(0.02)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_busy, 0.05, name="long-one")
                nursery.start_soon(_busy, 0.001, name="short-one")
        finally:
            uninstall(instrument)
        return instrument

    instrument = trio.run(main)
    names = [name for name, _ in instrument.seen]
    assert names == ["long-one"]
    assert instrument.seen[0][1] >= 0.05


def test_uninstalled_nothing_is_timed_and_the_collector_callback_is_gone() -> None:
    async def main() -> SlowSteps:
        instrument = install(0.0)
        uninstall(instrument)
        await _busy(0.01)
        return instrument

    instrument = trio.run(main)
    assert instrument.seen == []
    assert instrument.gc_callback not in gc.callbacks


def test_a_collector_pass_over_the_threshold_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    instrument = SlowSteps(0.0)
    gc.callbacks.append(instrument.gc_callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(instrument.gc_callback)
    assert "gc pause" in capsys.readouterr().out


def test_the_switch_is_off_by_default_and_takes_a_duration() -> None:
    assert Daemon().slow_step is None
    assert Daemon(slow_step=Duration(0.005)).slow_step.seconds == 0.005  # type: ignore[union-attr]
    base = SIM_BRIDGE_CONFIG.format(port=2775, binds=1, window=1)
    assert parse_config(base).daemon.slow_step is None
    parsed = parse_config(base + '\n[daemon]\nslow_step = "5ms"\n').daemon.slow_step
    assert parsed is not None and abs(parsed.seconds - 0.005) < 1e-12
