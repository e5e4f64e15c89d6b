"""A hostile SMSC: binds like an SMSC, then misbehaves as its scenario says.

It works on raw bytes on purpose: it cuts frames by command_length (bounded),
reads only their 16-octet headers, and writes whatever its scenario wants
(garbage, floods, responses nobody asked for, message ids of any length or
encoding), so it shares neither the decoder nor the state machine of the code
under test. What it always does: answer the bind (SMPP 3.4 section 4.1),
enquire_link (4.11) and unbind (4.2); everything else is the scenario's.

A ``Scenario`` is two hooks, both optional:

- ``after_bind(peer)``: runs once, beside the reader, after the bind_resp went
  out (floods, garbage, an unbind, closing the connection);
- ``on_submit(peer, sequence_number)``: each submit_sm (answer it, twice, never,
  with an odd message id, after a delay ...).

Add a scenario by writing a function that returns one (see the ones below);
``HostileSmsc`` gives connection ``i`` the ``i``-th scenario and every later
connection ``then`` (well behaved by default), over a trio memory stream
(``connect``, for ``Carrier(connect=...)`` with the autojump clock) or TCP on
127.0.0.1 (``serve``, for a daemon).
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import trio
import trio.testing

_HEADER = struct.Struct(">IIII")
MAX_FRAME = 65536
RESP = 0x80000000
GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x00000001, 0x00000002, 0x00000009
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
DELIVER_SM = 0x00000005
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006
ENQUIRE_LINK, ENQUIRE_LINK_RESP = 0x00000015, 0x80000015
UNKNOWN_COMMAND = 0x00000099  # not defined by SMPP 3.4 (section 5.1.2.1)
_BINDS = frozenset({BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER})


def pdu(command_id: int, sequence_number: int, body: bytes = b"", status: int = 0) -> bytes:
    """One frame, header and ``body`` as given (nothing checked: that is the point)."""
    return _HEADER.pack(16 + len(body), command_id, status, sequence_number) + body


def submit_sm_resp(sequence_number: int, message_id: bytes | None, status: int = 0) -> bytes:
    """SMPP 3.4 section 4.4.2; ``message_id`` raw octets (None: header only)."""
    body = b"" if message_id is None else message_id + b"\0"
    return pdu(SUBMIT_SM_RESP, sequence_number, body, status)


@dataclass
class Peer:
    """One connection of the ESME, as the hostile SMSC sees it."""

    stream: trio.abc.Stream
    scenario: Scenario
    index: int
    nursery: trio.Nursery
    headers: list[tuple[int, int, int, int]] = field(default_factory=list)  # every frame received
    submits: list[int] = field(default_factory=list)  # sequence_numbers of the submit_sm
    held: list[int] = field(default_factory=list)  # submits the scenario keeps unanswered
    bound: trio.Event = field(default_factory=trio.Event)
    done: trio.Event = field(default_factory=trio.Event)  # the connection is over
    closed: bool = False
    ids: int = 0
    _lock: trio.StrictFIFOLock = field(default_factory=trio.StrictFIFOLock)

    async def send(self, data: bytes) -> None:
        """Write raw bytes; a peer that went away is not an error here."""
        if self.closed or not data:
            return
        async with self._lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.closed = True

    async def answer(self, sequence_number: int, message_id: bytes | None = None, status: int = 0) -> None:
        if message_id is None and status == 0:
            self.ids += 1
            message_id = f"h{self.index}-{self.ids}".encode()
        await self.send(submit_sm_resp(sequence_number, message_id, status))

    async def close(self) -> None:
        self.closed = True
        await trio.aclose_forcefully(self.stream)

    def received(self, command_id: int) -> list[tuple[int, int, int, int]]:
        return [h for h in self.headers if h[1] == command_id]

    async def serve(self) -> None:
        buf = bytearray()
        try:
            while not self.closed:
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    return
                buf += data
                while len(buf) >= 16:
                    length, cid, status, seq = _HEADER.unpack_from(buf)
                    if not 16 <= length <= MAX_FRAME:
                        return  # the ESME broke the framing: this SMSC hangs up
                    if len(buf) < length:
                        break
                    del buf[:length]
                    self.headers.append((length, cid, status, seq))
                    await self._on_frame(cid, seq)
                    if self.closed:
                        return
        finally:
            self.closed = True
            self.done.set()
            await trio.aclose_forcefully(self.stream)

    async def _on_frame(self, cid: int, seq: int) -> None:
        if cid in _BINDS:
            status = self.scenario.bind_status
            await self.send(pdu(cid | RESP, seq, b"hostile\0" if status == 0 else b"", status))
            if status == 0 and not self.bound.is_set():
                self.bound.set()
                if self.scenario.after_bind is not None:
                    self.nursery.start_soon(self.scenario.after_bind, self)
        elif cid == ENQUIRE_LINK:
            await self.send(pdu(ENQUIRE_LINK_RESP, seq))
        elif cid == UNBIND:
            await self.send(pdu(UNBIND_RESP, seq))
            await self.close()
        elif cid == SUBMIT_SM:
            self.submits.append(seq)
            await self.scenario.on_submit(self, seq)


async def answer_ok(peer: Peer, seq: int) -> None:
    await peer.answer(seq)


async def hold(peer: Peer, seq: int) -> None:
    peer.held.append(seq)


@dataclass(frozen=True)
class Scenario:
    name: str
    after_bind: Callable[[Peer], Awaitable[None]] | None = None
    on_submit: Callable[[Peer, int], Awaitable[None]] = answer_ok
    bind_status: int = 0


WELL_BEHAVED = Scenario("well_behaved")


# --- scenarios ----------------------------------------------------------------------------

def garbage(size: int = 4096, seed: int = 1) -> Scenario:
    """Random bytes after the bind: a command_length nobody can trust, sooner or later."""
    data = random.Random(seed).randbytes(size)

    async def after_bind(peer: Peer) -> None:
        await peer.send(data)

    return Scenario(f"garbage_{size}", after_bind=after_bind)


def bad_length(command_length: int = 0xFFFFFFFF) -> Scenario:
    """One header with an impossible command_length (SMPP 3.4 section 3.2)."""

    async def after_bind(peer: Peer) -> None:
        await peer.send(_HEADER.pack(command_length, SUBMIT_SM_RESP, 0x45, 77))

    return Scenario(f"bad_length_{command_length}", after_bind=after_bind)


def flood(frame: Callable[[int], bytes], count: int, name: str) -> Scenario:
    """``count`` frames after the bind, written in a few large chunks."""

    async def after_bind(peer: Peer) -> None:
        for start in range(0, count, 1000):
            await peer.send(b"".join(frame(i) for i in range(start, min(count, start + 1000))))

    return Scenario(name, after_bind=after_bind)


def nack_flood(count: int = 10_000) -> Scenario:
    """Unsolicited generic_nacks (section 4.3) for sequence numbers never sent."""
    return flood(lambda i: pdu(GENERIC_NACK, 1_000_000 + i, status=0x00000003), count, "nack_flood")


def unknown_commands(count: int = 10_000) -> Scenario:
    """Requests with a command_id SMPP 3.4 does not define: each earns a generic_nack."""
    return flood(lambda i: pdu(UNKNOWN_COMMAND, 1 + i), count, "unknown_commands")


def unsolicited_responses(count: int = 100) -> Scenario:
    """submit_sm_resp for sequence numbers the ESME never used."""
    return flood(lambda i: submit_sm_resp(2_000_000 + i, b"ghost"), count, "unsolicited_responses")


# deliver_sm (SMPP 3.4 section 4.6.1) with empty addresses and no short_message.
EMPTY_DELIVER_SM = b"\0" + b"\0\0\0" + b"\0\0\0" + b"\0\0\0" + b"\0\0" + b"\0\0\0\0\0"


def deliver(count: int = 1, body: bytes = EMPTY_DELIVER_SM) -> Scenario:
    """``count`` deliver_sm after the bind (an MO, a receipt, or a malformed body)."""
    return flood(lambda i: pdu(DELIVER_SM, 0x100 + i, body), count, "deliver")


def duplicate_responses() -> Scenario:
    """Every submit_sm answered twice (the second is unsolicited)."""

    async def on_submit(peer: Peer, seq: int) -> None:
        await peer.answer(seq)
        await peer.answer(seq)

    return Scenario("duplicate_responses", on_submit=on_submit)


def message_id(raw: bytes | None) -> Scenario:
    """Every submit_sm accepted with this message_id, raw octets (70 / 255 characters,
    empty, not UTF-8 ...); None: an ESME_ROK response without a body."""

    async def on_submit(peer: Peer, seq: int) -> None:
        await peer.send(submit_sm_resp(seq, raw))

    return Scenario(f"message_id_{raw!r:.20}", on_submit=on_submit)


def submit_status(status: int, times: int = 1) -> Scenario:
    """The first ``times`` submit_sm answered with ``status`` (no body), the rest OK."""
    count = [0]

    async def on_submit(peer: Peer, seq: int) -> None:
        count[0] += 1
        await peer.answer(seq, status=status if count[0] <= times else 0)

    return Scenario(f"submit_status_0x{status:08X}", on_submit=on_submit)


def late_answers(delay: float, raw: bytes | None = b"late-1") -> Scenario:
    """Every submit_sm accepted ``delay`` seconds later (after the ESME's timeout)."""

    async def on_submit(peer: Peer, seq: int) -> None:
        async def later() -> None:
            await trio.sleep(delay)
            await peer.send(submit_sm_resp(seq, raw))

        peer.nursery.start_soon(later)

    return Scenario("late_answers", on_submit=on_submit)


def close_mid_window(after: int) -> Scenario:
    """Hold the first ``after`` submits unanswered, then hang up."""

    async def on_submit(peer: Peer, seq: int) -> None:
        peer.held.append(seq)
        if len(peer.held) >= after:
            await peer.close()

    return Scenario(f"close_mid_window_{after}", on_submit=on_submit)


def unbind_after_bind() -> Scenario:
    """The SMSC leaves at once (section 4.2: it may unbind too)."""

    async def after_bind(peer: Peer) -> None:
        await peer.send(pdu(UNBIND, 0x7000_0001))

    return Scenario("unbind", after_bind=after_bind)


def hang_up_after_bind() -> Scenario:
    async def after_bind(peer: Peer) -> None:
        await peer.close()

    return Scenario("hang_up", after_bind=after_bind)


def silent() -> Scenario:
    """Bound, then never answers a submit_sm (keeps answering enquire_link)."""
    return Scenario("silent", on_submit=hold)


def trickle(data: bytes, interval: float) -> Scenario:
    """``data`` one octet at a time, ``interval`` seconds apart (a slow or stuck peer)."""

    async def after_bind(peer: Peer) -> None:
        for octet in data:
            await peer.send(bytes([octet]))
            await trio.sleep(interval)

    return Scenario("trickle", after_bind=after_bind)


def oversized(length: int) -> Scenario:
    """One deliver_sm of ``length`` octets (a header that announces it, then the body)."""

    async def after_bind(peer: Peer) -> None:
        await peer.send(pdu(DELIVER_SM, 0x10, b"\0" * (length - 16)))

    return Scenario(f"oversized_{length}", after_bind=after_bind)


def combined(*scenarios: Scenario) -> Scenario:
    """Every ``after_bind`` in turn; the last scenario's ``on_submit``."""

    async def after_bind(peer: Peer) -> None:
        for scenario in scenarios:
            if scenario.after_bind is not None:
                await scenario.after_bind(peer)

    name = "+".join(s.name for s in scenarios)
    return Scenario(name, after_bind=after_bind, on_submit=scenarios[-1].on_submit)


# --- the server -------------------------------------------------------------------------------

class HostileSmsc:
    """Connection ``i`` gets ``scenarios[i]``, later ones ``then``."""

    def __init__(self, nursery: trio.Nursery, scenarios: Sequence[Scenario], then: Scenario = WELL_BEHAVED) -> None:
        self.nursery = nursery
        self.scenarios = list(scenarios)
        self.then = then
        self.peers: list[Peer] = []
        self.port: int | None = None
        self._new_peer = trio.Event()

    def _peer(self, stream: trio.abc.Stream) -> Peer:
        index = len(self.peers)
        scenario = self.scenarios[index] if index < len(self.scenarios) else self.then
        peer = Peer(stream, scenario, index, self.nursery)
        self.peers.append(peer)
        self._new_peer.set()
        self._new_peer = trio.Event()
        return peer

    async def connect(self, host: str, port: int) -> trio.abc.Stream:
        """For ``Carrier(connect=...)``: a memory stream to a new peer."""
        client, server = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self._peer(server).serve)
        return client

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """TCP on 127.0.0.1, a free port (``self.port``)."""

        async def handler(stream: trio.SocketStream) -> None:
            await self._peer(stream).serve()

        serve = functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
        listeners = await self.nursery.start(serve)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()

    async def wait_peers(self, count: int) -> Peer:
        while len(self.peers) < count:
            await self._new_peer.wait()
        return self.peers[count - 1]

    async def wait_bound(self, count: int) -> Peer:
        peer = await self.wait_peers(count)
        await peer.bound.wait()
        return peer
