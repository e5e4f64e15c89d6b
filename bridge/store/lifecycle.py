"""The lifecycle of parts and messages, written down once (pure data, no I/O).

A message is one recipient; a part is one SMS segment of it, with its own
submit_sm, carrier id and receipt (docs/design.md "Message lifecycle"). The states
live in PostgreSQL (``part_state``, ``message_state``); the statements that
move them are SQL, each carrying in its WHERE clause the state it expects, so
that a duplicate response or receipt, a part recovered meanwhile by another
daemon, or a final part matches nothing. This module is the table those
statements follow: for each event, the states it moves a part (or a message)
from, the states it may move it to, the guard, and where it is done. The SQL
in ``bridge/store/sql/`` and the dispatcher's statements cite the event names
(``lifecycle: CLAIM``); tests/store/test_lifecycle.py walks the table against
a real database: each listed move happens, and the event leaves a part in any
other state as it is.

Rules the table does not show as events:

- Final states are final: a part ``delivered`` or ``failed``, a message
  ``delivered``, ``failed`` or ``invalid`` never changes state again; the
  triggers ``messages_final_state`` and ``message_parts_final_state`` refuse
  such an UPDATE (setting the same final state again is allowed, so applying a
  duplicate is a no-op).
- ``CANCELLED_ON_RETURN``: a move of a part INTO ``queued`` or ``unknown``
  while its message is already ``failed`` ends in ``failed`` instead
  (``receipt_stat = 'cancelled'``): every statement making such a move takes
  the state it stores from the function ``cancelled_on_return`` (no trigger:
  migration 0026). It is silent (the statement that asked for ``queued`` sees
  ``failed`` in its RETURNING), and it applies to every event whose targets
  hold those states (tests/store/test_lifecycle.py drives each of them).
- Retired message states: ``submitting`` and ``submitted`` are values of the
  enum that nothing enters any more (CHECK ``messages_state_not_retired``).
  Rows written by releases that still used them are pending and finish like
  ``queued`` ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CANCELLED_ON_RETURN",
    "FINAL_MESSAGE_STATES",
    "FINAL_PART_STATES",
    "MESSAGE_LIFECYCLE",
    "PART_LIFECYCLE",
    "PART_STATUS",
    "RETIRED_MESSAGE_STATES",
    "MessageEvent",
    "MessageState",
    "PartEvent",
    "PartState",
    "Rewrite",
    "Rule",
    "part_moves",
]


class PartState(StrEnum):
    """``part_state`` in PostgreSQL."""

    QUEUED = "queued"  # waiting for a claim (next_attempt_at: not before)
    SUBMITTING = "submitting"  # claimed: written ahead of its submit_sm (owner_instance, attempts)
    SUBMITTED = "submitted"  # the SMSC accepted it: carrier id known, receipt awaited
    UNKNOWN = "unknown"  # the submit_sm was written, no answer can be trusted: a grace, then the policy
    DELIVERED = "delivered"  # final
    FAILED = "failed"  # final


class MessageState(StrEnum):
    """``message_state`` in PostgreSQL, the values in use."""

    QUEUED = "queued"  # until final (public status pending); where it is is its parts' state
    DELIVERED = "delivered"  # final: every part delivered (charged)
    FAILED = "failed"  # final: a part failed (refunded)
    INVALID = "invalid"  # final from enqueue: no valid destination (never charged)


RETIRED_MESSAGE_STATES = frozenset({"submitting", "submitted"})
FINAL_PART_STATES = frozenset({PartState.DELIVERED, PartState.FAILED})
FINAL_MESSAGE_STATES = frozenset({MessageState.DELIVERED, MessageState.FAILED, MessageState.INVALID})

# What a part's state says about it, as the status dlr.message_status aggregates
# (dlr.Status values: the message is sent when every part is, failed when any is).
PART_STATUS: Mapping[PartState, str] = {
    PartState.QUEUED: "pending",
    PartState.SUBMITTING: "pending",
    PartState.SUBMITTED: "pending",
    PartState.UNKNOWN: "pending",
    PartState.DELIVERED: "sent",
    PartState.FAILED: "failed",
}


class PartEvent(StrEnum):
    CLAIM = "claim"
    ACCEPT = "accept"
    RIDE = "ride"
    REJECT = "reject"
    REQUEUE = "requeue"
    UNKNOWN_OUTCOME = "unknown_outcome"
    GRACE_ENDED = "grace_ended"
    RECOVER = "recover"
    LATE_RESPONSE = "late_response"
    RECEIPT = "receipt"
    RECEIPT_NOT_FINAL = "receipt_not_final"
    QUERY_ANSWER = "query_answer"
    ADOPT = "adopt"
    RECEIPT_TIMEOUT = "receipt_timeout"
    ACCEPTED_TIMEOUT = "accepted_timeout"
    CANCEL = "cancel"


class MessageEvent(StrEnum):
    FINALIZE = "finalize"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """What an event does: from each listed state, to one of its targets.

    Several targets: ``decided_by`` says what picks one (the receipt's status, the
    carrier's policy). A state not listed is left as it is by the event's statement.
    """

    moves: Mapping[str, frozenset[str]]
    guard: str
    decided_by: str = ""
    where: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rewrite:
    """A rule that turns a move into another one, in every statement making that move."""

    into: frozenset[PartState]
    becomes: PartState
    guard: str
    where: str


def _to(*states: str) -> frozenset[str]:
    return frozenset(states)


_SAME_ATTEMPT = "the same attempt: owner_instance and attempts as claimed"
_APPLY = "sql/functions/apply_flush.sql (the writer's flush, bridge/dispatch/apply.py)"
_Q, _SG, _SD, _U, _D, _F = (PartState.QUEUED, PartState.SUBMITTING, PartState.SUBMITTED,
                            PartState.UNKNOWN, PartState.DELIVERED, PartState.FAILED)  # fmt: skip

PART_LIFECYCLE: Mapping[PartEvent, Rule] = {
    PartEvent.CLAIM: Rule(
        moves={_Q: _to(_SG)},
        guard="due (next_attempt_at <= now()), on a route this daemon serves now, under its instance row "
        "while that row is live; parts 2.. of a message on a payload route are never claimed (RIDE)",
        where="bridge/dispatch/claim.py CLAIM_SQL (write ahead: before its submit_sm is written)",
    ),
    PartEvent.ACCEPT: Rule(
        moves={_SG: _to(_SD)},
        guard=f"submit_sm_resp ESME_ROK with an id; {_SAME_ATTEMPT}. With its key's first final receipt "
        "in the same flush (and none parked under the key), ACCEPT and RECEIPT are one UPDATE",
        where=_APPLY,
    ),
    PartEvent.RIDE: Rule(
        moves={_Q: _to(_SD)},
        guard="part 1 of its message was accepted as one submit_sm with the whole text (concat = payload)",
        where=_APPLY,
    ),
    PartEvent.REJECT: Rule(
        moves={_SG: _to(_F)},
        guard=f"a permanent error, retries exhausted, or the PDU cannot be built; {_SAME_ATTEMPT}",
        where=_APPLY,
    ),
    PartEvent.REQUEUE: Rule(
        moves={_SG: _to(_Q)},
        guard=f"a temporary error (resubmit) or not sent at all (release: the attempt is not counted); "
        f"{_SAME_ATTEMPT}",
        where=_APPLY,
    ),
    PartEvent.UNKNOWN_OUTCOME: Rule(
        moves={_SG: _to(_U)},
        guard=f"no answer to trust (timeout, bind lost) and a grace > 0; {_SAME_ATTEMPT}",
        where=_APPLY,
    ),
    PartEvent.GRACE_ENDED: Rule(
        moves={_U: _to(_Q, _F)},
        guard="next_attempt_at <= now() (the carrier's unknown_outcome_grace ended)",
        decided_by="the carrier's on_unknown_outcome: resubmit (while attempts remain) or fail",
        where="bridge/dispatch/sweeper.py _GRACE_ENDED, _RECOVER",
    ),
    PartEvent.RECOVER: Rule(
        moves={_SG: _to(_U, _Q, _F)},
        guard="its owner instance is dead (stopped, or lease expired) and not one this process works under",
        decided_by="the grace (unknown when > 0), else the carrier's on_unknown_outcome",
        where="bridge/dispatch/sweeper.py _ORPHANS, _RECOVER",
    ),
    PartEvent.LATE_RESPONSE: Rule(
        moves={_Q: _to(_SD), _U: _to(_SD), _F: _to(_F)},
        guard="submit_sm_resp ESME_ROK after its submit ended unknown; the attempt that wrote it, no "
        "carrier id yet; from failed only when it failed for its unknown outcome (it keeps the id)",
        where=_APPLY,
    ),
    PartEvent.RECEIPT: Rule(
        moves={_SG: _to(_D, _F), _SD: _to(_D, _F)},
        guard="a final receipt under the part's (carrier, id_key), the newest part with that key; "
        "the first final receipt of a part wins",
        decided_by="the receipt's status after the carrier's status table",
        where=_APPLY,
    ),
    PartEvent.RECEIPT_NOT_FINAL: Rule(
        moves={_SD: _to(_SD)},
        guard="a receipt that is not final (ENROUTE, ACCEPTD): records receipt_stat, and accepted_at "
        "at the first ACCEPTED",
        where=_APPLY,
    ),
    PartEvent.QUERY_ANSWER: Rule(
        moves={_SD: _to(_D, _F)},
        guard="query_sm_resp with a final state, asked query_after the submit for a part with a carrier "
        "id and no ACCEPTED receipt; applied as a RECEIPT",
        decided_by="the answer's message_state after the carrier's status table",
        where="bridge/dispatch/query.py _CANDIDATES, answer_row, then " + _APPLY,
    ),
    PartEvent.ADOPT: Rule(
        moves={_U: _to(_SD)},
        guard="one parked receipt matches the part by addresses, submit date and text HMAC",
        where="bridge/dispatch/unknown.py _ADOPT",
    ),
    PartEvent.RECEIPT_TIMEOUT: Rule(
        moves={_SD: _to(_F, _D)},
        guard="submitted longer than the carrier's receipt_timeout",
        decided_by="the carrier's on_receipt_timeout",
        where="bridge/dispatch/sweeper.py _TIMEOUTS",
    ),
    PartEvent.ACCEPTED_TIMEOUT: Rule(
        moves={_SD: _to(_F, _D)},
        guard="an ACCEPTED receipt longer ago than the carrier's accepted_timeout",
        decided_by="the carrier's on_receipt_timeout",
        where="bridge/dispatch/sweeper.py _ACCEPTED_TIMEOUTS",
    ),
    PartEvent.CANCEL: Rule(
        moves={_Q: _to(_F)},
        guard="its message became failed (receipt_stat 'cancelled'; a message with a hole cannot be shown)",
        where="sql/functions/finalize_messages.sql",
    ),
}

CANCELLED_ON_RETURN = Rewrite(
    into=frozenset({_Q, _U}),
    becomes=_F,
    guard="the part's message is failed (read, not locked)",
    where="sql/functions/cancelled_on_return.sql, in apply_flush.sql (REQUEUE, UNKNOWN_OUTCOME) and "
    "bridge/dispatch/sweeper.py _RECOVER (RECOVER, GRACE_ENDED)",
)

MESSAGE_LIFECYCLE: Mapping[MessageEvent, Rule] = {
    MessageEvent.FINALIZE: Rule(
        moves={MessageState.QUEUED: _to(MessageState.DELIVERED, MessageState.FAILED)},
        guard="a part of it became final: failed as soon as any part failed, delivered when every part "
        "is (dlr.message_status); otherwise it stays queued",
        decided_by="its parts' states",
        where="sql/functions/finalize_messages.sql (money settled and outbox row in the same transaction)",
    ),
}


def part_moves(state: str, event: PartEvent) -> frozenset[str]:
    """The states ``event`` may move a part in ``state`` to; empty when it leaves it as it is."""
    return PART_LIFECYCLE[event].moves.get(state, frozenset())
