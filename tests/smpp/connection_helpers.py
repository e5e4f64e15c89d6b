"""Helpers for the connection tests: a back-to-back ESME/SMSC pair over a fake wire
(after h11's tests/helpers.py) and raw frame builders."""

from __future__ import annotations

import struct

from bridge.smpp import events as ev
from bridge.smpp.codec import encode
from bridge.smpp.connection import Connection
from bridge.smpp.pdus import BindTransceiver, BindTransceiverResp, Pdu
from bridge.smpp.state import Role, State

HEADER = struct.Struct(">IIII")


def frame(command_id: int, seq: int, status: int = 0, body: bytes = b"") -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, seq) + body


def wire(pdu: Pdu, seq: int | None = None) -> bytes:
    return encode(pdu, seq)


def drain(conn: Connection) -> list[ev.Event]:
    out: list[ev.Event] = []
    for _ in range(100_000):
        event = conn.next_event()
        if event is ev.NEED_DATA:
            return out
        assert isinstance(event, ev.Event)
        out.append(event)
    raise AssertionError("next_event never returned NEED_DATA")


def feed(conn: Connection, data: bytes, now: float = 0.0) -> list[ev.Event]:
    conn.receive_data(data, now=now)
    return drain(conn)


def headers(data: bytes) -> list[tuple[int, int, int, int]]:
    """(length, command_id, status, seq) of every frame in ``data``."""
    out = []
    i = 0
    while i < len(data):
        h = HEADER.unpack_from(data, i)
        out.append(h)
        i += h[0]
    assert i == len(data)
    return out


class Pair:
    """An ESME and an SMSC connected by a lossless in-memory wire."""

    def __init__(self, **kwargs: object) -> None:
        self.esme = Connection(Role.ESME, **kwargs)  # type: ignore[arg-type]
        self.smsc = Connection(Role.SMSC, **kwargs)  # type: ignore[arg-type]

    def to_smsc(self, now: float = 0.0) -> list[ev.Event]:
        data = self.esme.data_to_send()
        if data:
            self.smsc.receive_data(data, now=now)
        return drain(self.smsc)

    def to_esme(self, now: float = 0.0) -> list[ev.Event]:
        data = self.smsc.data_to_send()
        if data:
            self.esme.receive_data(data, now=now)
        return drain(self.esme)

    def bind(self, now: float = 0.0) -> None:
        self.esme.send(BindTransceiver(system_id="bridge", password="pw"), now=now)
        (received,) = self.to_smsc(now)
        assert isinstance(received, ev.PduReceived)
        seq = received.pdu.sequence_number
        self.smsc.send(BindTransceiverResp(sequence_number=seq, system_id="sim"), now=now)
        (bound,) = self.to_esme(now)
        assert bound == ev.Bound(mode=self.esme.mode, system_id="sim")  # type: ignore[arg-type]
        assert self.esme.state is State.BOUND_TRX
        assert self.smsc.state is State.BOUND_TRX
