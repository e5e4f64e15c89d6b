"""Request ids, one JSON log line per request (no bodies, numbers masked), metrics.

A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per
request). The request id is the caller's ``X-Request-Id`` when it is a short
token, else a fresh one; it is echoed in the answer and bound to every log line
of the request (structlog contextvars).
"""

from __future__ import annotations

import collections
import re
import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from bridge import logs
from bridge.entropy import random_bytes
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
        # The labelled children, looked up once per label values: ``labels()``
        # builds a tuple of strings and takes a lock on every call. Routes and
        # statuses are a short fixed list, so these stay small.
        self._answered: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._recipients: dict[str, Any] = {}

    def answered(self, route: str, status: int, seconds: float) -> None:
        """One request answered: its route and status, and how long it took."""
        children = self._answered.get((route, status))
        if children is None:
            children = self._answered[route, status] = (
                self.requests.labels(route, str(status)), self.seconds.labels(route)
            )  # fmt: skip
        children[0].inc()
        children[1].observe(seconds)
        self.http[route, status] += 1

    def accepted(self, status: str, count: int) -> None:
        """``count`` recipients of an accepted send with this status."""
        child = self._recipients.get(status)
        if child is None:
            child = self._recipients[status] = self.recipients.labels(status)
        child.inc(count)


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
            request_id = random_bytes(8).hex()  # secrets.token_hex(8), without a system call
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        # bind and reset rather than ``bound_contextvars``, which reads the whole
        # context first to restore it: the request is a task of its own, so the
        # token restores what was there before.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            try:
                elapsed = time.perf_counter() - started
                label = route_label(scope["path"])
                self.metrics.answered(label, status, elapsed)
                if self.access_log and logs.INFO:  # the fields are not built for a filtered line
                    client = scope.get("client")
                    log.info(
                        "request", method=scope["method"], path=label, status=status,
                        ms=round(elapsed * 1000, 2), client=client[0] if client else None,
                        key_id=scope.get("state", {}).get("key_id"),
                    )  # fmt: skip
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
