"""One SMPP session as a sans-I/O state machine: bytes in, events out, bytes to send.

The carrier (ESME role) and the simulator (SMSC role) own the socket and the clock;
this class owns everything else about the session (after h11's
``_connection.py``): framing and decoding, sequence numbers, the submit window and the
response timers, enquire_link, the bind states of :mod:`bridge.smpp.state` and the
answers to invalid input. See docs/smpp-connection.md for the driving loop.

Processing is lazy: ``receive_data`` only buffers; each ``next_event`` call cuts and
decodes frames until one is worth reporting (inbound enquire_link and the responses
to our automatic enquire_link are handled silently). Answers the connection writes
itself are appended to the outgoing buffer as they arise, so call ``data_to_send``
after draining the events.

Nothing here raises for anything the peer sends. ``send`` raises LocalProtocolError
when *we* break the protocol (the table forbids the PDU, the window is full or
suspended, a field does not encode); the connection is unchanged when it does.

Liveness (docs/smpp-connection.md, "Liveness"): the peer is alive when it completes
PDUs, not when it sends bytes. ``last_rx`` moves only when a whole frame was cut; a
frame begun and not completed within ``frame_timeout`` closes the connection
(FRAME_TIMEOUT); ``max_consecutive_timeouts`` message requests unanswered in a row
suspend the window and probe the link with one enquire_link (WindowSuspended).
"""

from __future__ import annotations

from collections import deque

from bridge.smpp import answers
from bridge.smpp.codec import Decoder, encode
from bridge.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus
from bridge.smpp.errors import LocalProtocolError, RemoteProtocolError
from bridge.smpp.events import (
    NEED_DATA,
    BindFailed,
    Bound,
    CloseReason,
    ConnectionClosed,
    Event,
    NeedData,
    PduReceived,
    ResponseReceived,
    UnexpectedReason,
    UnexpectedResponse,
)
from bridge.smpp.framing import DEFAULT_MAX_LENGTH, FrameReader
from bridge.smpp.invalid import InvalidInput
from bridge.smpp.pdus import Pdu
from bridge.smpp.sequence import SequenceNumbers
from bridge.smpp.state import (
    BIND_MODES,
    BOUND_STATES,
    NO_RESPONSE,
    WINDOWED,
    BindMode,
    Role,
    Rule,
    State,
    refusal_status,
    rules_by_state,
)
from bridge.smpp.timers import Timers
from bridge.smpp.window import Window

__all__ = ["BindMode", "Connection", "Role", "State"]

_GENERIC_NACK = CommandId.GENERIC_NACK
_ENQUIRE_LINK = CommandId.ENQUIRE_LINK
_ENQUIRE_LINK_RESP = CommandId.ENQUIRE_LINK_RESP
_UNBIND = CommandId.UNBIND
_UNBIND_RESP = CommandId.UNBIND_RESP
_BOUND = frozenset(BOUND_STATES)
_MAX_U32 = 0xFFFFFFFF
_pack_null_id = answers.NULL_ID_RESPONSE.pack


