"""An ESME and an SMSC connection back to back, driven by hypothesis through random
operations: binds accepted or refused, submits and deliveries, answers in any order
(with errors and duplicates), partial byte transfers, time jumps, unbinds from
either side and disconnects.

Invariants: the window is never over its size; sequence_numbers are unique
among the outstanding requests; every request an application sent gets exactly one
outcome (a response, a ResponseTimeout, or a place in ConnectionClosed.unanswered);
send raises LocalProtocolError exactly when the state table or the window says no.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bridge.smpp import events as ev
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId, CommandStatus
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import (
    PDU_TYPES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    DataSm,
    DeliverSm,
    EnquireLink,
    Pdu,
    QuerySm,
    SubmitSm,
    Unbind,
)
from bridge.smpp.sequence import MAX_SEQUENCE
from bridge.smpp.state import BIND_MODES, WINDOWED, Direction, Role, State, lookup

C = CommandId
REQUESTS = {
    "submit_sm": lambda: SubmitSm(destination_addr="1", short_message=b"x"),
    "data_sm": lambda: DataSm(destination_addr="1"),
    "query_sm": lambda: QuerySm(message_id="m"),
    "cancel_sm": lambda: CancelSm(message_id="m"),
    "enquire_link": EnquireLink,
    "deliver_sm": lambda: DeliverSm(short_message=b"id:1 stat:DELIVRD"),
}
BINDS = [BindTransmitter, BindReceiver, BindTransceiver]


@dataclass
class Side:
    """One end: its connection, the model of what its application sent and got."""

    conn: Connection
    sent: dict[int, int] = field(default_factory=dict)  # seq -> command_id
    outcome: dict[int, str] = field(default_factory=dict)  # seq -> how it ended
    inbox: list[tuple[int, int]] = field(default_factory=list)  # peer requests to answer
    answered: list[tuple[int, int]] = field(default_factory=list)  # for duplicates
    in_flight: bytearray = field(default_factory=bytearray)  # written, not yet delivered
    closed: bool = False
    unbind_seq: int | None = None

    def resolve(self, seq: int, how: str) -> None:
        assert seq in self.sent, f"{how} for {seq}, never sent"
        assert seq not in self.outcome, f"{seq}: {how} after {self.outcome[seq]}"
        self.outcome[seq] = how

    def unresolved(self) -> set[int]:
        return set(self.sent) - set(self.outcome)


class BackToBack(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Numbering starts just below 0x7FFFFFFF so every run crosses the wrap.
        opts = {"window": 3, "response_timeout": 10.0, "enquire_link_interval": 15.0,
                "first_sequence_number": MAX_SEQUENCE - 3}
        self.esme = Side(Connection(Role.ESME, **opts))  # type: ignore[arg-type]
        self.smsc = Side(Connection(Role.SMSC, **opts))  # type: ignore[arg-type]
        self.now = 0.0
        self.steps = 0

    # --- plumbing ----------------------------------------------------------------------
    def peer(self, side: Side) -> Side:
        return self.smsc if side is self.esme else self.esme

    def drain(self, side: Side) -> None:
        conn = side.conn
        for _ in range(10_000):
            event = conn.next_event()
            if event is ev.NEED_DATA:
                return
            assert not side.closed, f"{event!r} after ConnectionClosed"
            self.handle(side, event)
        raise AssertionError("next_event did not settle")

    def handle(self, side: Side, event: object) -> None:
        if isinstance(event, ev.ResponseReceived):
            side.resolve(event.pdu.sequence_number, "response")
            assert side.sent[event.pdu.sequence_number] == event.request_command_id
        elif isinstance(event, ev.ResponseTimeout):
            side.resolve(event.sequence_number, "timeout")
        elif isinstance(event, ev.Bound | ev.BindFailed):
            (bind,) = [s for s in side.unresolved() if side.sent[s] in BIND_MODES]
            side.resolve(bind, type(event).__name__)
        elif isinstance(event, ev.PduReceived):
            pdu = event.pdu
            if pdu.command_id not in (C.OUTBIND, C.ALERT_NOTIFICATION):
                side.inbox.append((pdu.command_id, pdu.sequence_number))
        elif isinstance(event, ev.ConnectionClosed):
            side.closed = True
            for seq in event.unanswered:
                side.resolve(seq, f"closed:{event.reason.name}")
            if (
                event.reason is ev.CloseReason.UNBOUND
                and side.unbind_seq is not None
                and side.unbind_seq not in side.outcome
            ):
                side.resolve(side.unbind_seq, "unbind_resp")
            assert side.unresolved() == set(), "requests left without an outcome"
            assert side.conn.state is State.CLOSED
        else:
            assert isinstance(event, ev.UnexpectedResponse | ev.ProtocolErrorAnswered), event

    def try_send(self, side: Side, pdu: Pdu) -> None:
        conn = side.conn
        cid = pdu.command_id
        allowed = lookup(conn.role, conn.state, Direction.SEND, cid, strict=conn.strict)
        full = cid in WINDOWED and conn.window_free == 0
        try:
            seq = conn.send(pdu, now=self.now)
        except LocalProtocolError:
            assert allowed is None or full, (conn.state, C(cid).name)
            return
        assert allowed is not None and not full, (conn.state, C(cid).name)
        if not cid & 0x80000000:
            assert seq not in side.sent, f"sequence_number {seq} reused"
            side.sent[seq] = cid
            if cid == C.UNBIND:
                side.unbind_seq = seq

    # --- rules ---------------------------------------------------------------------------
    @initialize(which=st.sampled_from(BINDS), ok=st.sampled_from([True, True, True, False]))
    def bound_to_start_with(self, which: type[Pdu], ok: bool) -> None:
        """Most runs start bound (a bind and its resp delivered whole), so the
        random steps spend their time on the bound states."""
        self.esme_binds(which)
        self.flush("esme")
        self.smsc_answers_the_bind(ok)
        self.flush("smsc")

    @rule(side=st.sampled_from(["esme", "smsc"]))
    def flush(self, side: str) -> None:
        self.transfer(side, 1 << 20)

    @precondition(lambda self: self.esme.conn.state is State.OPEN)
    @rule(which=st.sampled_from(BINDS))
    def esme_binds(self, which: type[Pdu]) -> None:
        self.try_send(self.esme, which(system_id="bridge", password="pw"))

    @precondition(lambda self: self.smsc.conn.state is State.BINDING)
    @rule(ok=st.booleans())
    def smsc_answers_the_bind(self, ok: bool) -> None:
        (cid, seq) = next(x for x in self.smsc.inbox if x[0] in BIND_MODES)
        self.smsc.inbox.remove((cid, seq))
        status = 0 if ok else CommandStatus.ESME_RBINDFAIL
        resp = PDU_TYPES[cid | 0x80000000](sequence_number=seq, command_status=status)
        self.try_send(self.smsc, resp)

    @precondition(lambda self: not self.esme.closed)
    @rule(side=st.sampled_from(["esme", "smsc"]), kind=st.sampled_from(sorted(REQUESTS)))
    def request(self, side: str, kind: str) -> None:
        self.try_send(getattr(self, side), REQUESTS[kind]())

    @precondition(lambda self: not self.esme.closed)
    @rule(side=st.sampled_from(["esme", "smsc"]), kinds=st.lists(
        st.sampled_from(sorted(REQUESTS)), min_size=1, max_size=6), error=st.booleans())
    def burst(self, side: str, kinds: list[str], error: bool) -> None:
        """Several requests, delivered, all answered (last first), answers delivered:
        the busy path of a bind, in one step."""
        me: Side = getattr(self, side)
        peer = self.peer(me)
        peer_side = "smsc" if side == "esme" else "esme"
        for kind in kinds:
            self.try_send(me, REQUESTS[kind]())
        self.flush(side)
        while [x for x in peer.inbox if x[0] not in BIND_MODES]:
            self.answer(peer_side, -1, error)
        self.flush(peer_side)

    @precondition(lambda self: self.esme.inbox or self.smsc.inbox)
    @rule(side=st.sampled_from(["esme", "smsc"]), pick=st.integers(0, 100),
          error=st.booleans())  # fmt: skip
    def answer(self, side: str, pick: int, error: bool) -> None:
        me: Side = getattr(self, side)
        inbox = [x for x in me.inbox if x[0] not in BIND_MODES]
        if not inbox:
            return
        cid, seq = inbox[pick % len(inbox)]
        me.inbox.remove((cid, seq))
        status = CommandStatus.ESME_RTHROTTLED if error else 0
        self.try_send(me, PDU_TYPES[cid | 0x80000000](sequence_number=seq, command_status=status))
        me.answered.append((cid, seq))

    @precondition(lambda self: self.esme.answered or self.smsc.answered)
    @rule(side=st.sampled_from(["esme", "smsc"]), pick=st.integers(0, 100))
    def answer_again(self, side: str, pick: int) -> None:
        me: Side = getattr(self, side)
        if me.answered:
            cid, seq = me.answered[pick % len(me.answered)]
            self.try_send(me, PDU_TYPES[cid | 0x80000000](sequence_number=seq))

    @rule(side=st.sampled_from(["esme", "smsc"]), n=st.integers(1, 200))
    def transfer(self, side: str, n: int) -> None:
        """Deliver the first ``n`` bytes ``side`` has written to its peer."""
        me: Side = getattr(self, side)
        me.in_flight += me.conn.data_to_send()
        chunk = bytes(me.in_flight[:n])
        del me.in_flight[:n]
        if chunk:
            peer = self.peer(me)
            peer.conn.receive_data(chunk, now=self.now)
            self.drain(peer)

    @rule(dt=st.sampled_from([0.5, 3.0, 9.0, 16.0]))
    def time_passes(self, dt: float) -> None:
        self.now += dt
        for side in (self.esme, self.smsc):
            deadline = side.conn.next_deadline()
            side.conn.tick(self.now)
            self.drain(side)
            if deadline is not None and deadline > self.now:
                assert side.conn.next_deadline() is not None

    @precondition(lambda self: not self.esme.closed)
    @rule(side=st.sampled_from(["esme", "smsc"]))
    def unbind(self, side: str) -> None:
        self.try_send(getattr(self, side), Unbind())

    @precondition(lambda self: self.steps > 25 and not self.esme.closed)
    @rule()
    def disconnect(self) -> None:
        for side in (self.esme, self.smsc):
            side.conn.receive_data(b"", now=self.now)
            self.drain(side)
            assert side.conn.state is State.CLOSED and side.closed

    # --- invariants -----------------------------------------------------------------------
    @invariant()
    def windows_and_sequence_numbers(self) -> None:
        self.steps += 1
        for side in (self.esme, self.smsc):
            conn = side.conn
            assert 0 <= conn.window_used <= conn.window_size
            outstanding = conn.outstanding
            assert len(set(outstanding)) == len(outstanding)
            mine = {s for s in outstanding if s in side.sent}
            # every unresolved request is outstanding, and nothing resolved still is
            assert mine == side.unresolved(), (mine, side.unresolved())
            if conn.state is State.CLOSED:
                assert outstanding == ()


TestBackToBack = BackToBack.TestCase
