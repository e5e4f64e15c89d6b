"""What a bind reports besides outcomes: why it never got bound, and a submit it
could not take or that timed out."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.smpp.constants import describe


class BindRefused(Exception):
    """The SMSC answered our bind with an error status (e.g. ESME_RINVPASWD)."""

    def __init__(self, status: int) -> None:
        super().__init__(describe(status))
        self.status = status


class BindLost(Exception):
    """The connection ended before the bind was answered."""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """What a submit resolves to on ResponseTimeout: the sequence_number a late
    response would carry on this session."""

    sequence_number: int


class CarrierClosed(Exception):
    """The carrier is stopping (or stopped) and the part was NOT written (or its
    last answer was a temporary refusal): requeue it."""


class NotWritten(Exception):
    """The bind cannot take a submit now (closing, unbinding): nothing was sent."""
