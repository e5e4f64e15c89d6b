"""The daemon's HTTP endpoint: h11 over trio streams (docs/design.md "HTTP": about 95 us a request).

``listen(address)`` binds at start-up, so a port in use or an address that is not
one is a start-up error (``ListenError``, one line, exit 2). ``serve`` answers:

- ``/metrics``: the Prometheus text format;
- ``/health``: JSON, carriers and binds (bridge/ops/health.py);
- ``/health/live``: 200 while the process's loop answers;
- ``/health/ready``: 200 when the database answers and a carrier is bound, else 503;
- ``/``: the status page (bridge/ops/page.py).

GET and HEAD only; keep-alive; a request head over 16 KiB, a body, or a client
silent for ``IDLE_TIMEOUT`` ends the connection.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import structlog
import trio

from config.types import split_listen

__all__ = ["IDLE_TIMEOUT", "ListenError", "Response", "listen", "parse_address", "serve"]

log = structlog.get_logger("bridge.ops.http")

IDLE_TIMEOUT = 30.0
MAX_HEAD = 16 * 1024
DEFAULT_HOST = "127.0.0.1"
ROUTES = frozenset({"/", "/index.html", "/metrics", "/health", "/health/live", "/health/ready"})


class ListenError(Exception):
    """``metrics_listen`` cannot be served (bad address, port in use)."""


Response = tuple[int, str, bytes]  # status, content type, body
Handler = Callable[[str], Awaitable[Response]]


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (127.0.0.1)."""
    try:
        return split_listen(text, DEFAULT_HOST)
    except ValueError as exc:
        raise ListenError(f"metrics_listen = {exc}") from None


async def listen(text: str) -> list[trio.SocketListener]:
    host, port = parse_address(text)
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ListenError(
            f"cannot listen on {host}:{port} ([daemon] metrics_listen): {reason}; "
            "stop what listens there or choose another address"
        ) from None


def json_response(data: Any, status: int = 200) -> Response:
    return status, "application/json", json.dumps(data, separators=(",", ":")).encode()


async def serve(listeners: list[trio.SocketListener], handler: Handler,
                counts: dict[tuple[str, int], int] | None = None) -> None:  # fmt: skip
    async def one(stream: trio.SocketStream) -> None:
        try:
            await _connection(stream, handler, counts)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, trio.TooSlowError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    await trio.serve_listeners(one, listeners)


async def _connection(stream: trio.SocketStream, handler: Handler,
                      counts: dict[tuple[str, int], int] | None) -> None:  # fmt: skip
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    while True:
        event = await _next(conn, stream)
        if not isinstance(event, h11.Request):
            return
        target = event.target.decode("ascii", "replace").split("?", 1)[0]
        method = event.method.decode("ascii", "replace")
        if method not in ("GET", "HEAD"):
            status, ctype, body = 405, "text/plain", b"GET only\n"
        else:
            try:
                status, ctype, body = await handler(target)
            except Exception as exc:
                log.error("status endpoint failed", path=target, error=repr(exc), exc_info=exc)
                status, ctype, body = 500, "text/plain", b"internal error\n"
        if counts is not None:
            # Only the known routes are labels: a client must not grow the label set.
            route = target if target in ROUTES else "other"
            counts[(route, status)] = counts.get((route, status), 0) + 1
        headers = [("content-type", ctype), ("content-length", str(len(body))), ("cache-control", "no-store")]
        await _send(conn, stream, h11.Response(status_code=status, headers=headers))
        await _send(conn, stream, h11.Data(data=b"" if method == "HEAD" else body))
        await _send(conn, stream, h11.EndOfMessage())
        # Drain the request's end, then start over for the next one (keep-alive).
        while (event := await _next(conn, stream)) is not h11.PAUSED and not isinstance(event, h11.EndOfMessage):
            if isinstance(event, h11.ConnectionClosed):
                return
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            return


async def _next(conn: h11.Connection, stream: trio.SocketStream) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            with trio.fail_after(IDLE_TIMEOUT):
                data = await stream.receive_some(8192)
            conn.receive_data(data)
            continue
        return event


async def _send(conn: h11.Connection, stream: trio.SocketStream, event: Any) -> None:
    data = conn.send(event)
    if data:
        await stream.send_all(data)
