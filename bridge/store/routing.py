"""Destination -> route, as configured: longest prefix, then country, then default.

Enqueue uses it to pick the segmentation profile and rate of each number; the
dispatcher's router uses the same table to pick a carrier (weights, failover),
so both agree on which carriers a message may go to.
"""

from __future__ import annotations

from config.schema import Carrier, Config, Route, SegmentationProfile

__all__ = ["FixedRoute", "RouteTable"]


class RouteTable:
    __slots__ = ("_by_country", "_by_prefix", "_carriers", "_default", "_max_prefix", "_of_route")

    def __init__(self, config: Config) -> None:
        self._by_prefix: dict[str, Route] = {}
        self._by_country: dict[str, Route] = {}
        self._default: Route | None = None
        for route in config.routes:
            if route.prefix is not None:
                self._by_prefix[route.prefix.lstrip("+")] = route
            elif route.country is not None:
                self._by_country[route.country] = route
            else:
                self._default = route
        self._max_prefix = max((len(p) for p in self._by_prefix), default=0)
        self._carriers = {c.name: c for c in config.carriers}
        # route (by identity: the config's objects) -> its carriers; planning asks
        # for them at every number it routes.
        self._of_route: dict[int, tuple[Route, tuple[Carrier, ...]]] = {}

    def lookup(self, digits: str, country: str | None) -> Route | None:
        """Route for E.164 ``digits`` (no '+') in ``country`` (ISO alpha-2), or None."""
        for length in range(min(self._max_prefix, len(digits)), 0, -1):
            route = self._by_prefix.get(digits[:length])
            if route is not None:
                return route
        if country is not None and (route := self._by_country.get(country)) is not None:
            return route
        return self._default

    def carriers(self, route: Route) -> tuple[Carrier, ...]:
        """The route's carriers, weighted ones first, then failover order."""
        known = self._of_route.get(id(route))
        if known is not None and known[0] is route:
            return known[1]
        carriers = tuple(self._carriers[name] for name in route.carrier_names)
        self._of_route[id(route)] = (route, carriers)
        return carriers

    def profile(self, route: Route) -> SegmentationProfile:
        """The route's segmentation profile (config.load checked they all agree)."""
        return self._carriers[route.carriers[0].carrier].segmentation


class FixedRoute(RouteTable):
    """Every number takes one route: the sends of a ``psk_test_`` key, a preflight
    self-test probe of a network with its own ``route``."""

    __slots__ = ("_route",)

    def __init__(self, config: Config, route: Route) -> None:
        super().__init__(config)
        self._route = route

    def lookup(self, digits: str, country: str | None) -> Route | None:
        return self._route
