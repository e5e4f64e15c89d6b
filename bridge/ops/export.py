"""The Prometheus export: a custom collector over the plain counters, read when scraped.

``render_metrics(registry)`` is the text format (``prometheus_client``'s own
``generate_latest``); ``make_registry(collect)`` builds a registry with a collector
that calls ``collect()`` (a list of metric families) and the process collector
(CPU seconds, resident memory, open files). The API process can build its own
families with ``http_families`` and render them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bridge.ops.counters import Histogram
from bridge.smpp.constants import CommandId

__all__ = ["CONTENT_TYPE", "daemon_families", "http_families", "make_registry", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
P = "smpp_bridge_"
THROTTLE_STATUSES = (0x58, 0x14)  # ESME_RTHROTTLED, ESME_RMSGQFUL (SMPP 3.4 section 5.1.3)


class _Callback(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return list(self._collect())


def make_registry(collect: Callable[[], Iterable[Metric]], *, process: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Callback(collect))
    if process:
        ProcessCollector(registry=registry)
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def _hist(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    family.add_metric(labels, hist.buckets(), hist.sum)


def _command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08x}"


def http_families(requests: Mapping[tuple[str, int], int], prefix: str = P) -> list[Metric]:
    """HTTP requests by route and status code."""
    family = CounterMetricFamily(prefix + "http_requests", "HTTP requests by route and status",
                                 labels=["route", "status"])  # fmt: skip
    for (route, status), n in sorted(requests.items()):
        family.add_metric([route, str(status)], n)
    return [family]


def daemon_families(stats: Any, *, parts: Mapping[str, int] | None = None,
                    outbox: Mapping[str, int] | None = None, database_up: bool = True) -> list[Metric]:
    """Families of one daemon's ``DaemonStats`` (bridge/dispatch/stats.py), and the
    counts the sampler read from the database (parts by state, webhook outbox by state)."""
    out: list[Metric] = []
    cl = ["carrier"]
    queue = HistogramMetricFamily(P + "queue_to_submit_seconds", "Enqueue to claimed for submit", labels=cl)
    resp = HistogramMetricFamily(P + "submit_response_seconds", "submit_sm written to submit_sm_resp read",
                                 labels=cl)  # fmt: skip
    receipt = HistogramMetricFamily(P + "submit_receipt_seconds", "submit_sm written to its receipt read",
                                    labels=cl)  # fmt: skip
    responses = CounterMetricFamily(P + "responses", "Responses read, by request command and command_status",
                                    labels=["carrier", "command", "status"])  # fmt: skip
    throttles = CounterMetricFamily(P + "throttle_events", "submit_sm answered 0x58 or 0x14",
                                    labels=["carrier", "status"])  # fmt: skip
    receipts = CounterMetricFamily(P + "receipts", "Receipts read, by state", labels=["carrier", "state"])
    parked = CounterMetricFamily(P + "receipts_parked", "Receipts parked (id not known yet)", labels=cl)
    for name in sorted(stats.by_carrier):
        counts = stats.by_carrier[name]
        m = counts.metrics
        _hist(queue, [name], m.queue_wait)
        _hist(resp, [name], m.resp)
        _hist(receipt, [name], m.receipt)
        statuses = m.all_statuses()
        for (command, status), n in sorted(statuses.items()):
            responses.add_metric([name, _command_name(command), f"0x{status:08x}"], n)
        for status in THROTTLE_STATUSES:
            throttles.add_metric([name, f"0x{status:08x}"], statuses.get((int(CommandId.SUBMIT_SM), status), 0))
        for state, n in sorted(m.receipt_states.items()):
            receipts.add_metric([name, state], n)
        parked.add_metric([name], counts.parked)
    out += [queue, resp, receipt, responses, throttles, receipts, parked]

    late = CounterMetricFamily(P + "late_responses", "Responses after their timeout", labels=cl)
    unknown = CounterMetricFamily(P + "unknown_outcomes", "Submits resolved unknown (timeout, disconnect)",
                                  labels=cl)  # fmt: skip
    rate = GaugeMetricFamily(P + "send_rate", "Current AIMD send rate (messages/s)", labels=cl)
    max_rate = GaugeMetricFamily(P + "send_rate_max", "Configured tps", labels=cl)
    up = GaugeMetricFamily(P + "bind_up", "1 when the bind is bound", labels=["carrier", "slot", "mode"])
    used = GaugeMetricFamily(P + "window_used", "Requests outstanding on the bind", labels=["carrier", "slot"])
    size = GaugeMetricFamily(P + "window_size", "The bind's window", labels=["carrier", "slot"])
    for name, health in sorted(stats.carriers.items()):
        late.add_metric([name], health.late_responses)
        unknown.add_metric([name], health.unknown)
        rate.add_metric([name], health.throttle_rate)
        max_rate.add_metric([name], health.max_rate)
        for b in health.binds:
            up.add_metric([name, str(b.slot), b.mode], 1 if b.bound else 0)
            used.add_metric([name, str(b.slot)], b.window_used)
            size.add_metric([name, str(b.slot)], b.window_size)
    out += [late, unknown, rate, max_rate, up, used, size]

    totals = CounterMetricFamily(P + "pipeline", "Pipeline counters since start", labels=["event"])
    for key in ("claimed", "submitted", "accepted", "rejected", "unknown", "resubmitted", "released",
                "receipts", "receipts_applied", "receipts_folded", "receipts_parked", "receipts_duplicate", "parked_applied",
                "unmatched", "mo", "sent", "failed", "swept", "recovered", "late_accepted", "late_applied",
                "late_dropped", "nacked_db_down", "writer_errors", "inbound_errors"):  # fmt: skip
        totals.add_metric([key], getattr(stats, key, 0))
    out.append(totals)
    flush_rows = HistogramMetricFamily(P + "writer_flush_rows", "Rows per writer commit", labels=[])
    _hist(flush_rows, [], stats.flush_rows)
    flush_s = HistogramMetricFamily(P + "writer_commit_seconds", "Writer flush time to commit", labels=[])
    _hist(flush_s, [], stats.flush_seconds)
    out += [flush_rows, flush_s]
    db = GaugeMetricFamily(P + "database_up", "1 when the database answers", value=1 if database_up else 0)
    out.append(db)
    if parts is not None:
        depth = GaugeMetricFamily(P + "parts", "Message parts not final, by state", labels=["state"])
        for state, n in sorted(parts.items()):
            depth.add_metric([state], n)
        out.append(depth)
    if outbox is not None:
        hooks = GaugeMetricFamily(P + "webhook_outbox", "Webhook outbox rows by state (delivered, dead, ...)",
                                  labels=["state"])  # fmt: skip
        for state, n in sorted(outbox.items()):
            hooks.add_metric([state], n)
        backlog = GaugeMetricFamily(P + "webhook_backlog", "Webhook deliveries owed (pending)",
                                    value=outbox.get("pending", 0))  # fmt: skip
        out += [hooks, backlog]
    return out
