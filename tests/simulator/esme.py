"""A minimal ESME for the simulator tests, on the sans-I/O Connection (ESME role).

It owns one trio socket, keeps every event in order, answers each deliver_sm with
``deliver_status`` (ESME_ROK unless a test wants errors), and lets a test wait for a
condition over what arrived. Every wait is bounded by the caller's ``fail_after``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import trio

from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId
from bridge.smpp.events import (
    NEED_DATA,
    BindFailed,
    Bound,
    ConnectionClosed,
    Event,
    PduReceived,
    ResponseReceived,
)
from bridge.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    Pdu,
    SubmitSm,
    Unbind,
)
from bridge.smpp.state import Role

BIND_TYPES = {"tx": BindTransmitter, "rx": BindReceiver, "trx": BindTransceiver}

#: Every ESME not closed yet: helpers.running() closes them when the simulator stops,
#: so a failing test leaks no socket (warnings are errors here).
OPEN: set[Esme] = set()


class Esme:
    def __init__(self, stream: trio.SocketStream, *, window: int = 512) -> None:
        self.stream = stream
        self.conn = Connection(
            Role.ESME, window=window, response_timeout=30.0, enquire_link_interval=None
        )
        self.events: list[Event] = []
        self.delivered: list[DeliverSm] = []  # every deliver_sm, in arrival order
        self.resps: dict[int, Pdu] = {}  # our request's sequence_number -> response
        self.deliver_status = 0
        # Answer deliver_sm with a 16-octet deliver_sm_resp, without the NULL
        # message_id SMPP 3.4 section 4.6.2 asks for (what strict mode refuses).
        self.bodiless_acks = False
        self.raw_out = bytearray()  # written after the connection's own bytes
        self.raw_in = bytearray()  # every octet received, for byte-level checks
        self.closed: ConnectionClosed | None = None
        self.eof = False

    @classmethod
    async def connect(cls, port: int, *, window: int = 512) -> Esme:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        esme = cls(stream, window=window)
        OPEN.add(esme)
        return esme

    async def bind(
        self, system_id: str = "bridge", password: str = "secret", mode: str = "trx"
    ) -> Bound | BindFailed:
        pdu = BIND_TYPES[mode](system_id=system_id, password=password)
        self.send(pdu)
        await self.flush()
        event = await self.wait_for_event(lambda e: isinstance(e, Bound | BindFailed))
        assert isinstance(event, Bound | BindFailed)
        return event

    def send(self, pdu: Pdu) -> int:
        return self.conn.send(pdu, now=trio.current_time())

    def submit(self, **fields: object) -> int:
        fields.setdefault("source_addr", "Bridge")
        fields.setdefault("destination_addr", "447700900123")
        fields.setdefault("short_message", b"hello")
        return self.send(SubmitSm(**fields))  # type: ignore[arg-type]

    async def flush(self) -> None:
        data = self.conn.data_to_send() + bytes(self.raw_out)
        self.raw_out.clear()
        if data:
            await self.stream.send_all(data)

    async def receive(self) -> None:
        """Read one chunk, handle its events, write our answers."""
        try:
            data = await self.stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.eof = True
        self.raw_in += data
        self.conn.receive_data(bytes(data), now=trio.current_time())
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                break
            self.events.append(event)
            if isinstance(event, PduReceived) and isinstance(event.pdu, DeliverSm):
                self.delivered.append(event.pdu)
                if self.bodiless_acks:
                    self.raw_out += struct.pack(">IIII", 16, CommandId.DELIVER_SM_RESP,
                                                self.deliver_status, event.pdu.sequence_number)
                    continue
                self.send(
                    DeliverSmResp(
                        sequence_number=event.pdu.sequence_number,
                        command_status=self.deliver_status,
                    )
                )
            elif isinstance(event, ResponseReceived):
                self.resps[event.pdu.sequence_number] = event.pdu
            elif isinstance(event, ConnectionClosed):
                self.closed = event
        if not self.eof:
            await self.flush()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            if self.eof:
                raise AssertionError("connection closed while waiting")
            await self.receive()

    async def wait_for_event(self, match: Callable[[Event], bool]) -> Event:
        """The first matching event that arrives from now on."""
        seen = len(self.events)
        while True:
            for event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            if self.eof:
                raise AssertionError(f"connection closed; events: {self.events[-5:]}")
            await self.receive()

    async def wait_closed(self) -> None:
        while not self.eof:
            await self.receive()
        await self.aclose()

    async def unbind(self) -> None:
        self.send(Unbind())
        await self.flush()
        await self.wait_closed()

    async def aclose(self) -> None:
        OPEN.discard(self)
        await trio.aclose_forcefully(self.stream)
