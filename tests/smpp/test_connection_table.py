"""Every (role, state, direction, command_id) through the real Connection, checked
against state.TRANSITIONS (which test_state_table.py checks against SMPP 3.4
table 2-1): what the table allows goes through and moves to the rule's state, what
it forbids raises LocalProtocolError on send and is answered on receive."""

from __future__ import annotations

import itertools

import pytest

from bridge.smpp import events as ev
from bridge.smpp.codec import decode
from bridge.smpp.connection import Connection
from bridge.smpp.constants import RESPONSE_BIT, CommandId
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import (
    PDU_TYPES,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    Pdu,
    SmeAddress,
    SubmitMulti,
    Unbind,
)
from bridge.smpp.state import (
    BIND_MODES,
    NO_RESPONSE,
    Direction,
    Role,
    State,
    lookup,
    refusal_status,
)
from tests.smpp.connection_helpers import Pair, drain, feed, headers, wire

C = CommandId
BINDS = {
    State.BOUND_TX: (BindTransmitter, BindTransmitterResp),
    State.BOUND_RX: (BindReceiver, BindReceiverResp),
    State.BOUND_TRX: (BindTransceiver, BindTransceiverResp),
}
PEER_SEQ = 1000  # the sequence_number of the pending peer bind in BINDING (SMSC)


def reach(role: Role, state: State, strict: bool) -> Connection:
    """A connection of ``role`` in ``state``, reached through real PDUs."""
    pair = Pair(strict=strict, enquire_link_interval=None)
    me = pair.esme if role is Role.ESME else pair.smsc
    if state is State.OPEN:
        return me
    if state is State.BINDING:
        bind = BindTransceiver()
        if role is Role.ESME:
            me.send(bind, now=0.0)
        else:
            feed(me, wire(bind, PEER_SEQ))
        me.data_to_send()
        assert me.state is State.BINDING
        return me
    bind_cls, resp_cls = BINDS.get(state, BINDS[State.BOUND_TRX])
    pair.esme.send(bind_cls(), now=0.0)
    (got,) = pair.to_smsc()
    assert isinstance(got, ev.PduReceived)
    pair.smsc.send(resp_cls(sequence_number=got.pdu.sequence_number), now=0.0)
    pair.to_esme()
    if state is State.UNBINDING:
        me.send(Unbind(), now=0.0)
    elif state is State.CLOSED:
        feed(me, wire(Unbind(), 7))
    me.data_to_send()
    assert me.state is state, (role, state, me.state)
    return me


def sample(command_id: int, seq: int = 0) -> Pdu:
    cls = PDU_TYPES[command_id]
    if cls is SubmitMulti:
        return SubmitMulti(sequence_number=seq, dest_address=(SmeAddress(destination_addr="1"),))
    return cls(sequence_number=seq)


CASES = list(itertools.product(Role, State, [False, True]))


