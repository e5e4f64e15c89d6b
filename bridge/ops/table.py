"""``smpp-bridge status`` without a message id: the ``/health`` document as terminal tables.

Pure: ``render_table(health)`` is text. The command fetches ``/health`` from the
daemon's endpoint (``[daemon] metrics_listen``, or ``--url``) and prints it, again
every few seconds with ``--watch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_table"]


def _grid(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return out


def render_table(health: Mapping[str, Any]) -> str:
    inst = health.get("instance", {})
    db = "reachable" if health.get("database", {}).get("reachable") else "UNREACHABLE"
    rates = health.get("rates", {})
    lines = [
        f"instance {inst.get('name')} (id {inst.get('id')}, pid {inst.get('pid')}, {inst.get('hostname')})"
        f"  status {health.get('status')}  database {db}  at {health.get('at')}",
        f"rate: submitted {rates.get('submitted_per_s', 0)}/s, finished {rates.get('finished_per_s', 0)}/s",
        "",
    ]
    nets = health.get("networks", [])
    lines += _grid(
        ["carrier", "status", "binds", "slots", "resp ms", "receipt ms", "uptime 24h", "window", "rate/s",
         "throttled", "last heartbeat"],
        [
            [n.get("name"), n.get("status"), f"{sum(1 for b in n.get('binds', []) if b.get('bound'))}/"
             f"{len(n.get('binds', []))}", ",".join(str(s) for s in n.get("slots", [])), n.get("round_trip_ms"),
             n.get("avg_latency_ms"), n.get("uptime_24h"), f"{n.get('window_used')}/{n.get('window_size')}",
             n.get("throttle", {}).get("rate"), "yes" if n.get("throttle", {}).get("throttled") else "no",
             n.get("last_heartbeat_at")]
            for n in nets
        ],
    )  # fmt: skip
    lines.append("")
    lines += _grid(
        ["carrier", "slot", "mode", "state", "rtt ms", "window", "binds", "failures", "last heartbeat"],
        [
            [n.get("name"), b.get("slot"), b.get("mode"), b.get("state"), b.get("round_trip_ms"),
             f"{b.get('window_used')}/{b.get('window_size')}", b.get("binds"),
             (b.get("bind_failures") or 0) + (b.get("connect_failures") or 0), b.get("last_heartbeat_at")]
            for n in nets for b in n.get("binds", [])
        ],
    )  # fmt: skip
    queue = health.get("queue", {})
    if queue:
        lines += ["", "queue: " + ", ".join(f"{k} {v}" for k, v in sorted(queue.items()))]
    return "\n".join(lines) + "\n"
