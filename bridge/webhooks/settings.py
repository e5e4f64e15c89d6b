"""The sender's knobs and counters (bridge/webhooks/sender.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SenderSettings", "SenderStats"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderSettings:
    batch: int = 500  # rows per claim
    max_in_flight: int = 2000  # rows in hand (queued or being sent), all endpoints
    endpoint_concurrency: int = 8  # connections at once to one origin
    # Requests written at once on one connection of a healthy endpoint (HTTP/1.1
    # pipelining); 1 while it fails (see Sender._worker)
    pipeline_depth: int = 16
    endpoint_queue: int = 1024  # rows waiting for one origin
    lease: float = 60.0  # a claimed row is ours this long
    poll_interval: float = 0.2  # an idle claimer looks again after this
    busy_poll: float = 0.02  # ... and a claimer that found some rows, after this
    busy_delay: float = 1.0  # a row its endpoint has no room for is due again after this
    no_secret_delay: float = 60.0  # an endpoint without a secret: look again after this
    flush_delay: float = 0.05  # outcomes wait this long to go in one statement with others
    flush_batch: int = 500
    retention: float = 7 * 86400.0
    prune_interval: float = 60.0
    breaker_threshold: int = 5
    breaker_pause: float = 5.0
    breaker_max_pause: float = 120.0


@dataclass(slots=True)
class SenderStats:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that failed (retried or not)
    dead: int = 0
    parked: int = 0  # attempts not made because the endpoint was parked
    released: int = 0
    pruned: int = 0
