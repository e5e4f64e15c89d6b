"""The state table against SMPP 3.4 section 2.4 table 2-1, written out independently.

bridge/smpp/state.py builds its table from rules; this file restates the spec in
another shape (per PDU: the session states it is allowed in and who issues it) and
checks every (role, state, direction, command_id) against it, so a slip in either
one shows up as a disagreement.
"""

from __future__ import annotations

import itertools

import pytest

from bridge.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus
from bridge.smpp.state import (
    TRANSITIONS,
    Direction,
    Role,
    State,
    lookup,
    refusal_status,
    rules_by_state,
)

ESME, SMSC = Role.ESME, Role.SMSC
SEND, RECV = Direction.SEND, Direction.RECV
TX, RX, TRX = State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX
BOUND = {TX, RX, TRX}
C = CommandId

# SMPP 3.4 table 2-1: request -> (required session states, issued by).
SPEC: dict[CommandId, tuple[set[State], set[Role]]] = {
    C.BIND_TRANSMITTER: ({State.OPEN}, {ESME}),
    C.BIND_RECEIVER: ({State.OPEN}, {ESME}),
    C.BIND_TRANSCEIVER: ({State.OPEN}, {ESME}),
    C.OUTBIND: ({State.OPEN}, {SMSC}),
    C.UNBIND: (BOUND, {ESME, SMSC}),
    C.SUBMIT_SM: ({TX, TRX}, {ESME}),
    C.SUBMIT_MULTI: ({TX, TRX}, {ESME}),
    C.QUERY_SM: ({TX, TRX}, {ESME}),
    C.CANCEL_SM: ({TX, TRX}, {ESME}),
    C.REPLACE_SM: ({TX, TRX}, {ESME}),
    C.DATA_SM: (BOUND, {ESME, SMSC}),
    C.DELIVER_SM: ({RX, TRX}, {SMSC}),
    C.ENQUIRE_LINK: (BOUND, {ESME, SMSC}),
    C.ALERT_NOTIFICATION: ({RX, TRX}, {SMSC}),
}

# Where we knowingly differ from table 2-1 (see state.py): (issuer, state, command)
# -> "tolerated" (allowed unless strict) or "refused".
DEVIATIONS: dict[tuple[Role, State, CommandId], str] = {
    # receipts on a transmitter bind, as carriers send them
    (SMSC, TX, C.DELIVER_SM): "tolerated",
    # data_sm travels in the direction of its bind
    (SMSC, TX, C.DATA_SM): "refused",
    (ESME, RX, C.DATA_SM): "refused",
    # enquire_link before the bind completes (SMPP 5.0 allows it in OPEN)
    **{
        (role, state, C.ENQUIRE_LINK): "tolerated"
        for role in Role
        for state in (State.OPEN, State.BINDING)
    },
}

REQUESTS = list(SPEC)
STATES = [State.OPEN, TX, RX, TRX, State.CLOSED]


def _issuer(role: Role, direction: Direction) -> Role:
    if direction is SEND:
        return role
    return SMSC if role is ESME else ESME


def _expected(role: Role, state: State, direction: Direction, cmd: CommandId) -> str:
    issuer = _issuer(role, direction)
    deviation = DEVIATIONS.get((issuer, state, cmd))
    if deviation is not None:
        return deviation
    states, issuers = SPEC[cmd]
    return "allowed" if state in states and issuer in issuers else "refused"


def _actual(role: Role, state: State, direction: Direction, cmd: int) -> str:
    rule = lookup(role, state, direction, cmd)
    if rule is None:
        return "refused"
    assert lookup(role, state, direction, cmd, strict=True) is (None if rule.tolerated else rule)
    return "tolerated" if rule.tolerated else "allowed"


@pytest.mark.parametrize(
    ("role", "state", "direction", "cmd"),
    list(itertools.product(Role, STATES, Direction, REQUESTS)),
)
def test_every_request_in_every_state_matches_table_2_1(
    role: Role, state: State, direction: Direction, cmd: CommandId
) -> None:
    assert _actual(role, state, direction, cmd) == _expected(role, state, direction, cmd)


