"""Everything that decides which SMPP PDU may flow in which session state lives here.

The model (after h11's ``_state.py`` and h2's ``H2ConnectionStateMachine``)
--------------------------------------------------------------------------
A connection has a :class:`Role` (ESME, or SMSC for our simulator) and is in one
:class:`State`. Every PDU that crosses the wire is an *input* made of its
:class:`Direction` as seen from the local side (SEND or RECV) and its command_id.
The one table, :data:`TRANSITIONS`, maps ``(role, state, direction, command_id)`` to
a :class:`Rule`: the state to move to (for a response, one state when its
command_status is ESME_ROK and one when it carries an error). A key missing from the
table is a protocol violation: :class:`~bridge.smpp.connection.Connection` raises
LocalProtocolError for a PDU we try to send, and answers a peer's request with its
``*_resp`` carrying ESME_RINVBNDSTS (ESME_RALYBND for a bind while bound).

What the table deliberately does not cover, because the connection itself writes
it and it is an answer to whatever arrived: the automatic enquire_link_resp and
unbind_resp, and the error answers (generic_nack or an error ``*_resp``) to frames
that failed to decode or were refused by this table. A generic_nack received for
one of our requests is looked up as the error response of that request.

Some carriers break SMPP 3.4 in ways a production ESME must live with; such rules
carry ``tolerated=True``. With ``strict=True`` a lookup treats them as missing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from bridge.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus


class Role(enum.Enum):
    """Which end of the bind we are (SMPP 3.4 section 2.1)."""

    ESME = "esme"
    SMSC = "smsc"


class Direction(enum.Enum):
    """A PDU's direction from the local side's point of view."""

    SEND = "send"
    RECV = "recv"


class State(enum.Enum):
    """SMPP 3.4 section 2.3 session states, plus the two in-between states a
    state machine needs: BINDING (bind sent or received, bind_resp pending) and
    UNBINDING (unbind sent, unbind_resp pending)."""

    OPEN = "open"
    BINDING = "binding"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


class BindMode(enum.Enum):
    """The three bind types of SMPP 3.4 sections 4.1.1, 4.1.3 and 4.1.5."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"


#: The three bound states, in a fixed order (the table is built deterministically).
BOUND_STATES: tuple[State, ...] = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)

#: The bound state each bind request (and its response) leads to.
BIND_MODES: Mapping[int, tuple[BindMode, State]] = {
    CommandId.BIND_TRANSMITTER: (BindMode.TRANSMITTER, State.BOUND_TX),
    CommandId.BIND_RECEIVER: (BindMode.RECEIVER, State.BOUND_RX),
    CommandId.BIND_TRANSCEIVER: (BindMode.TRANSCEIVER, State.BOUND_TRX),
}

#: Requests counted by the submit window: the ESME's message operations.
#: enquire_link, unbind, binds and every response are never blocked by the window.
WINDOWED: frozenset[int] = frozenset(
    {
        CommandId.SUBMIT_SM,
        CommandId.DATA_SM,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
        CommandId.SUBMIT_MULTI,
    }
)

#: Requests that have no response PDU (SMPP 3.4 sections 4.1.7 and 4.12).
NO_RESPONSE: frozenset[int] = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})


@dataclass(frozen=True, slots=True)
class Rule:
    """Where an allowed input leads. ``failed`` is used for a response whose
    command_status is not ESME_ROK (and for a generic_nack to our request)."""

    ok: State
    failed: State
    tolerated: bool = False


Key = tuple[Role, State, Direction, int]

# --- the requests each side originates, per bound state ---------------------------
# SMPP 3.4 section 2.4 table 2-1 gives, for every PDU, the session states it may be
# used in and whether the ESME or the SMSC issues it; section 2.3 says which side
# transmits in each bind: an ESME bound as transmitter sends messages to the SMSC
# (submit_sm, submit_multi, data_sm, query_sm, cancel_sm, replace_sm), an ESME bound
# as receiver gets messages from the SMSC (deliver_sm, data_sm, alert_notification),
# a transceiver does both. data_sm is listed for both issuers in table 2-1; we give it
# the direction of the bind it travels on (ESME -> SMSC on TX, SMSC -> ESME on RX).
_ESME_ORIGINATES = frozenset(WINDOWED)
_SMSC_ORIGINATES = frozenset(
    {CommandId.DELIVER_SM, CommandId.DATA_SM, CommandId.ALERT_NOTIFICATION}
)
_ORIGINATES: Mapping[tuple[Role, State], frozenset[int]] = {
    (Role.ESME, State.BOUND_TX): _ESME_ORIGINATES,
    (Role.ESME, State.BOUND_TRX): _ESME_ORIGINATES,
    (Role.SMSC, State.BOUND_RX): _SMSC_ORIGINATES,
    (Role.SMSC, State.BOUND_TRX): _SMSC_ORIGINATES,
}
# Tolerated deviation: many carriers send delivery receipts (deliver_sm) on a
# *transmitter* bind, which table 2-1 does not allow. Answering ESME_RINVBNDSTS would
# make the SMSC retry the receipt forever and the message would never be billed, so
# we accept it (and count it); strict=True restores the spec's answer. The simulator
# (SMSC role) may send it to reproduce such carriers.
_TOLERATED_ORIGINATES: Mapping[tuple[Role, State], frozenset[int]] = {
    (Role.SMSC, State.BOUND_TX): frozenset({CommandId.DELIVER_SM}),
}


