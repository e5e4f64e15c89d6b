"""The exporter without a daemon: histogram buckets, the text format through
prometheus_client's parser, and the Grafana dashboard's queries against it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bridge.carrier.types import BindHealth, CarrierHealth
from bridge.dispatch.stats import DaemonStats
from bridge.ops.counters import CarrierMetrics, Histogram
from bridge.ops.export import daemon_families, http_families, make_registry, render_metrics

ROOT = Path(__file__).resolve().parents[2]


def _stats() -> DaemonStats:
    stats = DaemonStats(submitted=3, sent=2, failed=1)
    m = stats.carrier("sim").metrics
    m.on_response(0x04, 0, 10.0, 0.004)
    m.on_response(0x04, 0x58, 10.0, 0.002)
    m.on_accepted("abc")
    m.on_receipt("abc", "sent", 12.5)
    m.on_receipt("nope", "failed", 13.0)
    m.queue_wait.observe(0.2)
    stats.flush_rows.observe(40)
    stats.flush_seconds.observe(0.01)
    bind = BindHealth(slot=0, mode="trx", state="bound_trx", bound=True, enquire_link_rtt=None, window_used=3,
                      window_size=10, binds=1, bind_failures=0, connect_failures=0)  # fmt: skip
    stats.carriers = {"sim": CarrierHealth(carrier="sim", up=True, can_submit=True, binds=(bind,), throttle_rate=50.0,
                                           max_rate=100.0, throttled=1, late_responses=0, unknown=0)}  # fmt: skip
    return stats


def _scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
    stats = _stats()
    registry = make_registry(lambda: daemon_families(stats, parts={"queued": 7}, outbox={"pending": 4, "delivered": 9})
                             + http_families({("/metrics", 200): 5}))  # fmt: skip
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(render_metrics(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 2.0):
        h.observe(v)
    assert h.buckets() == [("0.1", 2), ("1", 3), ("+Inf", 4)] and h.count == 4


def test_the_text_format_parses_and_carries_the_figures() -> None:
    m = _scrape()
    resp = {s["le"]: v for s, v in m["smpp_bridge_submit_response_seconds_bucket"]}
    assert resp["+Inf"] == 2 and resp["0.0025"] == 1
    assert m["smpp_bridge_submit_receipt_seconds_count"] == [({"carrier": "sim"}, 1.0)]
    assert m["smpp_bridge_submit_receipt_seconds_sum"][0][1] == 2.5
    assert ({"carrier": "sim", "status": "0x00000058"}, 1.0) in m["smpp_bridge_throttle_events_total"]
    assert ({"carrier": "sim", "state": "failed"}, 1.0) in m["smpp_bridge_receipts_total"]
    assert m["smpp_bridge_webhook_backlog"] == [({}, 4.0)]
    assert ({"route": "/metrics", "status": "200"}, 5.0) in m["smpp_bridge_http_requests_total"]
    assert m["smpp_bridge_window_used"] == [({"carrier": "sim", "slot": "0"}, 3.0)]


def test_untracked_submits_are_pruned() -> None:
    m = CarrierMetrics()
    m.last_sent_at = 1.0
    m.on_accepted("old")
    m.last_sent_at = 5000.0
    m.on_accepted("new")
    assert m.prune(now=5000.0) == 1 and m.tracked == 1


def test_the_grafana_dashboard_queries_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    exported = set(_scrape())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b(?:smpp_bridge|process)_[a-z_]+\b", e)}
    assert names and names <= exported, names - exported
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
