"""A scriptable SMSC for carrier tests: a Connection(Role.SMSC) on the far end of a
trio memory stream, driven by the test (no sockets: safe with the autojump clock).

``FakeNetwork.connect`` is what Carrier(connect=...) calls: each call makes a
memory stream pair and serves the far end with a new FakeSmsc in the test's
nursery, so reconnects and "never two live binds per slot" are observable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio
import trio.testing

from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandStatus
from bridge.smpp.events import (
    NEED_DATA,
    CloseReason,
    ConnectionClosed,
    PduReceived,
    ResponseReceived,
    UnexpectedResponse,
)
from bridge.smpp.pdus import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    Pdu,
    SubmitSm,
    SubmitSmResp,
)
from bridge.smpp.state import Role

#: on_submit(smsc, pdu) -> a command_status to answer now, or None to hold the
#: answer (the test calls smsc.answer(...) later, or never).
OnSubmit = Callable[["FakeSmsc", SubmitSm], int | None]
Answer = Callable[[], int | None]

_BIND_RESP: dict[type[Pdu], type[Pdu]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class CountingStream(trio.abc.Stream):
    """Counts send_all calls (coalescing checks)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.sends = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.sends += 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class FakeSmsc:
    stream: trio.abc.Stream
    bind_status: int = 0
    on_submit: OnSubmit | None = None
    reading: bool = True
    conn: Connection = field(default_factory=lambda: Connection(
        Role.SMSC, window=1000, enquire_link_interval=None))
    binds: list[Pdu] = field(default_factory=list)
    submits: list[SubmitSm] = field(default_factory=list)
    received: list[Pdu] = field(default_factory=list)
    responses: list[Pdu] = field(default_factory=list)  # answers to our deliver_sm etc.
    unsolicited: list[Pdu] = field(default_factory=list)  # answers to raw frames we wrote
    dropped: bytearray = field(default_factory=bytearray)  # what came while not reading
    held: list[SubmitSm] = field(default_factory=list)
    closed: bool = False
    close_reason: CloseReason | None = None
    ids: int = 0
    outstanding_max: int = 0

    def _now(self) -> float:
        return trio.current_time()

    async def serve(self) -> None:
        try:
            while True:
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if data and not self.reading:
                    self.dropped += data
                    continue  # a dead peer: the bytes go nowhere
                self.conn.receive_data(bytes(data), now=self._now())
                while True:
                    event = self.conn.next_event()
                    if event is NEED_DATA:
                        break
                    if isinstance(event, ConnectionClosed):
                        self.close_reason = event.reason
                        await self.flush()
                        return
                    if isinstance(event, PduReceived):
                        self.on_request(event.pdu)
                    elif isinstance(event, ResponseReceived):
                        self.responses.append(event.pdu)
                    elif isinstance(event, UnexpectedResponse):
                        self.unsolicited.append(event.pdu)
                await self.flush()
                if not data:
                    return
        finally:
            self.closed = True
            await trio.aclose_forcefully(self.stream)

    def on_request(self, pdu: Pdu) -> None:
        self.received.append(pdu)
        resp_type = _BIND_RESP.get(type(pdu))
        if resp_type is not None:
            self.binds.append(pdu)
            self.conn.send(resp_type(sequence_number=pdu.sequence_number,  # type: ignore[call-arg]
                                     command_status=self.bind_status, system_id="fake"),
                           now=self._now())
            return
        if isinstance(pdu, SubmitSm):
            self.submits.append(pdu)
            status = self.on_submit(self, pdu) if self.on_submit else 0
            if status is None:
                self.held.append(pdu)
                self.outstanding_max = max(self.outstanding_max, len(self.held))
            else:
                self.answer(pdu, status)

    def answer(self, pdu: SubmitSm, status: int = 0) -> None:
        if pdu in self.held:
            self.held.remove(pdu)
        self.ids += 1
        resp = SubmitSmResp(sequence_number=pdu.sequence_number, command_status=status,
                            message_id=f"id{self.ids}" if status == 0 else None)
        self.conn.send(resp, now=self._now())

    async def answer_held(self, status: int = 0) -> None:
        for pdu in list(self.held):
            self.answer(pdu, status)
        await self.flush()

    async def deliver(self, **fields: object) -> int:
        seq = self.conn.send(DeliverSm(**fields), now=self._now())  # type: ignore[arg-type]
        await self.flush()
        return seq

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.closed:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.closed = True

    async def send_raw(self, data: bytes) -> None:
        """Bytes past our Connection: frames it would not write (tests of hostile peers)."""
        await self.stream.send_all(data)

    async def hang_up(self) -> None:
        self.closed = True
        await trio.aclose_forcefully(self.stream)


@dataclass
class FakeNetwork:
    """Carrier(connect=net.connect): every connect gets a new FakeSmsc."""

    nursery: trio.Nursery
    make: Callable[[trio.abc.Stream], FakeSmsc] = lambda stream: FakeSmsc(stream)
    smscs: list[FakeSmsc] = field(default_factory=list)
    client_streams: list[CountingStream] = field(default_factory=list)
    refuse: bool = False  # connect raises OSError (SMSC down)
    connects: int = 0
    new_smsc: trio.Event = field(default_factory=trio.Event)

    async def connect(self, host: str, port: int) -> trio.abc.Stream:
        self.connects += 1
        if self.refuse:
            raise OSError("connection refused (fake)")
        client, server = trio.testing.memory_stream_pair()
        smsc = self.make(server)
        self.smscs.append(smsc)
        self.nursery.start_soon(smsc.serve)
        counting = CountingStream(client)
        self.client_streams.append(counting)
        self.new_smsc.set()
        self.new_smsc = trio.Event()
        return counting

    @property
    def live(self) -> int:
        return sum(1 for s in self.smscs if not s.closed)

    async def wait_smscs(self, count: int) -> FakeSmsc:
        while len(self.smscs) < count:
            await self.new_smsc.wait()
        return self.smscs[count - 1]


def ok(_: FakeSmsc, __: SubmitSm) -> int:
    return CommandStatus.ESME_ROK


def hold(_: FakeSmsc, __: SubmitSm) -> None:
    return None
