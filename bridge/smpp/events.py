"""What :meth:`Connection.next_event` reports (DESIGN.md house rule 4).

Events are frozen, keyword-only, slotted dataclasses, after h11's ``_events.py``:
compare them, log them, put them in channels; do not subclass them. Time fields are
the ``now`` values the caller passed in (the connection has no clock).

Not reported, by design: inbound enquire_link (answered automatically; a lively
peer is no news), the responses to the connection's own enquire_link, and bytes
queued for sending (``data_to_send`` is always worth calling after an event loop).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.smpp.errors import RemoteProtocolError
from bridge.smpp.state import BindMode

if TYPE_CHECKING:
    from bridge.smpp.pdus import Pdu


class NeedData(enum.Enum):
    """``next_event`` has nothing more until ``receive_data`` or ``tick`` is called."""

    NEED_DATA = "need_data"


NEED_DATA = NeedData.NEED_DATA


class CloseReason(enum.Enum):
    """Why the connection reached State.CLOSED."""

    UNBOUND = "unbound"  # we sent unbind and got unbind_resp, EOF, or gave up waiting
    UNBOUND_BY_PEER = "unbound_by_peer"  # the peer sent unbind; we answered
    PEER_CLOSED = "peer_closed"  # receive_data(b"") without an unbind
    PROTOCOL_ERROR = "protocol_error"  # the byte stream could not be delimited
    LINK_LOST = "link_lost"  # our enquire_link went unanswered and nothing else came
    RESPONSE_TIMEOUT = "response_timeout"  # our bind went unanswered


class UnexpectedReason(enum.Enum):
    UNSOLICITED = "unsolicited"  # no request of ours has that sequence_number
    LATE = "late"  # it had one, but its ResponseTimeout was already reported
    MISMATCHED = "mismatched"  # outstanding request of another command_id
    NOT_ALLOWED = "not_allowed"  # the state table refuses it in this state


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Base class of every event; never instantiated itself."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PduReceived(Event):
    """A request from the peer that the application must handle: deliver_sm and
    data_sm (ESME), submit_sm & co and bind_* (SMSC), outbind and
    alert_notification (no answer). Answer with ``send(pdu.response_type(
    sequence_number=pdu.sequence_number, ...), now=...)``. enquire_link and unbind are
    answered by the connection and never reported here."""

    pdu: Pdu
    tolerated: bool = False  # allowed only as a known carrier deviation (state.py)


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseReceived(Event):
    """The response (or a generic_nack) to one of our requests."""

    pdu: Pdu
    request_command_id: int
    sent_at: float
    rtt: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseTimeout(Event):
    """No response within response_timeout; the request left the window. A late
    response is reported as UnexpectedResponse(reason=LATE) and may still be used."""

    sequence_number: int
    command_id: int
    sent_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Bound(Event):
    """ESME: the bind_resp was ESME_ROK. ``system_id`` is the SMSC's, from the resp."""

    mode: BindMode
    system_id: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class BindFailed(Event):
    """ESME: the bind was refused (bind_resp with an error, or generic_nack).
    The state is OPEN again: bind again or close."""

    mode: BindMode
    status: int
    pdu: Pdu


@dataclass(frozen=True, kw_only=True, slots=True)
class UnexpectedResponse(Event):
    """A response we cannot pair with an outstanding request. Never an exception:
    SMSCs do send duplicates and late answers."""

    pdu: Pdu
    reason: UnexpectedReason


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolErrorAnswered(Event):
    """The peer sent something invalid; the connection answered it (generic_nack or
    the request's ``*_resp`` with ``error.status``) and carries on.
    ``answered_with`` is None when nothing could be answered (a broken response)."""

    error: RemoteProtocolError
    answered_with: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionClosed(Event):
    """Always the last event. ``unanswered`` lists the sequence_numbers of our
    requests that never got a response (their outcome is unknown: resubmit or
    reconcile). ``error`` is set for PROTOCOL_ERROR."""

    reason: CloseReason
    unanswered: tuple[int, ...] = ()
    error: RemoteProtocolError | None = None
