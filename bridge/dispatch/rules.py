"""A carrier's configuration with what the hot path needs prebuilt (no I/O).

The submitters, the writer, the sweeper and the querier look a carrier's
rules up by name for every part or receipt: what they derive from the
configuration (the receipt status table, config ``status_overrides``) is built
once per (re)load here, not per PDU.
"""

from __future__ import annotations

from dataclasses import dataclass

import dlr
from config.schema import Carrier as CarrierConfig

__all__ = ["CarrierRules"]


@dataclass(frozen=True, slots=True)
class CarrierRules:
    config: CarrierConfig
    status_table: dlr.StatusTable

    @classmethod
    def of(cls, config: CarrierConfig) -> CarrierRules:
        return cls(config, config.status_table())
