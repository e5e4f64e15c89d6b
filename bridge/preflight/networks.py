"""Probe networks: the configuration copied into PostgreSQL, and their health (GET /api/networks).

Health comes from probe round trips only (preflight_heartbeats, written when a
self-test session ends: outcomes.py): a probe received is a success with its
latency, a probe lost a failure. An enquire_link measures the link to the SMSC,
not the network, so carrier heartbeats are not used here. The bridge cannot see
a handset's radio: ``signal_bars``, ``signal_dbm`` and ``network_type`` are null
unless a probe reported them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bridge.preflight.ids import uuid7
from bridge.preflight.views import iso
from bridge.store.executor import Executor
from config.schema import Preflight

__all__ = ["RECENT_HEARTBEATS", "networks_health", "sync_networks"]

RECENT_HEARTBEATS = 10
_SYNC_LOCK = 0x50524546534E4331  # "PREFSNC1": one process copies the configuration at a time


async def sync_networks(db: Executor, preflight: Preflight) -> None:
    """Make preflight_networks / preflight_numbers say what the configuration says.

    Networks and numbers that left the configuration stay, inactive: results of
    past sessions still name them.
    """
    nets = preflight.networks
    async with db.transaction() as tx:
        await tx.execute("SELECT pg_advisory_xact_lock($1)", _SYNC_LOCK)
        await tx.execute(
            "INSERT INTO preflight_networks (slug, id, name, carrier, position, is_active)"
            " SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::smallint[], $6::boolean[])"
            " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, carrier = EXCLUDED.carrier,"
            " position = EXCLUDED.position, is_active = EXCLUDED.is_active",
            [n.slug for n in nets], [uuid7() for _ in nets], [n.name for n in nets],
            [n.carrier for n in nets], list(range(len(nets))), [n.is_active for n in nets],
        )  # fmt: skip
        await tx.execute(
            "UPDATE preflight_networks SET is_active = false WHERE slug <> ALL ($1::text[])", [n.slug for n in nets]
        )
        pairs = [(d, n.slug) for n in nets for d in n.digits]
        await tx.execute(
            "INSERT INTO preflight_numbers (digits, network, active)"
            " SELECT d, n, true FROM unnest($1::text[], $2::text[]) AS u(d, n)"
            " ON CONFLICT (digits) DO UPDATE SET network = EXCLUDED.network, active = true",
            [d for d, _ in pairs], [s for _, s in pairs],
        )  # fmt: skip
        await tx.execute(
            "UPDATE preflight_numbers SET active = false WHERE digits <> ALL ($1::text[])", [d for d, _ in pairs]
        )


_HEALTH = """
SELECT w.id, w.name, w.slug, w.is_active,
       h.total, h.ok, h.avg_latency, h.last_at,
       (SELECT success FROM preflight_heartbeats b WHERE b.network = w.slug ORDER BY b.at DESC, b.id DESC LIMIT 1) AS last_ok,
       (SELECT row(b.signal_bars, b.signal_dbm, b.network_type) FROM preflight_heartbeats b
        WHERE b.network = w.slug AND (b.signal_dbm IS NOT NULL OR b.signal_bars IS NOT NULL OR b.network_type IS NOT NULL)
        ORDER BY b.at DESC LIMIT 1) AS radio
FROM preflight_networks w
LEFT JOIN LATERAL (
    SELECT count(*) AS total, count(*) FILTER (WHERE success) AS ok,
           avg(latency_ms) FILTER (WHERE success) AS avg_latency, max(at) AS last_at
    FROM preflight_heartbeats b WHERE b.network = w.slug AND b.at > $1
) h ON true
ORDER BY w.is_active DESC, w.position, w.slug
"""
_RECENT = """
SELECT network, success, latency_ms, signal_dbm, at FROM (
    SELECT b.*, row_number() OVER (PARTITION BY network ORDER BY at DESC, id DESC) AS n
    FROM preflight_heartbeats b WHERE b.at > $1
) x WHERE n <= $2 ORDER BY network, at DESC
"""


def _percent(part: int, whole: int | None) -> float | int | None:
    """100 as the seed writes it; 99.5 with one decimal; None without probes."""
    if not whole:
        return None
    value = round(100 * part / whole, 1)
    return int(value) if value.is_integer() else value


def _status(row: Any) -> str:
    """live: the last probe came back; down: it did not; unknown: no probe in 24 h."""
    if not row["is_active"]:
        return "inactive"
    if not row["total"]:
        return "unknown"
    return "live" if row["last_ok"] else "down"


async def networks_health(db: Executor, now: datetime) -> dict[str, Any]:
    """Seed 004 GET /networks."""
    since = now - timedelta(hours=24)
    rows = await db.fetch(_HEALTH, since)
    recent: dict[str, list[dict[str, Any]]] = {}
    for b in await db.fetch(_RECENT, since, RECENT_HEARTBEATS):
        recent.setdefault(b["network"], []).append(
            {"success": b["success"], "latency_ms": b["latency_ms"], "signal_dbm": b["signal_dbm"], "at": iso(b["at"])}
        )
    out = []
    for r in rows:
        bars, dbm, kind = r["radio"] if r["radio"] is not None else (None, None, None)
        out.append({
            "id": str(r["id"]), "name": r["name"], "slug": r["slug"], "is_active": r["is_active"],
            "status": _status(r), "last_heartbeat_at": iso(r["last_at"]),
            "uptime_24h": _percent(r["ok"], r["total"]),
            "avg_latency_ms": round(r["avg_latency"]) if r["avg_latency"] is not None else None,
            "signal_bars": bars, "signal_dbm": dbm, "network_type": kind,
            "recent_heartbeats": recent.get(r["slug"], []),
        })  # fmt: skip
    return {"networks": out}