def _other(role: Role) -> Role:
    return Role.SMSC if role is Role.ESME else Role.ESME


def _resp(command_id: int) -> int:
    return command_id | RESPONSE_BIT


def _build() -> dict[Key, Rule]:
    table: dict[Key, Rule] = {}

    def allow(keys: Iterable[Key], ok: State, failed: State | None = None,
              tolerated: bool = False) -> None:
        for key in keys:
            assert key not in table, key  # one rule per input, never two
            table[key] = Rule(ok, ok if failed is None else failed, tolerated)

    send, recv = Direction.SEND, Direction.RECV
    for role in Role:
        other = _other(role)
        # Who binds: the ESME sends bind_* in OPEN (section 4.1); the SMSC answers.
        # The state follows the bind_resp: ESME_ROK -> bound, an error -> OPEN, where
        # the ESME may try again (section 4.1.2).
        bind_out, resp_in = (send, recv) if role is Role.ESME else (recv, send)
        for bind, (_, bound) in BIND_MODES.items():
            allow([(role, State.OPEN, bind_out, bind)], State.BINDING)
            allow([(role, State.BINDING, resp_in, _resp(bind))], bound, State.OPEN)
        # outbind: SMSC -> ESME in OPEN, no response; the ESME then binds (4.1.7).
        allow([(role, State.OPEN, recv if role is Role.ESME else send, CommandId.OUTBIND)],
              State.OPEN)

        for state in BOUND_STATES:
            for originator, direction in ((role, send), (other, recv)):
                answer = recv if direction is send else send
                for source, tol in ((_ORIGINATES, False), (_TOLERATED_ORIGINATES, True)):
                    for cmd in sorted(source.get((originator, state), frozenset())):
                        allow([(role, state, direction, cmd)], state, tolerated=tol)
                        if cmd in NO_RESPONSE:
                            continue
                        allow([(role, state, answer, _resp(cmd))], state, tolerated=tol)
                        # Responses still flow while unbinding: requests sent before
                        # the unbind are answered (section 4.2: unbind_resp comes
                        # after the outstanding responses).
                        # Not "tolerated" there: only an accepted request can be
                        # answered, and strict mode refuses the deviating ones.
                        key = (role, State.UNBINDING, answer, _resp(cmd))
                        if key not in table:
                            allow([key], State.UNBINDING)
            # unbind (section 4.2) may be issued by either side in any bound state.
            allow([(role, state, send, CommandId.UNBIND)], State.UNBINDING)
            allow([(role, state, recv, CommandId.UNBIND)], State.CLOSED)

        # Both sides unbinding at once: answer theirs, and we are done.
        allow([(role, State.UNBINDING, recv, CommandId.UNBIND)], State.CLOSED)
        allow([(role, State.UNBINDING, recv, CommandId.UNBIND_RESP)], State.CLOSED, State.CLOSED)

        # enquire_link (section 4.11) is a bound-state PDU in table 2-1, from either
        # side. We keep answering it while unbinding (the session is bound until
        # unbind_resp), and tolerate it in OPEN/BINDING, as SMPP 5.0 section 2.4 allows.
        for state in (*BOUND_STATES, State.UNBINDING, State.OPEN, State.BINDING):
            tol = state in (State.OPEN, State.BINDING)
            for direction in Direction:
                answer = recv if direction is send else send
                allow([(role, state, direction, CommandId.ENQUIRE_LINK)], state, tolerated=tol)
                allow([(role, state, answer, CommandId.ENQUIRE_LINK_RESP)], state,
                      tolerated=tol)
    return table


#: THE state table. Read the module docstring and the comments in ``_build`` (each
#: group cites SMPP 3.4 section 2.3 / 2.4 table 2-1 or the PDU's section).
TRANSITIONS: Mapping[Key, Rule] = _build()


def lookup(
    role: Role, state: State, direction: Direction, command_id: int, *, strict: bool = False
) -> Rule | None:
    """The rule for this input, or None when SMPP 3.4 (as we apply it) forbids it."""
    rule = TRANSITIONS.get((role, state, direction, command_id))
    if rule is None or (strict and rule.tolerated):
        return None
    return rule


def refusal_status(state: State, command_id: int) -> int:
    """The command_status to answer a request this table refuses with.

    A second bind on a bound (or binding) session is ESME_RALYBND (SMPP 3.4 section
    5.1.3, "ESME already in bound state"); anything else is ESME_RINVBNDSTS
    ("incorrect BIND status for given command").
    """
    if command_id in BIND_MODES and state in (*BOUND_STATES, State.BINDING):
        return CommandStatus.ESME_RALYBND
    return CommandStatus.ESME_RINVBNDSTS


#: command_id -> Rule for one (role, state, direction).
Rules = Mapping[int, Rule]


@cache
def rules_by_state(role: Role, *, strict: bool = False) -> Mapping[State, tuple[Rules, Rules]]:
    """The table re-cut for the connection's hot path: state -> (send rules, receive
    rules), each a dict command_id -> Rule. Built once per (role, strict) from
    TRANSITIONS, which stays the one source of truth; a state change then swaps two
    dict references and every PDU costs one dict lookup."""
    cut: dict[State, tuple[dict[int, Rule], dict[int, Rule]]] = {s: ({}, {}) for s in State}
    for (r, state, direction, command_id), rule in TRANSITIONS.items():
        if r is role and not (strict and rule.tolerated):
            cut[state][0 if direction is Direction.SEND else 1][command_id] = rule
    return cut
