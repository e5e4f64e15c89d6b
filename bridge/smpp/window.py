"""The requests we have sent and not yet had answered, and the submit window.

Every request we originate (binds, unbind, enquire_link, the message operations)
waits here for its response, for matching by sequence_number and for its response
timer. Only the message operations in :data:`bridge.smpp.state.WINDOWED` count
against the window size: enquire_link and unbind must get through a full
window, or a saturated bind could never be checked or closed cleanly.

Like h2's ``windows.py`` this is a small pure class; unlike HTTP/2 flow control the
window is not advertised by the peer: SMSCs agree a window with each customer out of
band (typically 10-100) and throttle or drop a bind that exceeds it, so overrunning
it is our bug and raises :class:`LocalProtocolError`.

Timers: entries are kept in send order in an insertion-ordered dict. The connection
uses one response timeout and a clock that never goes backwards, so deadlines are
non-decreasing in send order (``open`` clamps them to make that a guarantee) and the
expired entries are always a prefix: ``expired`` and ``next_deadline`` are O(1) per
entry, with no heap.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from bridge.smpp.constants import CommandStatus
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.state import WINDOWED

#: How many timed-out sequence_numbers ``expired_recently`` keeps.
EXPIRED_MEMORY = 4096


class Pending(msgspec.Struct, frozen=True, gc=False):
    """One request awaiting its response (a Struct: built in C, one per submit)."""

    sequence_number: int
    command_id: int
    sent_at: float
    deadline: float
    windowed: bool
    automatic: bool  # written by the connection itself (enquire_link), not the caller


class Window:
    """Outstanding requests keyed by sequence_number, ``size`` of them windowed."""

    __slots__ = ("_last_deadline", "_used", "expired_recently", "pending", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, got {size!r}")
        self.size = size
        #: sequence_number -> Pending, in send order. Read it freely (the sequence
        #: allocator tests membership on it directly, the hot path); change it only
        #: through open/close/expired/clear, which keep ``used`` right.
        self.pending: dict[int, Pending] = {}
        self._used = 0
        self._last_deadline = float("-inf")
        #: sequence_numbers that left by timing out, oldest first, so a response
        #: arriving later can be called LATE rather than UNSOLICITED. Bounded
        #: (docs/design.md: every queue is bounded); an older late response is still
        #: reported, only with the vaguer reason.
        self.expired_recently: dict[int, None] = {}

    # --- sizes ---------------------------------------------------------------
    @property
    def used(self) -> int:
        """Windowed requests outstanding."""
        return self._used

    @property
    def free(self) -> int:
        """How many more windowed requests may be sent now."""
        return self.size - self._used

    def __len__(self) -> int:
        """All outstanding requests, windowed or not."""
        return len(self.pending)

    def __contains__(self, sequence_number: object) -> bool:
        return sequence_number in self.pending

    def __iter__(self) -> Iterator[int]:
        return iter(self.pending)

    def require_room(self, command_id: int) -> None:
        """Raise LocalProtocolError when a request ``command_id`` would overrun the window."""
        if self._used >= self.size and command_id in WINDOWED:
            raise LocalProtocolError(
                f"submit window full ({self._used}/{self.size} outstanding): wait for a"
                " response or a timeout before sending more",
                CommandStatus.ESME_RMSGQFUL,
            )

    # --- changes -------------------------------------------------------------
    def open(
        self,
        sequence_number: int,
        command_id: int,
        *,
        now: float,
        timeout: float,
        automatic: bool = False,
    ) -> Pending:
        """Record a request just sent. Raises LocalProtocolError when it would
        overrun the window or reuse an outstanding sequence_number."""
        self.require_room(command_id)
        windowed = command_id in WINDOWED
        if sequence_number in self.pending:
            raise LocalProtocolError(
                f"sequence_number {sequence_number} is still outstanding",
                CommandStatus.ESME_RSYSERR,
            )
        deadline = max(now + timeout, self._last_deadline)
        self._last_deadline = deadline
        pending = Pending(sequence_number, command_id, now, deadline, windowed, automatic)
        self.pending[sequence_number] = pending
        if windowed:
            self._used += 1
        return pending

    def get(self, sequence_number: int) -> Pending | None:
        return self.pending.get(sequence_number)

    def close(self, sequence_number: int) -> Pending | None:
        """Forget a request (answered); None when it was not outstanding."""
        pending = self.pending.pop(sequence_number, None)
        if pending is not None and pending.windowed:
            self._used -= 1
        return pending

    def expired(self, now: float) -> list[Pending]:
        """Remove and return, in send order, every request whose deadline is <= now."""
        out: list[Pending] = []
        for pending in self.pending.values():
            if pending.deadline > now:
                break
            out.append(pending)
        recent = self.expired_recently
        for pending in out:
            self.close(pending.sequence_number)
            recent[pending.sequence_number] = None
        while len(recent) > EXPIRED_MEMORY:
            del recent[next(iter(recent))]
        return out

    def next_deadline(self) -> float | None:
        """The earliest response deadline, None when nothing is outstanding."""
        for pending in self.pending.values():
            return pending.deadline
        return None

    def clear(self) -> list[Pending]:
        """Remove and return everything (the connection closed)."""
        out = list(self.pending.values())
        self.pending.clear()
        self._used = 0
        return out
