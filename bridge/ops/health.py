"""The ``/health`` document: carriers and binds in the shape of seed 004's ``GET /networks``.

Pure: ``build_health`` takes a snapshot (what the daemon and the sampler hold) and
returns plain JSON-able data; the daemon's endpoint and the API process both call it.

A carrier's ``status``:

- ``live``: every bind slot of it here is bound and answering (the SMSC answered a
  PDU within ``answer_within`` seconds), its send rate is not held down by
  throttling, and submit_sm_resp comes back in under ``SLOW_ROUND_TRIP``;
- ``degraded``: at least one bind bound, but some down, silent, throttled or slow;
- ``down``: no bind bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.carrier.types import BindHealth, CarrierHealth

__all__ = ["SLOW_ROUND_TRIP", "CarrierView", "Heartbeat", "Snapshot", "build_health", "carrier_status", "iso"]

SLOW_ROUND_TRIP = 1.0  # seconds of submit_sm_resp round trip (15-minute mean) that is "slow"
THROTTLED_SHARE = 0.999  # AIMD rate below this share of tps: the SMSC throttled us lately
THROTTLE_MEMORY = 60.0  # seconds a throttling answer keeps the carrier "throttled"


@dataclass(frozen=True, kw_only=True, slots=True)
class Heartbeat:
    success: bool
    latency_ms: float | None
    at: float  # Unix time


@dataclass(frozen=True, kw_only=True, slots=True)
class CarrierView:
    """What the snapshot knows of one carrier, beside its CarrierHealth."""

    health: CarrierHealth
    slots: Sequence[int] = ()  # bind slots this instance holds
    answer_within: float = 60.0  # seconds: a bound bind silent for longer is not "answering"
    round_trip: float | None = None  # submit -> submit_sm_resp, mean of the last 15 min (s)
    receipt_latency: float | None = None  # submit -> receipt, mean of the last 15 min (s)
    uptime_24h: float | None = None  # percent, from the database
    heartbeats: Sequence[Heartbeat] = ()  # newest first
    throttle_events: int = 0  # 0x58 / 0x14 answers seen
    recent_throttles: int = 0  # of those, in the last THROTTLE_MEMORY seconds


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    instance: Mapping[str, Any]  # name, id, hostname, pid, started_at
    now_trio: float  # trio clock at the snapshot (bind times are on it)
    now_wall: float  # Unix time at the snapshot
    carriers: Sequence[CarrierView] = ()
    database_up: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


def iso(unix: float | None) -> str | None:
    if unix is None:
        return None
    return dt.datetime.fromtimestamp(unix, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _answering(bind: BindHealth, now: float, within: float) -> bool:
    return bind.last_response_at is not None and now - bind.last_response_at <= within


def carrier_status(view: CarrierView, now_trio: float) -> str:
    health = view.health
    bound = [b for b in health.binds if b.bound]
    if not bound:
        return "down"
    silent = any(not _answering(b, now_trio, view.answer_within) for b in bound)
    throttled = _throttled(view)
    slow = view.round_trip is not None and view.round_trip > SLOW_ROUND_TRIP
    if len(bound) < len(health.binds) or silent or throttled or slow:
        return "degraded"
    return "live"


def _throttled(view: CarrierView) -> bool:
    health = view.health
    return view.recent_throttles > 0 or health.throttle_rate < health.max_rate * THROTTLED_SHARE


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _bind(bind: BindHealth, snap: Snapshot, within: float) -> dict[str, Any]:
    last = bind.last_response_at
    return {
        "slot": bind.slot,
        "mode": bind.mode,
        "state": bind.state,
        "bound": bind.bound,
        "answering": bind.bound and _answering(bind, snap.now_trio, within),
        "last_heartbeat_at": iso(None if last is None else snap.now_wall - (snap.now_trio - last)),
        "round_trip_ms": _ms(bind.last_response_rtt),
        "enquire_link_rtt_ms": _ms(bind.enquire_link_rtt),
        "window_used": bind.window_used,
        "window_size": bind.window_size,
        "binds": bind.binds,
        "bind_failures": bind.bind_failures,
        "connect_failures": bind.connect_failures,
    }


def _carrier(view: CarrierView, snap: Snapshot) -> dict[str, Any]:
    health = view.health
    binds = [_bind(b, snap, view.answer_within) for b in health.binds]
    lasts = [b.last_response_at for b in health.binds if b.last_response_at is not None]
    last = max(lasts) if lasts else None
    return {
        "id": health.carrier,
        "name": health.carrier,
        "slug": health.carrier,
        "is_active": True,
        "status": carrier_status(view, snap.now_trio),
        "last_heartbeat_at": iso(None if last is None else snap.now_wall - (snap.now_trio - last)),
        "uptime_24h": None if view.uptime_24h is None else round(view.uptime_24h, 2),
        "avg_latency_ms": _ms(view.receipt_latency),  # submit -> receipt, last 15 minutes
        "round_trip_ms": _ms(view.round_trip),  # submit -> submit_sm_resp, last 15 minutes
        "throttle": {
            "throttled": _throttled(view),
            "recent_events": view.recent_throttles,
            "rate": round(health.throttle_rate, 1),
            "max_rate": health.max_rate,
            "events": view.throttle_events,
        },
        "window_used": sum(b.window_used for b in health.binds),
        "window_size": sum(b.window_size for b in health.binds),
        "late_responses": health.late_responses,
        "unknown": health.unknown,
        "slots": list(view.slots),
        "binds": binds,
        "recent_heartbeats": [
            {"success": h.success, "latency_ms": None if h.latency_ms is None else round(h.latency_ms),
             "at": iso(h.at)}
            for h in view.heartbeats
        ],
    }


def build_health(snap: Snapshot) -> dict[str, Any]:
    """The ``/health`` JSON document (see the module docstring)."""
    networks = [_carrier(view, snap) for view in snap.carriers]
    states = {n["status"] for n in networks}
    if not networks or states == {"down"}:
        overall = "down"
    elif states == {"live"}:
        overall = "live"
    else:
        overall = "degraded"
    return {
        "status": overall if snap.database_up else "degraded",
        "instance": dict(snap.instance),
        "database": {"reachable": snap.database_up},
        "at": iso(snap.now_wall),
        "networks": networks,
        **dict(snap.extra),
    }


def ready(snap: Snapshot, *, need_bind: bool = True) -> bool:
    """``/health/ready``: the database answers and (on the daemon) a carrier is bound."""
    if not snap.database_up:
        return False
    return not need_bind or any(any(b.bound for b in v.health.binds) for v in snap.carriers)
