"""sequence_number allocation for the requests we originate.

SMPP 3.4 section 3.2 (table 3-1, PDU header): sequence_number runs from 0x00000001
to 0x7FFFFFFF; the response echoes its request's number, which is how the two are
matched. Numbers are handed out in order and wrap from 0x7FFFFFFF back to 1. After a
wrap a number may still belong to a request that has not been answered (a slow or
lost response); reusing it would make its response ambiguous, so the allocator
skips every number the caller says is in use.
"""

from __future__ import annotations

from collections.abc import Collection

from bridge.smpp.constants import CommandStatus
from bridge.smpp.errors import LocalProtocolError

MIN_SEQUENCE = 0x00000001
MAX_SEQUENCE = 0x7FFFFFFF


class SequenceNumbers:
    """Hands out 1, 2, ... 0x7FFFFFFF, 1, ... skipping numbers still outstanding."""

    __slots__ = ("_next",)

    def __init__(self, start: int = MIN_SEQUENCE) -> None:
        if not MIN_SEQUENCE <= start <= MAX_SEQUENCE:
            raise ValueError(f"start must be in 1..0x7FFFFFFF, got {start!r}")
        self._next = start

    @property
    def peek(self) -> int:
        """The number the next call to :meth:`allocate` tries first."""
        return self._next

    def allocate(self, in_use: Collection[int]) -> int:
        """The next number not in ``in_use``.

        The loop runs at most len(in_use) + 1 times: each skipped number is a
        distinct member of ``in_use``.
        """
        if len(in_use) >= MAX_SEQUENCE:
            raise LocalProtocolError(
                "every sequence_number is outstanding", CommandStatus.ESME_RMSGQFUL
            )
        number = self._next
        while number in in_use:
            number = MIN_SEQUENCE if number == MAX_SEQUENCE else number + 1
        self._next = MIN_SEQUENCE if number == MAX_SEQUENCE else number + 1
        return number
