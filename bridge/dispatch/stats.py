"""Counters of one daemon (``Daemon.stats()``): plain integers, read by the service and tests.

Also the rate-limited warning the counters feed: a carrier whose receipts are
mostly parked (``ParkedWatch``: usually a wrong ``receipt_id_form`` /
``response_id_form``). Other repeated lines go through ``bridge.logs.LogLimiter``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from bridge.ops.counters import FLUSH_ROWS_BOUNDS, FLUSH_SECONDS_BOUNDS, CarrierMetrics, Histogram

__all__ = [
    "PARKED_WARN_INTERVAL",
    "PARKED_WARN_MIN_RECEIPTS",
    "PARKED_WARN_SHARE",
    "CarrierCounts",
    "DaemonStats",
    "ParkedWatch",
]

if TYPE_CHECKING:
    from bridge.dispatch.apply import Applied

log = structlog.get_logger("bridge.dispatch.stats")

# A carrier is warned about when, over one interval, more than PARKED_WARN_SHARE of
# its receipts were parked (their id matched no part) and it sent at least
# PARKED_WARN_MIN_RECEIPTS receipts: one line per carrier per interval at most.
PARKED_WARN_INTERVAL = 60.0
PARKED_WARN_SHARE = 0.5
PARKED_WARN_MIN_RECEIPTS = 100


@dataclass(slots=True)
class CarrierCounts:
    """One carrier's inbound counters since start (``DaemonStats.by_carrier``)."""

    receipts: int = 0  # receipts received (parsed, with a key)
    parked: int = 0  # of those, parked: their id matched no part (yet)
    mo: int = 0  # mobile-originated messages stored
    ids_unusable: int = 0  # submit_sm_resp OK with an id that has no key (docs/dlr.md)
    # latencies and response statuses (bridge/ops/counters.py), shared with the Carrier
    metrics: CarrierMetrics = field(default_factory=CarrierMetrics, compare=False, repr=False)