def case_id(case: tuple[Role, State, bool]) -> str:
    role, state, strict = case
    return f"{role.name}-{state.name}-{'strict' if strict else 'lenient'}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_send_every_pdu(case: tuple[Role, State, bool]) -> None:
    role, state, strict = case
    for cid in PDU_TYPES:
        conn = reach(role, state, strict)
        is_resp = bool(cid & RESPONSE_BIT)
        pdu = sample(cid, PEER_SEQ if is_resp else 0)
        rule = lookup(role, state, Direction.SEND, cid, strict=strict)
        allowed = rule is not None
        if allowed and role is Role.SMSC and state is State.BINDING:
            # the connection also checks the bind_resp answers the pending bind
            allowed = (cid & ~RESPONSE_BIT) not in BIND_MODES or cid == C.BIND_TRANSCEIVER_RESP
        if not allowed:
            with pytest.raises(LocalProtocolError) as info:
                conn.send(pdu, now=0.0)
            if rule is None:
                assert info.value.status == refusal_status(state, cid)
            assert conn.state is state and conn.data_to_send() == b""
            continue
        assert rule is not None
        seq = conn.send(pdu, now=0.0)
        ((_, sent_cid, _, sent_seq),) = headers(conn.data_to_send())
        assert (sent_cid, sent_seq) == (cid, seq)
        assert conn.state is rule.ok, (cid, conn.state)
        if not is_resp and cid not in NO_RESPONSE:
            assert seq in conn.outstanding


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_receive_every_request(case: tuple[Role, State, bool]) -> None:
    role, state, strict = case
    for cid in PDU_TYPES:
        if cid & RESPONSE_BIT:
            continue
        conn = reach(role, state, strict)
        events = feed(conn, wire(sample(cid), 555))
        out = headers(conn.data_to_send())
        if state is State.CLOSED:
            assert events == [] and out == []
            continue
        rule = lookup(role, state, Direction.RECV, cid, strict=strict)
        if rule is None:
            status = refusal_status(state, cid)
            assert len(events) == 1 and isinstance(events[0], ev.ProtocolErrorAnswered)
            assert events[0].error.status == status
            if cid in NO_RESPONSE:
                assert out == [] and events[0].answered_with is None
            else:
                # deliver_sm_resp / data_sm_resp keep their NULL message_id (4.6.2, 4.7.2)
                size = 17 if cid in (C.DELIVER_SM, C.DATA_SM) else 16
                assert out == [(size, cid | RESPONSE_BIT, status, 555)]
            assert conn.state is state
        elif cid == C.ENQUIRE_LINK:
            assert events == [] and out == [(16, C.ENQUIRE_LINK_RESP, 0, 555)]
            assert conn.state is state
        elif cid == C.UNBIND:
            assert out == [(16, C.UNBIND_RESP, 0, 555)]
            assert len(events) == 1 and isinstance(events[0], ev.ConnectionClosed)
            assert events[0].reason is ev.CloseReason.UNBOUND_BY_PEER
            assert conn.state is State.CLOSED is rule.ok
        else:
            assert events == [ev.PduReceived(pdu=sample(cid, 555), tolerated=rule.tolerated)]
            assert out == [] and conn.state is rule.ok


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_receive_every_response_unsolicited(case: tuple[Role, State, bool]) -> None:
    role, state, strict = case
    for cid in PDU_TYPES:
        if not cid & RESPONSE_BIT:
            continue
        conn = reach(role, state, strict)
        before = conn.outstanding
        events = feed(conn, wire(sample(cid), 999_999))
        assert conn.data_to_send() == b""  # a response is never answered
        if state is State.CLOSED:
            assert events == []
            continue
        assert events == [
            ev.UnexpectedResponse(pdu=decode(wire(sample(cid), 999_999)), reason=ev.UnexpectedReason.UNSOLICITED)
        ]
        assert conn.state is state and conn.outstanding == before


RESPONSE_CASES = [
    (role, state, strict)
    for role, state, strict in CASES
    if state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX, State.UNBINDING)
]


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=case_id)
def test_receive_the_response_to_each_request_we_may_send(case: tuple[Role, State, bool]) -> None:
    """Every request the table lets us send in a bound state is answered there, and
    still while unbinding; the answer moves to the rule's state."""
    role, state, strict = case
    bound = State.BOUND_TRX if state is State.UNBINDING else state
    for cid in PDU_TYPES:
        if cid & RESPONSE_BIT or cid in NO_RESPONSE or cid == C.UNBIND:
            continue
        if lookup(role, bound, Direction.SEND, cid, strict=strict) is None:
            continue
        conn = reach(role, bound, strict)
        seq = conn.send(sample(cid), now=1.0)
        if state is State.UNBINDING:
            conn.send(Unbind(), now=1.0)
        conn.data_to_send()
        resp = decode(wire(sample(cid | RESPONSE_BIT, seq)))
        rule = lookup(role, state, Direction.RECV, cid | RESPONSE_BIT, strict=strict)
        assert rule is not None, (role, state, cid)
        events = feed(conn, wire(resp), now=3.0)
        assert events == [
            ev.ResponseReceived(pdu=resp, request_command_id=cid, sent_at=1.0, rtt=2.0)
        ]
        assert conn.state is rule.ok is state
        assert seq not in conn.outstanding
    drain(conn)
