"""What this daemon runs now: the configuration, each carrier's rules, the router
and the running carriers. A reload (SIGHUP) replaces them here, in one place.

The claimer, the writer, the sweeper and the dispatcher hold this object, not
copies of what it holds: each sees a reload at its next look-up. What each of
them reads is spelled out as a Protocol where it is used (claim.ClaimRoutes,
writer.RulesLookup, sweeper.SweptCarriers).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bridge.dispatch.router import Router
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.submit import CarrierRunner
from config.schema import Config

__all__ = ["RunningCarriers"]


class RunningCarriers:
    def __init__(self, config: Config, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.config = config
        self.rules: dict[str, CarrierRules] = {c.name: CarrierRules.of(c) for c in config.carriers}
        self.router = Router(config, rng=self._rng)
        self.runners: dict[str, CarrierRunner] = {}  # started carriers (with bind slots here)

    def replace(self, config: Config, *, removed: list[str], renewed: list[str]) -> None:
        """A reload: ``config`` from now on; the rules of ``renewed`` carriers (changed
        or added) rebuilt, those of ``removed`` ones dropped. The caller stops and
        starts the carriers themselves around this."""
        carriers = {c.name: c for c in config.carriers}
        self.config = config
        for name in removed:
            self.rules.pop(name, None)
        for name in renewed:
            self.rules[name] = CarrierRules.of(carriers[name])
        self.router = Router(config, rng=self._rng)

    # --- look-ups (claim.ClaimRoutes, writer.RulesLookup, sweeper.SweptCarriers) ---------

    def rules_of(self, carrier: str) -> CarrierRules | None:
        """The rules of a configured carrier; None once a reload removed it."""
        return self.rules.get(carrier)

    def ready_routes(self) -> list[str]:
        """Labels of the routes with at least one carrier up here (what may be claimed)."""
        return self.router.ready_routes(self.runners)

    def payload_routes(self) -> list[str]:
        """Labels of the routes whose profile sends a long message as one PDU."""
        return self.router.payload_routes()

    def carriers_of_route(self, label: str | None) -> list[str]:
        return self.router.carriers_of_route(label)

    def picker(self) -> Callable[[str | None], CarrierRunner | None]:
        """A carrier chooser for one claimed batch (Router.picker over the running carriers)."""
        return self.router.picker(self.runners)

    def capacity(self) -> int:
        """Window places of every running carrier's submitting binds."""
        return sum(r.capacity for r in self.runners.values())
