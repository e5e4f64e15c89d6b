"""What a :class:`~bridge.smpp.connection.Connection` answers to input it cannot use.

A mixin of Connection, kept apart from the happy path (connection.py): a frame
that does not decode, a request the state table refuses, a broken response. Each
is answered as SMPP 3.4 says
(generic_nack, section 4.3; an error *_resp with the command_status the
problem names, section 5.1.3) and reported as an event; a response is never
answered (answering an answer would loop). Uses the connection's attributes
declared below.
"""

from __future__ import annotations

from bridge.smpp import answers
from bridge.smpp.constants import RESPONSE_BIT, CommandId
from bridge.smpp.errors import RemoteProtocolError
from bridge.smpp.events import (
    Event,
    MalformedResponse,
    ProtocolErrorAnswered,
)
from bridge.smpp.framing import FrameTooLong
from bridge.smpp.pdus import PDU_TYPES, Pdu
from bridge.smpp.state import WINDOWED, Role, State
from bridge.smpp.window import Pending, Window

_GENERIC_NACK = CommandId.GENERIC_NACK


class InvalidInput:
    """Mixin: Connection's answers to frames and requests it cannot use."""

    # The connection's attributes this mixin uses (set in Connection.__init__).
    role: Role
    _state: State
    _window: Window
    _pending: dict[int, Pending]
    _out: bytearray
    _timeouts: int

    def _bad_frame(self, exc: RemoteProtocolError) -> Event:
        """A delimited frame that cannot be used: answer it, or for the response to
        one of our message requests, resolve that request at once."""
        cid = exc.command_id
        if cid is not None and cid & RESPONSE_BIT and cid in PDU_TYPES:
            return self._bad_response(exc, cid)
        if isinstance(exc, FrameTooLong):
            # Section 4.3: a command_length "too long" is answered with generic_nack;
            # the frame was skipped, so the stream (and the bind) goes on.
            answered: int | None = CommandId.GENERIC_NACK
            data = answers.header_only(
                CommandId.GENERIC_NACK, int(exc.status), exc.sequence_number or 0)
        else:
            answered, data = answers.answer_for(exc)
        self._out += data
        return ProtocolErrorAnswered(error=exc, answered_with=answered)

    def _bad_response(self, exc: RemoteProtocolError, cid: int) -> Event:
        seq = exc.sequence_number
        pending = None if seq is None else self._pending.get(seq)
        if (
            pending is None
            or pending.command_id not in WINDOWED
            or cid not in (pending.command_id | RESPONSE_BIT, _GENERIC_NACK)
        ):
            # Nobody to resolve (binds, enquire_link and unbind keep their timers):
            # a response is never answered (answering an answer would loop).
            return ProtocolErrorAnswered(error=exc, answered_with=None)
        self._window.close(pending.sequence_number)
        self._timeouts = 0  # the peer answers, if badly
        return MalformedResponse(
            sequence_number=pending.sequence_number,
            request_command_id=pending.command_id,
            sent_at=pending.sent_at,
            error=exc,
        )

    def _refuse(self, pdu: Pdu, cid: int) -> Event:
        error, answer, data = answers.refusal(self.role, self._state, cid, pdu.sequence_number)
        self._out += data
        return ProtocolErrorAnswered(error=error, answered_with=answer)
