"""What :meth:`Connection.next_event` reports (docs/design.md house rule 4).

Events are frozen, keyword-only, typed values, after h11's ``_events.py``: compare
them, log them, put them in channels; do not subclass them. Time fields are the
``now`` values the caller passed in (the connection has no clock).

They are msgspec Structs rather than frozen dataclasses for speed alone: one is built
per PDU on the hot path, and a frozen dataclass's ``__init__`` (object.__setattr__
per field) cost about 1.2 us for ResponseReceived on the development machine, a
msgspec Struct about 0.06 us. Same guarantees: immutable, keyword-only, ``==`` by
field, hashable when the fields are.

Not reported, by design: inbound enquire_link (answered automatically; a lively
peer is no news), the responses to the connection's own enquire_link, and bytes
queued for sending (``data_to_send`` is always worth calling after an event loop).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import msgspec

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
    FRAME_TIMEOUT = "frame_timeout"  # a PDU begun by the peer did not complete in time


class UnexpectedReason(enum.Enum):
    UNSOLICITED = "unsolicited"  # no request of ours has that sequence_number
    LATE = "late"  # it had one, but its ResponseTimeout was already reported
    MISMATCHED = "mismatched"  # outstanding request of another command_id
    NOT_ALLOWED = "not_allowed"  # the state table refuses it in this state


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base class of every event; never instantiated itself."""


class PduReceived(Event, frozen=True, kw_only=True):
    """A request from the peer that the application must handle: deliver_sm and
    data_sm (ESME), submit_sm & co and bind_* (SMSC), outbind and
    alert_notification (no answer). Answer with ``send(pdu.response_type(
    sequence_number=pdu.sequence_number, ...), now=...)``. enquire_link and unbind are
    answered by the connection and never reported here."""

    pdu: Pdu
    tolerated: bool = False  # allowed only as a known carrier deviation (state.py)


class ResponseReceived(Event, frozen=True, kw_only=True):
    """The response (or a generic_nack) to one of our requests."""

    pdu: Pdu
    request_command_id: int
    sent_at: float
    rtt: float


class ResponseTimeout(Event, frozen=True, kw_only=True):
    """No response within response_timeout; the request left the window. A late
    response is reported as UnexpectedResponse(reason=LATE) and may still be used."""

    sequence_number: int
    command_id: int
    sent_at: float


class Bound(Event, frozen=True, kw_only=True):
    """ESME: the bind_resp was ESME_ROK. ``system_id`` is the SMSC's, from the resp."""

    mode: BindMode
    system_id: str | None


class BindFailed(Event, frozen=True, kw_only=True):
    """ESME: the bind was refused (bind_resp with an error, or generic_nack).
    The state is OPEN again: bind again or close."""

    mode: BindMode
    status: int
    pdu: Pdu


class UnexpectedResponse(Event, frozen=True, kw_only=True):
    """A response we cannot pair with an outstanding request. Never an exception:
    SMSCs do send duplicates and late answers."""

    pdu: Pdu
    reason: UnexpectedReason


class ProtocolErrorAnswered(Event, frozen=True, kw_only=True):
    """The peer sent something invalid; the connection answered it (generic_nack or
    the request's ``*_resp`` with ``error.status``) and carries on.
    ``answered_with`` is None when nothing could be answered (a broken response)."""

    error: RemoteProtocolError
    answered_with: int | None


class MalformedResponse(Event, frozen=True, kw_only=True):
    """The response to one of our message requests (WINDOWED: submit_sm & co)
    arrived with an intact header but an undecodable or too long body. The request
    left the window: its outcome is unknown (the peer answered, we cannot tell
    what), now rather than at its response timeout. Nothing is answered."""

    sequence_number: int
    request_command_id: int
    sent_at: float
    error: RemoteProtocolError


class WindowSuspended(Event, frozen=True, kw_only=True):
    """``timeouts`` message requests in a row went unanswered: the window takes no
    more (``send`` refuses them) while one enquire_link probes the link. Its
    response brings WindowResumed; no response within response_timeout closes the
    connection with LINK_LOST."""

    timeouts: int


class WindowResumed(Event, frozen=True, kw_only=True):
    """The probe of WindowSuspended was answered: message requests may flow again."""


class ConnectionClosed(Event, frozen=True, kw_only=True):
    """Always the last event. ``unanswered`` lists the sequence_numbers of our
    requests that never got a response (their outcome is unknown: resubmit or
    reconcile). ``error`` is set for PROTOCOL_ERROR."""

    reason: CloseReason
    unanswered: tuple[int, ...] = ()
    error: RemoteProtocolError | None = None
