"""Route label -> the carrier to submit through: weights, then failover.

The part's route was chosen at enqueue (``message_parts.route`` is the route's
label) and its parts were billed with that route's segmentation profile. The
router picks among the route's carriers that run here and have a tx or trx
bind bound (``Carrier.can_submit``; a daemon holding only rx bind slots of a
carrier receives its receipts but never submits to it): the weighted primaries first (weighted random), else the failover list in order.
A carrier whose segmentation profile differs from the route's is never used
(``config.load`` refuses such files; a reload could still produce one), so the
parts sent are the parts billed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from bridge.dispatch.submit import CarrierRunner
from bridge.store.routing import RouteTable
from config.schema import Config, Route
from segmenter import Concat

__all__ = ["Router"]


class Router:
    def __init__(self, config: Config, *, rng: random.Random | None = None) -> None:
        self._table = RouteTable(config)
        self._routes: dict[str, Route] = {r.label: r for r in config.routes}
        self._rng = rng or random.Random()
        self._profiles = {label: self._table.profile(r) for label, r in self._routes.items()}
        self._cfg = {c.name: c for c in config.carriers}

    def _usable(self, label: str, name: str, runners: Mapping[str, CarrierRunner]) -> CarrierRunner | None:
        runner = runners.get(name)
        if runner is None or not runner.carrier.can_submit:  # a tx or trx bind is bound
            return None
        if runner.rules.config.segmentation != self._profiles[label]:
            return None
        return runner

    def _choices(
        self, label: str | None, runners: Mapping[str, CarrierRunner]
    ) -> tuple[list[tuple[CarrierRunner, float]], CarrierRunner | None]:
        """The usable weighted primaries of a route, and the first usable failover."""
        if label is None or (route := self._routes.get(label)) is None:
            return [], None
        weighted: list[tuple[CarrierRunner, float]] = [
            (runner, t.weight) for t in route.carriers
            if t.weight > 0 and (runner := self._usable(label, t.carrier, runners)) is not None
        ]  # fmt: skip
        if weighted:
            return weighted, None
        for name in route.carrier_names:
            runner = self._usable(label, name, runners)
            if runner is not None:
                return [], runner
        return [], None

    def _choose(self, weighted: list[tuple[CarrierRunner, float]]) -> CarrierRunner:
        if len(weighted) == 1:
            return weighted[0][0]
        total = sum(w for _, w in weighted)
        point = self._rng.uniform(0, total)
        for runner, weight in weighted:
            point -= weight
            if point <= 0:
                return runner
        return weighted[-1][0]

    def picker(self, runners: Mapping[str, CarrierRunner]) -> Callable[[str | None], CarrierRunner | None]:
        """A carrier chooser for one batch of claimed parts: ``pick(route)`` is a carrier
        for a part of that route, or None when none of its carriers is up here. Which
        carriers are usable is worked out once per route, the weighted draw per part."""
        known: dict[str | None, tuple[list[tuple[CarrierRunner, float]], CarrierRunner | None]] = {}

        def pick(label: str | None) -> CarrierRunner | None:
            found = known.get(label)
            if found is None:
                found = known[label] = self._choices(label, runners)
            weighted, failover = found
            if len(weighted) == 1:  # one carrier: no draw (and no call), once per part
                return weighted[0][0]
            return self._choose(weighted) if weighted else failover

        return pick

    def ready_routes(self, runners: Mapping[str, CarrierRunner]) -> list[str]:
        """Labels of the routes with at least one carrier up here (what the claimers may take)."""
        return [
            label for label, route in self._routes.items()
            if any(self._usable(label, name, runners) is not None for name in route.carrier_names)
        ]  # fmt: skip

    def payload_routes(self) -> list[str]:
        """Labels of routes whose profile sends a long message as one PDU (message_payload)."""
        return [label for label, p in self._profiles.items() if p.concat is Concat.PAYLOAD]

    def carriers_of_route(self, label: str | None) -> list[str]:
        route = self._routes.get(label) if label is not None else None
        return list(route.carrier_names) if route is not None else []
