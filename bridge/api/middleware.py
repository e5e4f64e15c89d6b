"""Request ids, one JSON log line per request (no bodies, numbers masked), metrics.

A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per
request). The request id is the caller's ``X-Request-Id`` when it is a short
token, else a fresh one; it is echoed in the answer and bound to every log line
of the request (structlog contextvars).
"""

from __future__ import annotations

import collections
import re
import secrets
import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from bridge.ops.export import http_families, make_registry

__all__ = ["Metrics", "RequestLog", "route_label"]

log = structlog.get_logger("bridge.api")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


class Metrics:
    """The API process's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        # The daemon's families too (bridge/ops/export.py): HTTP requests by route and
        # status, and the process's CPU seconds, resident memory and open files.
        self.http: collections.Counter[tuple[str, int]] = collections.Counter()
        self.registry = make_registry(lambda: http_families(self.http))
        self.requests = Counter(
            "smpp_bridge_api_requests", "HTTP requests answered", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "smpp_bridge_api_request_seconds", "Time to answer, by route", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )  # fmt: skip
        self.recipients = Counter(
            "smpp_bridge_api_recipients", "Recipients of accepted sends, by status", ["status"],
            registry=self.registry,
        )  # fmt: skip


def route_label(path: str) -> str:
    if path.startswith("/api/v1/sms/"):
        return "/api/v1/sms/send" if path == "/api/v1/sms/send" else "/api/v1/sms/{id}"
    if path in ("/api/v1/balance", "/health", "/health/live", "/health/ready", "/metrics", "/api/v1/openapi.json"):
        return path
    return "other"


class RequestLog:
    def __init__(self, app: Any, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value.decode("ascii")
        if request_id is None:
            request_id = secrets.token_hex(8)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                label = route_label(scope["path"])
                self.metrics.requests.labels(label, str(status)).inc()
                self.metrics.http[label, status] += 1
                self.metrics.seconds.labels(label).observe(elapsed)
                if self.access_log:
                    client = scope.get("client")
                    log.info(
                        "request", method=scope["method"], path=label, status=status,
                        ms=round(elapsed * 1000, 2), client=client[0] if client else None,
                        key_id=scope.get("state", {}).get("key_id"),
                    )  # fmt: skip
