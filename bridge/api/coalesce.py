"""uvicorn's httptools protocol writing an answer's head and body with one system call.

uvicorn writes the status line and headers when the app sends
``http.response.start`` and the body at ``http.response.body``: two
``write`` calls on the socket for every answer, each a trip through the
kernel's TCP stack and a wake-up of the client. A single send's answer is a
few hundred bytes, so the second write is about as dear as the first
(docs/api.md "Throughput"). Here the connection's transport holds a head
back until the body's write, and writes both at once. A head is never held
past the loop's next turn (a streamed answer whose first chunk comes later,
an app that fails after its head): a callback scheduled with it writes it
alone then, and closing the transport writes it first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpToolsProtocol"]

_HEAD_END = b"\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 "


class _HeadHoldingTransport:
    """A transport that joins a response head with the write that follows it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif (
            data.startswith(b"HTTP/1.1 ")
            and data.endswith(_HEAD_END)
            and not data.startswith(_CONTINUE)
        ):
            # A head alone (uvicorn writes a whole error answer in one piece): its
            # body comes next, in this turn of the loop for every non-streamed answer.
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadHoldingTransport(transport, self.loop))  # type: ignore[arg-type]
