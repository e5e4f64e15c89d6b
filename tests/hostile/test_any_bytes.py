"""Property: whatever bytes the SMSC sends after the bind, the carrier's Session
neither raises nor needs its fault net. The only outcomes are PDUs answered,
protocol errors answered on the wire, or a closed bind (which the pool binds
again); every submit in flight gets exactly one answer once the bind closes.

The real Session over a trio memory stream, the autojump clock (a response
timeout or an enquire_link is a jump, not a wait). The bytes are random octets
mixed with frames that have a well-formed header (known and unknown
command_ids, small sequence numbers that hit the submits in flight) and a
random body, so the decoder's body paths are reached too.
"""

from __future__ import annotations

import struct

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.carrier import Inbound, LateResponse, Session, UnknownReason
from bridge.carrier.session_loop import SubmitResult
from bridge.smpp.constants import CommandId
from bridge.smpp.pdus import Pdu
from tests.carrier.test_carrier_memory import config, part

_HEADER = struct.Struct(">IIII")
_COMMAND_IDS = [int(c) for c in CommandId] + [0x00000099, 0x80000099, 0x00010200]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=80))
    cid = draw(st.sampled_from(_COMMAND_IDS))
    status = draw(st.sampled_from([0, 0, 0x08, 0x58, 0xFFFFFFFF]))
    seq = draw(st.one_of(st.integers(0, 6), st.integers(0, 0xFFFFFFFF)))
    length = 16 + len(body)
    if draw(st.integers(0, 9)) == 0:  # now and then a length that lies
        length = draw(st.integers(0, 0xFFFFFFFF))
    return _HEADER.pack(length, cid, status, seq) + body


chunks = st.lists(st.one_of(frames(), st.binary(min_size=1, max_size=40)), max_size=12)


async def _scenario(data: list[bytes], eof: bool) -> tuple[bool, Session, dict[int, list[SubmitResult]], bytes]:
    """Bind, put 3 submits in flight, send ``data``; (bind still up, session, answers, bytes written)."""
    client, server = trio.testing.memory_stream_pair()
    send, receive = trio.open_memory_channel[Inbound](100)
    late: list[LateResponse | Pdu] = []
    session = Session(config(window=4), client, password="pw", inbound=send,
                      on_late=lambda s, pdu: late.append(pdu))  # fmt: skip
    answers: dict[int, list[SubmitResult]] = {}
    bound = trio.Event()
    ended: list[BaseException | None] = []

    async def run() -> None:
        try:
            await session.run(on_bound=lambda s: bound.set())
        except BaseException as exc:
            ended.append(exc)
            raise
        ended.append(None)

    async def acks() -> None:
        async for item in receive:
            item.ack(0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        nursery.start_soon(acks)
        bind = await server.receive_some(65536)
        (_, cid, _, seq) = _HEADER.unpack_from(bind)
        await server.send_all(_HEADER.pack(16 + 5, cid | 0x80000000, 0, seq) + b"smsc\0")
        await bound.wait()
        for n in range(3):
            answers[n] = []
            session.submit_nowait(part(n), trio.current_time(), answers[n].append)
        for chunk in data:
            try:
                await server.send_all(chunk)
            except trio.BrokenResourceError:
                break
            await trio.testing.wait_all_tasks_blocked()
        written = bytearray()
        with trio.move_on_after(0.5):
            while chunk := await server.receive_some(65536):
                written += chunk
        if eof:
            await server.aclose()
        await trio.sleep(1)  # autojump: everything that can happen without the peer has
        assert session.internal_errors == 0  # nothing needed the fault net
        if not session.alive:
            assert session.close_reason
            assert all(len(a) == 1 for a in answers.values())  # resolved at the close
        assert all(len(a) <= 1 for a in answers.values())
        alive = session.alive
        answered = {n: list(a) for n, a in answers.items()}  # before the cancel resolves the rest
        nursery.cancel_scope.cancel()
    assert ended in ([], [None]) or isinstance(ended[0], trio.Cancelled)
    return alive, session, answered, bytes(written)


@settings(max_examples=200)
@given(data=chunks, eof=st.booleans())
def test_any_bytes_after_the_bind_never_end_more_than_the_bind(data: list[bytes], eof: bool) -> None:
    trio.run(_scenario, data, eof, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_three_outcomes() -> None:
    """What the property allows, one example each: answered, protocol error answered, closed."""

    async def main() -> None:
        resp = _HEADER.pack(16 + 3, 0x80000004, 0, 2) + b"id\0"  # answers the first submit (seq 2)
        alive, _, answers, _ = await _scenario([resp], eof=False)
        assert alive
        assert type(answers[0][0]).__name__ == "SubmitSmResp" and not answers[1]

        alive, session, _, written = await _scenario([_HEADER.pack(16, 0x00000099, 0, 5)], eof=False)
        assert alive and session.protocol_errors == 1
        assert _HEADER.pack(16, 0x80000000, 0x03, 5) in written  # generic_nack ESME_RINVCMDID

        alive, session, answers, _ = await _scenario([_HEADER.pack(3, 0, 0, 0)], eof=False)
        assert not alive and session.close_reason == "protocol_error"
        assert all(a == [UnknownReason.DISCONNECTED] for a in answers.values())

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