class Connection(Timers, InvalidInput):
    """See the module docstring and docs/smpp-connection.md. Timers and liveness
    (``tick``, ``next_deadline``) are in :mod:`bridge.smpp.timers`, the answers to
    input it cannot use in :mod:`bridge.smpp.invalid`."""

    def __init__(
        self,
        role: Role,
        *,
        window: int = 10,
        response_timeout: float = 30.0,
        enquire_link_interval: float | None = 30.0,
        max_frame_length: int = DEFAULT_MAX_LENGTH,
        max_c_octet_string: int = 255,
        strict: bool = False,
        first_sequence_number: int = 1,
        frame_timeout: float | None = 20.0,
        max_consecutive_timeouts: int | None = None,
    ) -> None:
        if response_timeout <= 0:
            raise ValueError("response_timeout must be positive")
        if enquire_link_interval is not None and enquire_link_interval <= 0:
            raise ValueError("enquire_link_interval must be positive or None")
        if frame_timeout is not None and frame_timeout <= 0:
            raise ValueError("frame_timeout must be positive or None")
        if max_consecutive_timeouts is not None and max_consecutive_timeouts < 1:
            raise ValueError("max_consecutive_timeouts must be at least 1 or None")
        self.role = role
        self.strict = strict
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.frame_timeout = frame_timeout
        self.max_consecutive_timeouts = max_consecutive_timeouts
        self.decoder = Decoder(max_c_octet_string=max_c_octet_string)
        self._decode = self.decoder.decode
        self._reader = FrameReader(max_frame_length)
        self._next_frame = self._reader.next_frame
        self._window = Window(window)
        self._pending = self._window.pending
        self._sequence = SequenceNumbers(first_sequence_number)
        self._rules = rules_by_state(role, strict=strict)
        self._state = State.OPEN
        self._send_rules, self._recv_rules = self._rules[State.OPEN]
        self._mode: BindMode | None = None
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._eof = False
        self._rx_now = 0.0  # the `now` of the latest receive_data: response times
        self._last_rx = float("-inf")  # when the peer last completed a PDU
        self._frame_since = float("-inf")  # when a frame began in an empty buffer
        self._auto_enquire: int | None = None  # our outstanding automatic enquire_link
        # The latest answer to our automatic enquire_link (never reported as an
        # event): its round trip and the ``now`` it arrived, for health reports.
        self.enquire_link_rtt: float | None = None
        self.enquire_link_answered_at: float | None = None
        self._timeouts = 0  # message requests unanswered in a row
        self._suspended = False  # the window takes no message request (WindowSuspended)
        self._probe: int | None = None  # the enquire_link that decides a suspension
        self._peer_bind: tuple[int, int] | None = None  # SMSC: (bind command_id, seq)

    # --- inspection ------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def mode(self) -> BindMode | None:
        """The bind type once bound (and while unbinding); None before and on failure."""
        return self._mode

    @property
    def window_size(self) -> int:
        return self._window.size

    @property
    def window_used(self) -> int:
        return self._window.used

    @property
    def window_free(self) -> int:
        return 0 if self._suspended else self._window.free

    @property
    def window_suspended(self) -> bool:
        """True between WindowSuspended and WindowResumed (or the close)."""
        return self._suspended

    @property
    def last_rx(self) -> float:
        """The ``now`` of the receive_data that completed the peer's latest PDU
        (-inf before the first): bytes of an unfinished PDU do not count."""
        return self._last_rx

    @property
    def outstanding(self) -> tuple[int, ...]:
        """sequence_numbers of every request of ours awaiting a response, in send order."""
        return tuple(self._pending)

    # --- sending ---------------------------------------------------------------------
    def send(self, pdu: Pdu, *, now: float) -> int:
        """Queue ``pdu``; returns its sequence_number (assigned here for a request)."""
        cid = pdu.command_id
        rule = self._send_rules.get(cid)
        if rule is None:
            raise LocalProtocolError(
                f"{self.role.name} may not send {CommandId(cid).name} in state"
                f" {self._state.name} (SMPP 3.4 section 2.4, bridge/smpp/state.py)",
                refusal_status(self._state, cid),
            )
        if cid & RESPONSE_BIT:
            return self._send_response(pdu, cid, rule)
        window = self._window
        if cid in WINDOWED and self._suspended:
            raise LocalProtocolError(
                f"window suspended after {self._timeouts} response timeouts in a row:"
                " wait for the enquire_link probe",
                CommandStatus.ESME_RMSGQFUL,
            )
        window.require_room(cid)  # before numbering and encoding: nothing changes if full
        seq = self._sequence.allocate(self._pending)
        data = encode(pdu, seq)  # may raise LocalProtocolError: nothing changed yet
        if cid not in NO_RESPONSE:
            window.open(seq, cid, now=now, timeout=self.response_timeout)
        self._out += data
        if rule.ok is not self._state:
            self._set_state(rule.ok)
        return seq

    def send_null_id_response(self, command_id: int, sequence_number: int, command_status: int) -> bool:
        """Queue a deliver_sm_resp / data_sm_resp with a NULL message_id (sections 4.6.2,
        4.7.2) without building and encoding the PDU (one per receipt): True when queued,
        False when ``send`` of that PDU must decide (refused, or a state would change)."""
        rule = self._send_rules.get(command_id)
        if rule is None or rule.ok is not self._state or rule.failed is not self._state:
            return False
        if command_id not in answers.NULL_ID or not 0 <= sequence_number <= _MAX_U32 or not 0 <= command_status <= _MAX_U32:
            return False
        self._out += _pack_null_id(17, command_id, command_status, sequence_number, 0)  # answers.null_id_response
        return True

    def _send_response(self, pdu: Pdu, cid: int, rule: Rule) -> int:
        seq = pdu.sequence_number
        bind = self._peer_bind
        # SMSC answering a bind: the resp must match the bind it answers.
        if (
            bind is not None
            and (cid & ~RESPONSE_BIT) in BIND_MODES
            and (bind[0] | RESPONSE_BIT, bind[1]) != (cid, seq)
        ):
            raise LocalProtocolError(
                f"{CommandId(cid).name} #{seq} does not answer the pending"
                f" {CommandId(bind[0]).name} #{bind[1]}"
            )
        # Our own requests are numbered 1..0x7FFFFFFF (section 3.2, sequence.py), but a
        # response echoes the request's number, whatever the peer chose: a peer that
        # numbers above 0x7FFFFFFF still gets its answer (be liberal in what we accept).
        if not 0 <= seq <= _MAX_U32:
            raise LocalProtocolError(f"sequence_number {seq} is not a 32-bit number")
        self._out += encode(pdu)
        new = rule.ok if pdu.command_status == 0 else rule.failed
        if bind is not None and (cid & ~RESPONSE_BIT) in BIND_MODES:
            self._peer_bind = None
            self._mode = BIND_MODES[bind[0]][0] if new in _BOUND else None
        if new is not self._state:
            self._set_state(new)
        return seq

    def data_to_send(self) -> bytes:
        """Every byte queued since the last call (coalesced), b"" if none."""
        out = self._out
        if not out:
            return b""
        data = bytes(out)
        out.clear()
        return data

    # --- receiving -------------------------------------------------------------------
    def receive_data(self, data: bytes, *, now: float) -> None:
        """Buffer bytes from the peer; ``b""`` means the peer closed (EOF)."""
        if self._state is State.CLOSED:
            return  # the session is over; whatever still arrives is moot
        if self._eof:
            raise LocalProtocolError("receive_data after EOF")
        if not data:
            self._eof = True
            return
        self._rx_now = now
        if self._reader.feed(data):
            self._frame_since = now

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA when the buffered bytes hold no more."""
        events = self._events
        if events:
            return events.popleft()
        next_frame = self._next_frame
        decode = self._decode
        while self._state is not State.CLOSED:
            try:
                frame = next_frame()
            except RemoteProtocolError as exc:
                if exc.fatal:
                    return self._stream_lost(exc)
                return self._bad_frame(exc)
            if frame is None:
                if self._eof:
                    reason = (
                        CloseReason.UNBOUND
                        if self._state is State.UNBINDING
                        else CloseReason.PEER_CLOSED
                    )
                    return self._close(reason)
                deadline = self._frame_deadline()
                if deadline is not None and self._rx_now >= deadline:
                    return self._close(CloseReason.FRAME_TIMEOUT)
                return NEED_DATA
            self._last_rx = self._rx_now  # a whole PDU: the peer is alive
            try:
                pdu = decode(frame)
            except RemoteProtocolError as exc:
                if exc.fatal:
                    return self._stream_lost(exc)
                return self._bad_frame(exc)
            cid = pdu.command_id
            if cid & RESPONSE_BIT:
                event = self._on_response(pdu, cid)
            else:
                event = self._on_request(pdu, cid)
            if event is not None:
                return event
        return NEED_DATA

    def _on_request(self, pdu: Pdu, cid: int) -> Event | None:
        rule = self._recv_rules.get(cid)
        if rule is None:
            return self._refuse(pdu, cid)
        if cid == _ENQUIRE_LINK:  # section 4.11: answered by us, never reported
            self._out += answers.header_only(_ENQUIRE_LINK_RESP, 0, pdu.sequence_number)
            return None
        if cid == _UNBIND:  # section 4.2: answer, and the session is over
            self._out += answers.header_only(_UNBIND_RESP, 0, pdu.sequence_number)
            return self._close(CloseReason.UNBOUND_BY_PEER)
        if rule.ok is not self._state:
            if cid in BIND_MODES:  # SMSC: the application answers with the bind_resp
                self._peer_bind = (cid, pdu.sequence_number)
            self._set_state(rule.ok)
        return PduReceived(pdu=pdu, tolerated=rule.tolerated)

    def _on_response(self, pdu: Pdu, cid: int) -> Event | None:
        seq = pdu.sequence_number
        pending = self._pending.get(seq)
        if pending is None:
            if seq in self._window.expired_recently:
                self._timeouts = 0  # late, but the peer answers
                return UnexpectedResponse(pdu=pdu, reason=UnexpectedReason.LATE)
            return UnexpectedResponse(pdu=pdu, reason=UnexpectedReason.UNSOLICITED)
        request = pending.command_id
        expected = request | RESPONSE_BIT
        if cid != expected and cid != _GENERIC_NACK:
            return UnexpectedResponse(pdu=pdu, reason=UnexpectedReason.MISMATCHED)
        rule = self._recv_rules.get(expected)
        if rule is None:  # cannot happen for a request the table let us send
            return UnexpectedResponse(pdu=pdu, reason=UnexpectedReason.NOT_ALLOWED)
        self._window.close(seq)
        ok = pdu.command_status == 0 and cid != _GENERIC_NACK
        new = rule.ok if ok else rule.failed
        if new is not self._state:
            if request == _UNBIND:
                return self._close(CloseReason.UNBOUND)
            if request in BIND_MODES:
                self._mode = BIND_MODES[request][0] if ok else None
            self._set_state(new)
        if request in BIND_MODES:
            mode = BIND_MODES[request][0]
            if ok:
                system_id = getattr(pdu, "system_id", None)
                return Bound(mode=mode, system_id=system_id)
            return BindFailed(mode=mode, status=pdu.command_status, pdu=pdu)
        self._timeouts = 0  # any answer: the peer is there
        if seq == self._auto_enquire:
            self._auto_enquire = None
            self.enquire_link_rtt = self._rx_now - pending.sent_at
            self.enquire_link_answered_at = self._rx_now
            return self._resume() if seq == self._probe else None
        if seq == self._probe:
            self._events.append(self._resume())
        sent_at = pending.sent_at
        return ResponseReceived(
            pdu=pdu, request_command_id=request, sent_at=sent_at, rtt=self._rx_now - sent_at
        )

    # --- state changes ---------------------------------------------------------------
    def _set_state(self, state: State) -> None:
        self._state = state
        self._send_rules, self._recv_rules = self._rules[state]

    def _stream_lost(self, error: RemoteProtocolError) -> Event:
        _, data = answers.answer_for(error)
        self._out += data
        return self._close(CloseReason.PROTOCOL_ERROR, error=error)

    def _close(
        self,
        reason: CloseReason,
        *,
        error: RemoteProtocolError | None = None,
        expired: tuple[int, ...] = (),
    ) -> ConnectionClosed:
        auto = self._auto_enquire
        unanswered = expired + tuple(s for s in self._pending if s != auto)
        self._window.clear()
        self._auto_enquire = self._probe = None
        self._suspended = False
        self._set_state(State.CLOSED)
        return ConnectionClosed(reason=reason, unanswered=unanswered, error=error)

