"""The API process's /health, /health/live, /health/ready and /metrics (docs/api.md).

The same documents as the daemon's ``metrics_listen`` endpoint (bridge/ops), built
with the same pure functions: ``build_health`` for /health (the API runs no
carrier, so ``networks`` is empty and the status says whether the database
answers), ``http_families`` and the process collector (CPU seconds, resident
memory, open files) through ``make_registry`` for /metrics, beside the API's own
request counters and latency histogram.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bridge.ops.export import CONTENT_TYPE, render_metrics
from bridge.ops.health import Snapshot, build_health, iso, ready

__all__ = ["health", "health_live", "health_ready", "metrics"]

_JSON = "application/json"
_STARTED = time.time()


async def _database_up(request: Request) -> bool:
    try:
        async with asyncio.timeout(1.0):
            await request.app.state.api.db.fetchval("SELECT 1")
    except Exception:
        return False
    return True


def health_document(database_up: bool, *, now: float | None = None) -> dict[str, Any]:
    """The daemon's /health shape for a process without carriers: live while the database answers."""
    instance = {
        "name": "api", "hostname": socket.gethostname(), "pid": os.getpid(), "started_at": iso(_STARTED),
        "role": "api",
    }  # fmt: skip
    snap = Snapshot(instance=instance, now_trio=0.0, now_wall=time.time() if now is None else now,
                    database_up=database_up)  # fmt: skip
    doc = build_health(snap)
    doc["status"] = "live" if database_up else "down"
    return {"ok": database_up, **doc}


async def health(request: Request) -> Response:
    up = await _database_up(request)
    return Response(msgspec.json.encode(health_document(up)), status_code=200 if up else 503, media_type=_JSON)


async def health_live(_request: Request) -> Response:
    return Response(b'{"live":true}', media_type=_JSON)


async def health_ready(request: Request) -> Response:
    """As the daemon's, but no carrier to wait for: ready while the database answers."""
    up = ready(Snapshot(instance={}, now_trio=0.0, now_wall=time.time(), database_up=await _database_up(request)),
               need_bind=False)  # fmt: skip
    return Response(msgspec.json.encode({"ready": up}), status_code=200 if up else 503, media_type=_JSON)


async def metrics(request: Request) -> Response:
    return Response(render_metrics(request.app.state.api.metrics.registry), media_type=CONTENT_TYPE)