@pytest.mark.parametrize(
    ("role", "state", "direction", "cmd"),
    [
        key
        for key in itertools.product(Role, [TX, RX, TRX], Direction, REQUESTS)
        if lookup(*key) is not None and key[3] not in (C.OUTBIND, C.ALERT_NOTIFICATION)
    ],
)
def test_an_allowed_request_can_be_answered_there_and_while_unbinding(
    role: Role, state: State, direction: Direction, cmd: CommandId
) -> None:
    answer = RECV if direction is SEND else SEND
    resp = cmd | RESPONSE_BIT
    if cmd == C.UNBIND:
        # unbind_resp: written by the connection itself when received; ends the
        # session when it answers ours.
        assert lookup(role, State.UNBINDING, RECV, C.UNBIND_RESP) is not None
        return
    rule = lookup(role, state, answer, resp)
    assert rule is not None
    assert rule.ok is rule.failed is state
    assert _actual(role, state, answer, resp) == _actual(role, state, direction, cmd)
    unbinding = lookup(role, State.UNBINDING, answer, resp)
    assert unbinding is not None and unbinding.ok is State.UNBINDING


@pytest.mark.parametrize("role", Role)
def test_bind_moves_to_binding_and_the_resp_decides(role: Role) -> None:
    out = SEND if role is ESME else RECV
    for bind, bound in (
        (C.BIND_TRANSMITTER, TX),
        (C.BIND_RECEIVER, RX),
        (C.BIND_TRANSCEIVER, TRX),
    ):
        rule = lookup(role, State.OPEN, out, bind)
        assert rule is not None and rule.ok is State.BINDING
        resp_rule = lookup(role, State.BINDING, RECV if out is SEND else SEND, bind | RESPONSE_BIT)
        assert resp_rule is not None
        assert (resp_rule.ok, resp_rule.failed) == (bound, State.OPEN)
        # the response never comes from the binder's own side
        assert lookup(role, State.BINDING, out, bind | RESPONSE_BIT) is None


@pytest.mark.parametrize("role", Role)
@pytest.mark.parametrize("state", sorted(BOUND, key=lambda s: s.value))
def test_unbind_sender_waits_receiver_closes(role: Role, state: State) -> None:
    sent = lookup(role, state, SEND, C.UNBIND)
    got = lookup(role, state, RECV, C.UNBIND)
    assert sent is not None and sent.ok is State.UNBINDING
    assert got is not None and got.ok is State.CLOSED
    done = lookup(role, State.UNBINDING, RECV, C.UNBIND_RESP)
    assert done is not None and done.ok is done.failed is State.CLOSED


def test_binding_allows_only_its_resp_and_enquire_link() -> None:
    keys = {(k[2], k[3]) for k in TRANSITIONS if k[0] is ESME and k[1] is State.BINDING}
    assert keys == {
        (RECV, C.BIND_TRANSMITTER_RESP),
        (RECV, C.BIND_RECEIVER_RESP),
        (RECV, C.BIND_TRANSCEIVER_RESP),
        *((d, c) for d in Direction for c in (C.ENQUIRE_LINK, C.ENQUIRE_LINK_RESP)),
    }


def test_closed_allows_nothing() -> None:
    assert not [k for k in TRANSITIONS if k[1] is State.CLOSED]


def test_nothing_leads_out_of_closed_or_back_to_binding_from_bound() -> None:
    for (_, state, _, _), rule in TRANSITIONS.items():
        if state in BOUND:
            assert rule.ok in (state, State.UNBINDING, State.CLOSED)
        if state is State.UNBINDING:
            assert rule.ok in (State.UNBINDING, State.CLOSED)


def test_the_smsc_table_mirrors_the_esme_table() -> None:
    # What an ESME sends, an SMSC receives -- except unbind, whose effect depends on
    # who started it, not on the role.
    flip = {SEND: RECV, RECV: SEND}
    for (role, state, direction, cmd), rule in TRANSITIONS.items():
        if cmd in (C.UNBIND, C.UNBIND_RESP):
            continue
        other = SMSC if role is ESME else ESME
        assert TRANSITIONS.get((other, state, flip[direction], cmd)) == rule, (
            role,
            state,
            direction,
            cmd,
        )


def test_refusal_status() -> None:
    assert refusal_status(TX, C.BIND_TRANSMITTER) == CommandStatus.ESME_RALYBND
    assert refusal_status(State.BINDING, C.BIND_RECEIVER) == CommandStatus.ESME_RALYBND
    assert refusal_status(RX, C.SUBMIT_SM) == CommandStatus.ESME_RINVBNDSTS
    assert refusal_status(State.OPEN, C.UNBIND) == CommandStatus.ESME_RINVBNDSTS


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("role", list(Role))
def test_rules_by_state_is_the_table_recut(role: Role, strict: bool) -> None:
    cut = rules_by_state(role, strict=strict)
    for state, (send, recv) in cut.items():
        for direction, rules in ((SEND, send), (RECV, recv)):
            for cid in C:
                assert rules.get(cid) == lookup(role, state, direction, cid, strict=strict)