@dataclass(slots=True)
class DaemonStats:
    """What the pipeline did since start. Counters only grow; ``carriers`` is a snapshot."""

    claimed: int = 0  # parts moved queued -> submitting (write ahead)
    submitted: int = 0  # submit_sm handed to a carrier
    accepted: int = 0  # submit_sm_resp OK, carrier id committed
    rejected: int = 0  # permanent submit error (part failed)
    unknown: int = 0  # outcome unknown after the write (policy applied)
    resubmitted: int = 0  # unknown outcomes put back in the queue
    late_accepted: int = 0  # submit_sm_resp OK after a timeout, handed to the writer
    late_applied: int = 0  # of those, parts that took the id (see apply_flush, migration 0009)
    late_dropped: int = 0  # late responses that could not be used (logged; the outcome stands)
    unknown_matched: int = 0  # unknown parts settled by a parked receipt matched by its fields
    unknown_expired: int = 0  # unknown parts whose grace ended: on_unknown_outcome applied
    receipts_ambiguous: int = 0  # parked receipts that matched several unknown parts: not applied
    released: int = 0  # claimed but no carrier up: back to the queue untouched
    receipts: int = 0  # receipts received
    receipts_applied: int = 0  # matched a part and moved it
    receipts_folded: int = 0  # of those, applied with their response in one UPDATE (docs/flush.md)
    receipts_parked: int = 0  # id not known yet: parked
    receipts_without_key: int = 0  # matched nothing and have no key (cannot be parked): dropped
    receipts_duplicate: int = 0  # matched a part already final: no change
    receipts_malformed: int = 0  # deliver_sm flagged as a receipt that could not be parsed
    inbound_errors: int = 0  # deliver_sm / data_sm whose classification raised (answered 0x64)
    parked_applied: int = 0  # parked receipts applied when their id landed
    unmatched: int = 0  # parked receipts moved to unmatched_receipts after the TTL
    mo: int = 0  # mobile-originated messages stored
    ids_unusable: int = 0  # accepted parts whose message_id has no key (no receipt can match)
    sent: int = 0  # messages that became sent (charged)
    failed: int = 0  # messages that became failed (refunded)
    swept: int = 0  # parts resolved by the receipt timeout
    recovered: int = 0  # 'submitting' parts of dead instances resolved
    # query_sm (query.py): written; answered with a final state (handed to the writer as
    # a receipt); answered not final (ENROUTE, UNKNOWN); refused (error status, e.g.
    # 0x67 ESME_RQUERYFAIL); not answered (timeout, bind lost)
    queries: int = 0
    queries_final: int = 0
    queries_not_final: int = 0
    queries_failed: int = 0
    queries_unanswered: int = 0
    nacked_db_down: int = 0  # receipts / MO answered ESME_RX_T_APPN while the database was down
    writer_flushes: int = 0
    writer_errors: int = 0
    flush_rows: Histogram = field(default_factory=lambda: Histogram(FLUSH_ROWS_BOUNDS))  # rows per commit
    flush_seconds: Histogram = field(default_factory=lambda: Histogram(FLUSH_SECONDS_BOUNDS))  # commit time
    db_up: bool = True
    instance_id: int | None = None
    carriers: dict[str, Any] = field(default_factory=dict)  # name -> CarrierHealth
    by_carrier: dict[str, CarrierCounts] = field(default_factory=dict)  # name -> inbound counters

    def add_flush(self, a: Applied) -> None:
        """The counts of one committed writer flush."""
        self.writer_flushes += 1
        self.accepted += a.accepted
        self.rejected += a.rejected
        self.receipts_applied += a.receipts_applied
        self.receipts_folded += a.folded
        self.receipts_parked += a.receipts_parked
        self.receipts_without_key += a.without_key
        self.receipts_duplicate += a.receipts_duplicate
        self.parked_applied += a.parked_applied
        self.mo += a.mo
        self.sent += a.sent
        self.failed += a.failed
        self.late_applied += a.late_applied
        for name, n in a.parked_by.items():
            self.carrier(name).parked += n
        for name, n in a.mo_by.items():
            self.carrier(name).mo += n

    def carrier(self, name: str) -> CarrierCounts:
        """The counters of carrier ``name`` (created at its first use)."""
        counts = self.by_carrier.get(name)
        if counts is None:
            counts = self.by_carrier[name] = CarrierCounts()
        return counts


class ParkedWatch:
    """Warns when a carrier's receipts are mostly parked over an interval.

    Reads the cumulative ``CarrierCounts`` (no work per receipt): ``check`` runs
    after each writer flush, and once per interval compares each carrier's
    receipts and parkings since the previous look. Receipts that came before
    their response are parked too, then applied; a carrier where that is the
    majority for a whole minute is worth a look as well.
    """

    __slots__ = ("_clock", "_emit", "_next", "_seen", "_stats", "interval", "min_receipts", "share")

    def __init__(
        self,
        stats: DaemonStats,
        clock: Callable[[], float],
        *,
        interval: float = PARKED_WARN_INTERVAL,
        share: float = PARKED_WARN_SHARE,
        min_receipts: int = PARKED_WARN_MIN_RECEIPTS,
        emit: Callable[..., Any] | None = None,
    ) -> None:
        self._stats = stats
        self._clock = clock
        self.interval = interval
        self.share = share
        self.min_receipts = min_receipts
        self._emit = emit or log.warning
        self._next: float | None = None  # the first check starts the first interval
        self._seen: dict[str, tuple[int, int]] = {}

    def check(self) -> None:
        now = self._clock()
        if self._next is None:
            self._next = now + self.interval
        if now < self._next:
            return
        self._next = now + self.interval
        seen = self._seen
        for name, counts in self._stats.by_carrier.items():
            receipts0, parked0 = seen.get(name, (0, 0))
            receipts, parked = counts.receipts - receipts0, counts.parked - parked0
            seen[name] = (counts.receipts, counts.parked)
            if receipts >= self.min_receipts and parked > self.share * receipts:
                self._emit(
                    "most receipts of this carrier match no part; check its receipt_id_form"
                    " and response_id_form (docs/dlr.md)",
                    carrier=name, receipts=receipts, parked=parked, seconds=self.interval,
                )  # fmt: skip
