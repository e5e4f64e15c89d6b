"""Our SMSC simulator: the SMSC side of bridge.smpp's Connection on trio.

::

    from bridge.simulator import Simulator, SimulatorConfig
    sim = Simulator(SimulatorConfig(message_id_format="hex", receipt_delay=(0.1, 2.0)))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, "127.0.0.1", 0)
        ...  # sim.stats.submits, sim.stats.receipts_sent, ...
        nursery.cancel_scope.cancel()

See docs/simulator.md for the behaviour and every configuration knob.
"""

from bridge.simulator.config import (
    ConfigError,
    DestinationRule,
    MoConfig,
    Outcome,
    SenderRewrite,
    SimulatorConfig,
    config_from_mapping,
    load_config,
    with_overrides,
)
from bridge.simulator.server import HandsetDelivery, Simulator
from bridge.simulator.stats import SimulatorStats

__all__ = [
    "ConfigError",
    "DestinationRule",
    "HandsetDelivery",
    "MoConfig",
    "Outcome",
    "SenderRewrite",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "config_from_mapping",
    "load_config",
    "with_overrides",
]
