"""The three /api/v1 endpoints straight to their handlers, past Starlette's stack.

Starlette answers a request through its error and exception middlewares, a
router that tries each route's regular expression in turn, and a wrapper per
endpoint; on the hot routes that is a sizeable share of the API's CPU per
request (docs/api.md "Throughput"). The handlers already turn every
exception into an answer (``app._guard``), so here a request that is exactly
one of

- ``POST /api/v1/sms/send``,
- ``GET /api/v1/sms/{id}`` (``id``: one path segment, as Starlette's ``{id}``),
- ``GET /api/v1/balance``,

goes to its handler directly; everything else (other methods, other paths,
``HEAD``, trailing slashes) goes through Starlette as before, so the answers
are the same either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FastPath"]

Handler = Callable[[Request], Awaitable[Response]]

_SMS = "/api/v1/sms/"


class FastPath:
    __slots__ = ("_app", "_balance", "_send", "_status")

    def __init__(self, app: Any, *, send: Handler, status: Handler, balance: Handler) -> None:
        self._app = app
        self._send = send
        self._status = status
        self._balance = balance

    def _route(self, scope: dict[str, Any]) -> Handler | None:
        method, path = scope["method"], scope["path"]
        if method == "POST":
            return self._send if path == "/api/v1/sms/send" else None
        if method != "GET":
            return None
        if path == "/api/v1/balance":
            return self._balance
        if path.startswith(_SMS) and len(path) > len(_SMS) and "/" not in path[len(_SMS) :]:
            scope["path_params"] = {"id": path[len(_SMS) :]}
            return self._status
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = self._route(scope) if scope["type"] == "http" else None
        if handler is None:
            await self._app(scope, receive, send)
            return
        scope["app"] = self._app  # what Starlette sets: the handlers find their state there
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)
