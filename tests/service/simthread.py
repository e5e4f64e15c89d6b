"""The simulator in a thread of the test process, for tests that run the daemon as a subprocess.

The test itself is synchronous (it drives `smpp-bridge run` with signals), so
the simulator gets its own trio run in a thread; ``stop()`` cancels it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from bridge.simulator import Simulator, SimulatorConfig


class SimulatorThread:
    def __init__(self, config: SimulatorConfig) -> None:
        self.simulator = Simulator(config)
        self.port = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._ready: queue.Queue[int | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="simulator", daemon=True)

    def _main(self) -> None:
        async def serve() -> None:
            with trio.CancelScope() as scope:
                self._scope = scope
                self._token = trio.lowlevel.current_trio_token()
                async with trio.open_nursery() as nursery:
                    self._ready.put(await nursery.start(self.simulator.serve, "127.0.0.1", 0))

        try:
            trio.run(serve)
        except BaseException as exc:  # reported to start(), not lost in the thread
            self._ready.put(exc)

    def start(self) -> int:
        self._thread.start()
        got = self._ready.get(timeout=10)
        if isinstance(got, BaseException):
            raise got
        self.port = got
        return got

    def stop(self) -> None:
        if self._token is not None and self._scope is not None:
            try:
                trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)


@contextmanager
def simulator_thread(config: SimulatorConfig) -> Iterator[SimulatorThread]:
    sim = SimulatorThread(config)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
