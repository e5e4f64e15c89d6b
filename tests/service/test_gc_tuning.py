"""The collector settings of the daemon and the simulator (bridge/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bridge.gc_tuning import THRESHOLDS, tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    gc.unfreeze()
    tune_gc()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 1000  # modules, functions, configuration: out of the collector's sight
    # Cycles are still collected, only later.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
