"""An in-test TCP proxy between the daemon and PostgreSQL that can cut the database off.

``reset()``: every proxied connection is closed with a TCP RST (SO_LINGER 0) and new
ones are refused the same way until ``restore()``. ``blackhole()``: connections stay
open but nothing is forwarded any more, and new ones are accepted and never answered,
like a dead network path; ``restore()`` then resets those connections (what a
timed-out path ends in) and forwards again. The shared server is never touched.
"""

from __future__ import annotations

import socket
import struct

import trio


class PgProxy:
    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self.mode = "pass"  # pass | reset | blackhole
        self._streams: set[trio.SocketStream] = set()
        self._changed = trio.Event()
        self.connections = 0

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started(self.port)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    @staticmethod
    def _rst(stream: trio.SocketStream) -> None:
        sock = stream.socket
        if sock.fileno() == -1:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        trio.lowlevel.notify_closing(sock)
        sock.close()

    def _set(self, mode: str) -> None:
        self.mode = mode
        self._changed.set()
        self._changed = trio.Event()

    def reset(self) -> None:
        self._set("reset")
        for stream in list(self._streams):
            self._rst(stream)

    def blackhole(self) -> None:
        self._set("blackhole")

    def restore(self) -> None:
        held = list(self._streams) if self.mode == "blackhole" else []
        self._set("pass")
        for stream in held:
            self._rst(stream)

    async def _handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        if self.mode == "reset":
            self._rst(client)
            return
        if self.mode == "blackhole":
            self._streams.add(client)
            await self._changed.wait()  # accepted, never answered; restore() resets it
            self._streams.discard(client)
            return
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        except OSError:
            self._rst(client)
            return
        self._streams.add(client)
        self._streams.add(server)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, client, server, nursery.cancel_scope)
                nursery.start_soon(self._pump, server, client, nursery.cancel_scope)
        finally:
            self._streams.discard(client)
            self._streams.discard(server)
            for s in (client, server):
                self._rst(s)

    async def _pump(self, src: trio.SocketStream, dst: trio.SocketStream, scope: trio.CancelScope) -> None:
        try:
            while True:
                data = await src.receive_some(65536)
                if not data:
                    break
                while self.mode == "blackhole":
                    await self._changed.wait()  # dropped on the floor meanwhile
                    data = b""
                if self.mode != "pass":
                    break
                if data:
                    await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        scope.cancel()
