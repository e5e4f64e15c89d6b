"""A real local HTTP receiver for webhook tests: h11 over trio, keep-alive, scripted answers."""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import h11
import trio


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float  # trio time


@dataclass
class Behaviour:
    """How the receiver answers a request: ``status`` after ``delay``; or hang; or reset."""

    status: int = 200
    delay: float = 0.0
    hang: bool = False
    reset: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b"ok"


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # path -> behaviour (or a callable of the request); default 200
    routes: dict[str, Behaviour | Callable[[Received], Behaviour]] = field(default_factory=dict)
    connections: int = 0
    changed: trio.Event = field(default_factory=trio.Event)

    def url(self, path: str = "/hook", *, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.target == path]

    async def wait_for(self, count: int, path: str | None = None, *, limit: float = 10.0) -> list[Received]:
        with trio.fail_after(limit):
            while len(self.on(path) if path else self.received) < count:
                await self.changed.wait()
        return self.on(path) if path else self.received

    def _behaviour(self, request: Received) -> Behaviour:
        rule = self.routes.get(request.target.split("?", 1)[0], Behaviour())
        return rule(request) if callable(rule) else rule

    async def _serve(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request: h11.Request | None = None
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                got = Received(
                    method=request.method.decode(), target=request.target.decode(),
                    headers={k.decode().lower(): v.decode() for k, v in request.headers},
                    body=body, at=trio.current_time(),
                )  # fmt: skip
                behaviour = self._behaviour(got)
                self.received.append(got)
                self.changed.set()
                self.changed = trio.Event()
                if behaviour.hang:
                    await trio.sleep_forever()
                if behaviour.reset:
                    sock = stream.socket if isinstance(stream, trio.SocketStream) else None
                    if sock is not None:
                        import socket
                        import struct

                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if behaviour.delay:
                    await trio.sleep(behaviour.delay)
                body = b"" if behaviour.status in (204, 304) else behaviour.body
                headers = [*behaviour.headers]
                if behaviour.status not in (204, 304):
                    headers.append(("Content-Length", str(len(body))))
                out = conn.send(h11.Response(status_code=behaviour.status, headers=headers))
                if body:
                    out += conn.send(h11.Data(data=body))  # type: ignore[operator]
                out += conn.send(h11.EndOfMessage())  # type: ignore[operator]
                await stream.send_all(out)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError):
            return
        finally:
            await trio.aclose_forcefully(stream)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1 (a random port), for the body of the ``async with``."""
    rec = Receiver()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, rec._serve, 0, host="127.0.0.1"))
        rec.port = listeners[0].socket.getsockname()[1]
        yield rec
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def tls_receiver(server_context: ssl.SSLContext) -> AsyncIterator[Receiver]:
    """Like ``receiver`` over TLS."""
    rec = Receiver()

    async def handler(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, server_context, server_side=True, https_compatible=True)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError):
            await trio.aclose_forcefully(stream)
            return
        await rec._serve(tls)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        rec.port = listeners[0].socket.getsockname()[1]
        yield rec
        nursery.cancel_scope.cancel()
