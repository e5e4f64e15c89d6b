"""Run a simulator inside a test's trio loop on 127.0.0.1, port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from bridge.simulator import Simulator, SimulatorConfig
from tests.simulator import esme as esme_module
from tests.simulator.esme import Esme


@asynccontextmanager
async def running(config: SimulatorConfig | None = None, **knobs: Any) -> AsyncIterator[Simulator]:
    """A serving simulator; its handlers must end without errors."""
    if config is None:
        config = SimulatorConfig(**knobs)
    sim = Simulator(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve, "127.0.0.1", 0)
        try:
            yield sim
        finally:
            for esme in list(esme_module.OPEN):
                await esme.aclose()
            nursery.cancel_scope.cancel()
    assert not sim.errors, list(sim.errors)


async def bound(sim: Simulator, mode: str = "trx", system_id: str = "bridge",
                password: str = "secret", *, window: int = 512) -> Esme:
    """A connected ESME bound in ``mode`` (fails the test if the bind fails)."""
    assert sim.port is not None
    esme = await Esme.connect(sim.port, window=window)
    result = await esme.bind(system_id, password, mode)
    assert result.__class__.__name__ == "Bound", result
    return esme
