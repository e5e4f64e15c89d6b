"""Delimit SMPP frames in a byte stream (SMPP 3.4 section 3.2: command_length).

TCP hands us arbitrary chunks; the reader buffers them and cuts whole frames
by command_length. The length is bounded before it is trusted (DESIGN.md
security rules): below 16 (smaller than the header) or above ``max_length`` the
stream can no longer be delimited, and the error is fatal for the connection.

Memory bound: ``feed`` refuses to grow a buffer that already holds
``max_length`` octets the caller has not drained with ``next_frame``, so the
buffer never exceeds one maximum frame plus one read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from bridge.smpp.constants import CommandStatus
from bridge.smpp.errors import LocalProtocolError, RemoteProtocolError

_U32 = struct.Struct(">I")

#: 64 KiB: a submit_sm with a full message_payload TLV (65535 octets) plus its
#: mandatory fields is slightly over; raise it per carrier if one sends those.
DEFAULT_MAX_LENGTH = 65536


class FrameReader:
    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 16:
            raise ValueError("max_length below the 16-octet header")
        self.max_length = max_length
        self._buf = bytearray()
        self._pos = 0  # start of the unread data in _buf
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as frames."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        if len(self._buf) >= self.max_length:
            raise LocalProtocolError(
                f"{len(self._buf)} octets buffered: call next_frame() before feeding more"
            )
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next whole frame (header included), or None if more data is needed."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 4:
            return None
        (length,) = _U32.unpack_from(buf, pos)
        if length < 16 or length > self.max_length:
            self._error = self._bad_length(length, pos, avail)
            raise self._error
        if avail < length:
            return None
        end = pos + length
        frame = bytes(buf[pos:end])
        if end == len(buf):
            buf.clear()
            self._pos = 0
        else:
            self._pos = end
        return frame

    def __iter__(self) -> Iterator[bytes]:
        """Every whole frame buffered so far."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def _bad_length(self, length: int, pos: int, avail: int) -> RemoteProtocolError:
        # Name the command and sequence if the peer sent that much (useful in
        # the generic_nack and the log); do not wait for it: the stream is lost.
        command_id = _U32.unpack_from(self._buf, pos + 4)[0] if avail >= 8 else None
        status = _U32.unpack_from(self._buf, pos + 8)[0] if avail >= 12 else None
        sequence = _U32.unpack_from(self._buf, pos + 12)[0] if avail >= 16 else None
        return RemoteProtocolError(
            f"command_length {length} outside 16..{self.max_length}",
            CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence,
            fatal=True,
            command_length=length,
            command_status=status,
        )
