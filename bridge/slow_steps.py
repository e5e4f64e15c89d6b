"""Long trio task steps and collector pauses, for a diagnosis (``[daemon] slow_step``).

Every task of the daemon shares one thread: while one task runs a step (from
one ``await`` that yields to the next), none of the others run, so a step of
20 ms is 20 ms added to whatever was ready meanwhile (a claim's answer, a
submit_sm's response). This instrument times every step with the monotonic
clock and logs those at least ``threshold`` long (``slow task step``: the
task's name, ``ms``), and, the same way, each pass of the cyclic collector
(``gc pause``: the generation, ``ms``), which runs inside whatever step
allocated last.

Off by default; when off nothing is installed (no cost). When on it costs two
clock readings and a dictionary write per step: a diagnosis tool, not a
production setting. The lines are at level info: whoever turns the switch on
wants them, and the debug level adds a line per claim and per flush that
changes the timing being measured.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import structlog
import trio

__all__ = ["SlowSteps", "install", "uninstall"]

log = structlog.get_logger(__name__)


class SlowSteps(trio.abc.Instrument):
    """Records task steps and collector passes of at least ``threshold`` seconds."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._started: dict[trio.lowlevel.Task, float] = {}
        self._gc_started = 0.0
        # The steps seen, for a test or a summary: (task name, seconds), the slow ones only.
        self.seen: list[tuple[str, float]] = []

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started[task] = time.monotonic()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        started = self._started.pop(task, None)
        if started is None:
            return
        took = time.monotonic() - started
        if took >= self.threshold:
            self._report(task.name, took)

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        self._started.pop(task, None)

    def _report(self, name: str, took: float) -> None:
        self.seen.append((name, took))
        if len(self.seen) > 10_000:  # bounded: a record for a test, the log is the report
            del self.seen[:5_000]
        log.info("slow task step", task=name, ms=round(took * 1e3, 2))

    def gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.monotonic()
            return
        took = time.monotonic() - self._gc_started
        if took >= self.threshold:
            # Logged after the pass: structlog allocates, and the collector is done.
            log.info(
                "gc pause", generation=info.get("generation"), ms=round(took * 1e3, 2),
                collected=info.get("collected"),
            )  # fmt: skip


def install(threshold: float) -> SlowSteps:
    """Install the instrument in the running trio loop (and the collector's callback)."""
    instrument = SlowSteps(threshold)
    trio.lowlevel.add_instrument(instrument)
    gc.callbacks.append(instrument.gc_callback)
    return instrument


def uninstall(instrument: SlowSteps) -> None:
    trio.lowlevel.remove_instrument(instrument)
    if instrument.gc_callback in gc.callbacks:
        gc.callbacks.remove(instrument.gc_callback)
