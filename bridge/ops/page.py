"""The status page (``/``): one self-contained HTML document, rendered on the server.

No script, no external asset (works offline), a ``<meta refresh>`` every few
seconds. It shows carriers with their state and latency, messages per second,
the queue by state and the recent failures by reason: no secrets, no bodies, no
phone numbers. Everything interpolated goes through ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["REFRESH_SECONDS", "render_page"]

REFRESH_SECONDS = 5

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f0f0f0}.num{text-align:right}.muted{color:#777}
.live{color:#176b2c;font-weight:600}.degraded{color:#9a6400;font-weight:600}.down{color:#b00020;font-weight:600}
"""


def _cell(value: Any, cls: str = "") -> str:
    text = "-" if value is None else str(value)
    return f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"


def _state(value: str) -> str:
    safe = value if value in ("live", "degraded", "down") else ""
    return f'<td class="{safe}" data-status="{escape(value)}">{escape(value)}</td>'


def render_page(health: Mapping[str, Any], failures: Mapping[str, int] | None = None) -> str:
    instance = health.get("instance", {})
    rows = []
    for n in health.get("networks", []):
        binds = n.get("binds", [])
        bound = sum(1 for b in binds if b.get("bound"))
        throttle = n.get("throttle", {})
        rows.append(
            "<tr>" + _cell(n.get("name")) + _state(str(n.get("status")))
            + _cell(f"{bound}/{len(binds)}", "num")
            + _cell(n.get("round_trip_ms"), "num") + _cell(n.get("avg_latency_ms"), "num")
            + _cell(n.get("uptime_24h"), "num")
            + _cell(f"{n.get('window_used', 0)}/{n.get('window_size', 0)}", "num")
            + _cell(("throttled " if throttle.get("throttled") else "") + f"{throttle.get('rate', '-')}/s", "num")
            + _cell(n.get("last_heartbeat_at")) + "</tr>"
        )
    bind_rows = []
    for n in health.get("networks", []):
        for b in n.get("binds", []):
            bind_rows.append(
                "<tr>" + _cell(n.get("name")) + _cell(b.get("slot"), "num") + _cell(b.get("mode"))
                + _cell(b.get("state")) + _cell(b.get("round_trip_ms"), "num")
                + _cell(f"{b.get('window_used')}/{b.get('window_size')}", "num")
                + _cell(b.get("last_heartbeat_at")) + "</tr>"
            )
    rates = health.get("rates", {})
    queue = health.get("queue", {})
    queue_rows = "".join("<tr>" + _cell(k) + _cell(v, "num") + "</tr>" for k, v in sorted(queue.items()))
    fail_rows = "".join(
        "<tr>" + _cell(k) + _cell(v, "num") + "</tr>"
        for k, v in sorted((failures or {}).items(), key=lambda kv: -kv[1])
    )
    db = "reachable" if health.get("database", {}).get("reachable") else "UNREACHABLE"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>smpp-bridge {escape(str(instance.get("name", "")))}</title>
<style>{_CSS}</style></head><body>
<h1>smpp-bridge <span id="overall" class="{escape(str(health.get("status")))}">{escape(str(health.get("status")))}</span></h1>
<p class="muted">instance {escape(str(instance.get("name")))} (id {escape(str(instance.get("id")))},
pid {escape(str(instance.get("pid")))}) &middot; database {db} &middot; {escape(str(health.get("at")))}
&middot; refreshes every {REFRESH_SECONDS} s</p>
<p>submitted <b id="rate-submitted">{escape(str(rates.get("submitted_per_s", 0)))}</b> msg/s &middot;
finished <b>{escape(str(rates.get("finished_per_s", 0)))}</b> msg/s</p>
<h2>Carriers</h2>
<table id="carriers"><tr><th>carrier</th><th>state</th><th>binds</th><th>submit&rarr;resp ms</th>
<th>submit&rarr;receipt ms</th><th>uptime 24h %</th><th>window</th><th>rate</th><th>last heartbeat</th></tr>
{"".join(rows) or '<tr><td colspan="9" class="muted">no carrier</td></tr>'}</table>
<h2>Binds</h2>
<table id="binds"><tr><th>carrier</th><th>slot</th><th>mode</th><th>state</th><th>round trip ms</th>
<th>window</th><th>last heartbeat</th></tr>{"".join(bind_rows)}</table>
<h2>Queue (parts not final)</h2>
<table id="queue"><tr><th>state</th><th>parts</th></tr>{queue_rows or '<tr><td colspan="2" class="muted">empty</td></tr>'}</table>
<h2>Failures in the last hour, by reason</h2>
<table id="failures"><tr><th>reason</th><th>messages</th></tr>{fail_rows or '<tr><td colspan="2" class="muted">none</td></tr>'}</table>
</body></html>
"""
