"""The two protocol error types (docs/design.md house rule 3, after h11's _util.py).

Each carries the command_status to answer with, so the connection never has to
guess: a RemoteProtocolError raised while decoding a delimited frame becomes that
request's ``*_resp`` (or a generic_nack for an unknown command_id); a fatal one
means the byte stream can no longer be delimited and the connection closes.
"""

from __future__ import annotations

from bridge.smpp.constants import CommandStatus


class ProtocolError(Exception):
    """Base class; ``status`` is the SMPP 3.4 command_status to answer with."""

    status: CommandStatus | int

    def __init__(self, message: str, status: CommandStatus | int) -> None:
        super().__init__(message)
        self.status = _as_status(status)


class LocalProtocolError(ProtocolError):
    """We misused the protocol (a field too long to encode, a window overrun, ...)."""

    def __init__(
        self, message: str, status: CommandStatus | int = CommandStatus.ESME_RSYSERR
    ) -> None:
        super().__init__(message, status)


class RemoteProtocolError(ProtocolError):
    """The peer violated SMPP 3.4.

    ``command_id`` and ``sequence_number`` are set whenever the 16-byte header was
    readable, so the answer can name the request. ``fatal`` is True only when the
    frame could not be delimited (bad command_length): answer generic_nack if
    possible, then close. Otherwise the frame was skipped cleanly; answer it and
    carry on. ``command_length`` and ``command_status`` are the offending
    header's, where the error names them (a command_length that cannot be
    trusted): for the log line of the bind that is lost with it.
    """

    command_id: int | None
    sequence_number: int | None
    fatal: bool
    command_length: int | None
    command_status: int | None

    def __init__(
        self,
        message: str,
        status: int,
        *,
        command_id: int | None = None,
        sequence_number: int | None = None,
        fatal: bool = False,
        command_length: int | None = None,
        command_status: int | None = None,
    ) -> None:
        super().__init__(message, status)
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.fatal = fatal
        self.command_length = command_length
        self.command_status = command_status

    def __repr__(self) -> str:
        cid = "None" if self.command_id is None else f"0x{self.command_id:08X}"
        return (
            f"RemoteProtocolError({self.args[0]!r}, status=0x{int(self.status):08X},"
            f" command_id={cid}, sequence_number={self.sequence_number},"
            f" fatal={self.fatal})"
        )


def _as_status(status: int) -> CommandStatus | int:
    try:
        return CommandStatus(status)
    except ValueError:
        return status  # vendor / reserved codes stay plain ints


class BodyError(Exception):
    """A malformed body field; decode() turns it into a RemoteProtocolError."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
