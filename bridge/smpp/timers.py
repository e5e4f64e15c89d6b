"""The timers of a :class:`~bridge.smpp.connection.Connection`, and its liveness rules.

A mixin of Connection, split out only to keep each module short (docs/design.md house
rule 8): it reads and writes the connection's own attributes, declared below for
the type checker. What it does (docs/smpp-connection.md, "Timers" and "Liveness"):

- response timeouts (``ResponseTimeout``; a bind or unbind closes instead);
- the automatic enquire_link of SMPP 3.4 section 4.11 after ``enquire_link_interval``
  without a whole PDU from the peer, and LINK_LOST when it goes unanswered;
- the frame timeout: a PDU the peer began must be complete within ``frame_timeout``;
- the suspension: ``max_consecutive_timeouts`` message requests in a row unanswered
  stop the window and probe the link with one enquire_link.
"""

from __future__ import annotations

from collections import deque

from bridge.smpp import answers
from bridge.smpp.constants import CommandId
from bridge.smpp.errors import RemoteProtocolError
from bridge.smpp.events import (
    CloseReason,
    ConnectionClosed,
    Event,
    ResponseTimeout,
    WindowResumed,
    WindowSuspended,
)
from bridge.smpp.framing import FrameReader
from bridge.smpp.sequence import SequenceNumbers
from bridge.smpp.state import BIND_MODES, BOUND_STATES, WINDOWED, State
from bridge.smpp.window import Pending, Window

_ENQUIRE_LINK = CommandId.ENQUIRE_LINK
_UNBIND = CommandId.UNBIND
_BOUND = frozenset(BOUND_STATES)


class Timers:
    """Mixin: ``tick``, ``next_deadline`` and the liveness state of a Connection."""

    # The connection's attributes this mixin uses (set in Connection.__init__).
    response_timeout: float
    enquire_link_interval: float | None
    frame_timeout: float | None
    max_consecutive_timeouts: int | None
    _state: State
    _window: Window
    _pending: dict[int, Pending]
    _sequence: SequenceNumbers
    _reader: FrameReader
    _out: bytearray
    _events: deque[Event]
    _rx_now: float
    _last_rx: float
    _frame_since: float
    _auto_enquire: int | None
    _timeouts: int
    _suspended: bool
    _probe: int | None

    def _close(
        self,
        reason: CloseReason,
        *,
        error: RemoteProtocolError | None = None,
        expired: tuple[int, ...] = (),
    ) -> ConnectionClosed:
        raise NotImplementedError  # Connection's

    # --- timers ----------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Fire due timers: the frame timeout, response timeouts, the enquire_link,
        link loss."""
        if self._state is State.CLOSED:
            return
        frame_deadline = self._frame_deadline()
        if frame_deadline is not None and now >= frame_deadline:
            self._events.append(self._close(CloseReason.FRAME_TIMEOUT))
            return
        window = self._window
        deadline = window.next_deadline()
        if deadline is not None and deadline <= now:
            expired = window.expired(now)
            for index, pending in enumerate(expired):
                reason = self._expire(pending, now)
                if reason is not None:
                    auto = self._auto_enquire
                    rest = tuple(
                        p.sequence_number for p in expired[index:] if p.sequence_number != auto
                    )
                    self._events.append(self._close(reason, expired=rest))
                    return
        interval = self.enquire_link_interval
        if (
            interval is not None
            and self._auto_enquire is None
            and self._state in _BOUND
            and now >= self._last_rx + interval
        ):
            seq = self._sequence.allocate(self._pending)
            window.open(seq, _ENQUIRE_LINK, now=now, timeout=self.response_timeout,
                        automatic=True)
            self._auto_enquire = seq
            self._out += answers.header_only(_ENQUIRE_LINK, 0, seq)

    def _expire(self, pending: Pending, now: float) -> CloseReason | None:
        """Report one expired request; a reason when the session cannot go on."""
        seq = pending.sequence_number
        if seq == self._probe:
            return CloseReason.LINK_LOST  # the probe of a suspended window: section 4.11
        if seq == self._auto_enquire:
            if self._last_rx <= pending.sent_at:
                return CloseReason.LINK_LOST  # section 4.11: the link check failed
            self._auto_enquire = None  # traffic came meanwhile: the link is alive
            return None
        cid = pending.command_id
        if cid in BIND_MODES:
            return CloseReason.RESPONSE_TIMEOUT
        if cid == _UNBIND:
            return CloseReason.UNBOUND  # we were leaving anyway
        if cid in WINDOWED:
            self._timeouts += 1
            limit = self.max_consecutive_timeouts
            if limit is not None and self._timeouts >= limit and not self._suspended:
                self._suspend(now)
        self._events.append(
            ResponseTimeout(sequence_number=seq, command_id=cid, sent_at=pending.sent_at)
        )
        return None

    # --- suspension: the window is lost, is the link? ------------------------------------
    def _suspend(self, now: float) -> None:
        """Stop filling the window and probe the link with one enquire_link: ours
        if one is outstanding already, else a new automatic one (section 4.11)."""
        self._suspended = True
        self._events.append(WindowSuspended(timeouts=self._timeouts))
        if self._state not in _BOUND:
            return  # unbinding: the unbind_resp (or its timeout) ends it anyway
        for pending in self._pending.values():
            if pending.command_id == _ENQUIRE_LINK:
                self._probe = pending.sequence_number
                return
        seq = self._sequence.allocate(self._pending)
        self._window.open(seq, _ENQUIRE_LINK, now=now, timeout=self.response_timeout,
                          automatic=True)
        self._auto_enquire = self._probe = seq
        self._out += answers.header_only(_ENQUIRE_LINK, 0, seq)

    def _resume(self) -> WindowResumed:
        self._probe = None
        self._suspended = False
        self._timeouts = 0
        return WindowResumed()

    def _frame_deadline(self) -> float | None:
        """When the frame the peer began must be complete; None when no frame is
        pending or none of its octets came after the chunk it began in (until then
        the wait may be ours: a reader held up by backpressure is not a slow peer)."""
        timeout = self.frame_timeout
        if timeout is None or not self._reader.mid_frame:
            return None
        began = self._last_rx if self._last_rx > self._frame_since else self._frame_since
        if self._rx_now <= began:
            return None
        return began + timeout

    def next_deadline(self) -> float | None:
        """When ``tick`` must next be called; None when no timer runs."""
        if self._state is State.CLOSED:
            return None
        deadline = self._window.next_deadline()
        frame_deadline = self._frame_deadline()
        if frame_deadline is not None and (deadline is None or frame_deadline < deadline):
            deadline = frame_deadline
        interval = self.enquire_link_interval
        if interval is not None and self._auto_enquire is None and self._state in _BOUND:
            due = self._last_rx + interval
            if deadline is None or due < deadline:
                return due
        return deadline
