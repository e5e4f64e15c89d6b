"""Delimit SMPP frames in a byte stream (SMPP 3.4 section 3.2: command_length).

TCP hands us arbitrary chunks; the reader buffers them and cuts whole frames
by command_length. The length is bounded before it is trusted (docs/design.md
"Security rules"):

- below 16 (smaller than the header) the stream can no longer be delimited: a
  fatal error, the connection closes;
- above ``max_length`` with an intact header (a command_id SMPP 3.4 defines)
  the frame is delimited all the same: its first octets are dropped, the rest
  of its body is skipped as it arrives (never buffered), and ``next_frame``
  raises a non-fatal :class:`FrameTooLong` naming the PDU, which the
  connection answers with generic_nack ESME_RINVCMDLEN (section 4.3) while the
  bind goes on. Above ``max_length`` with an unknown command_id the length is
  taken for garbage (a desynchronised stream): fatal. So is a length above
  ``PLAUSIBLE_LENGTH`` (16 MiB) whatever the command_id: no SMPP 3.4 PDU comes
  near it, and skipping gigabytes for a peer that lost its framing would keep a
  dead stream open until the frame timeout instead of closing it now.

Memory bound: ``feed`` refuses to grow a buffer that already holds
``max_length`` octets the caller has not drained with ``next_frame``, so the
buffer never exceeds one maximum frame plus one read.
"""

from __future__ import annotations

import struct
import typing
from collections.abc import Iterator

from bridge.smpp import fields as F
from bridge.smpp import pdus as P
from bridge.smpp.constants import CommandStatus
from bridge.smpp.errors import LocalProtocolError, RemoteProtocolError
from bridge.smpp.tlv import TLV_TYPES

_U32 = struct.Struct(">I")
_HEADER_REST = struct.Struct(">III")  # command_id, command_status, sequence_number


def _largest_body(cls: type[P.Pdu]) -> int:
    """The most octets a valid body of ``cls`` can have, from the wire markers of
    pdus.py (the field tables of SMPP 3.4 section 4) and the TLV table of tlv.py."""
    hints = typing.get_type_hints(cls, include_extras=True)
    size = 0
    for name in cls.__struct_fields__[2:]:
        marker = hints[name].__metadata__[0]
        if isinstance(marker, F.COctet):
            size += marker.max_size  # section 3.1: the maximum includes the NUL
        elif isinstance(marker, F.Int):
            size += marker.size
        elif marker is F.SHORT_MESSAGE:
            size += 1 + 254  # sm_length, short_message (section 4.4.1)
        elif marker is F.DEST_ADDRESS:
            # number_of_dests (at most 254), each dest_flag + ton + npi + address
            # (21), the larger of the two dest_address forms (section 4.5.1.1)
            size += 1 + 254 * (1 + 1 + 1 + 21)
        elif marker is F.UNSUCCESS_SME:
            # no_unsuccess, each ton + npi + address (21) + error_status_code (4),
            # at most one per destination of the submit_multi (section 4.5.2)
            size += 1 + 254 * (1 + 1 + 21 + 4)
        else:
            # Every optional parameter section 5.3.2 defines, once, at its longest
            # (message_payload: 65,535 octets), each with its 4-octet tag and length.
            size += sum(4 + longest for _, _, longest in TLV_TYPES.values())
    return size


#: The largest valid SMPP 3.4 PDU: the 16-octet header plus the largest body of
#: any PDU, computed above from the spec's field maxima (every C-octet string at
#: its maximum, 254 destinations, every TLV once at its longest). That is 73,151
#: octets, for a submit_multi_resp; a deliver_sm or submit_sm comes to 66,575
#: (16 + 66,559), so a deliver_sm with a full 65,535-octet message_payload always
#: fits. tests/smpp/test_framing_limits.py checks the figures. A carrier's
#: ``max_pdu_size`` may lower it.
DEFAULT_MAX_LENGTH = 16 + max(_largest_body(cls) for cls in P.ALL_PDU_CLASSES)


#: Above this command_length the header is not taken as intact, known command_id
#: or not: 16 MiB, the ceiling of a carrier's ``max_pdu_size`` and over 200 times
#: the largest valid PDU.
PLAUSIBLE_LENGTH = 16 * 1024 * 1024


class FrameTooLong(RemoteProtocolError):
    """A frame longer than ``max_length`` whose header is intact: skipped, not fatal.
    ``length`` is its command_length."""

    def __init__(self, message: str, *, length: int, command_id: int, sequence_number: int) -> None:
        super().__init__(
            message,
            CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence_number,
        )
        self.length = length


class FrameReader:
    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 16:
            raise ValueError("max_length below the 16-octet header")
        self.max_length = max_length
        # bytes while it starts with a frame boundary (a frame is then one slice of it,
        # not the two copies a bytearray takes: slice, then bytes()); a bytearray while
        # a frame is pending across feeds (appends stay cheap however it trickles in).
        self._buf: bytes | bytearray = b""
        self._pos = 0  # start of the unread data in _buf
        self._skip = 0  # octets of a too long frame still to drop as they arrive
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as frames."""
        return len(self._buf) - self._pos

    @property
    def mid_frame(self) -> bool:
        """Octets of a frame not yet complete are held (or being skipped)."""
        return self._skip > 0 or len(self._buf) > self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> bool:
        """Buffer ``data``; True when a new frame starts in it (no frame was
        pending before it, or a skipped one ended inside it)."""
        starts = not self.mid_frame
        skip = self._skip
        if skip:
            if len(data) <= skip:
                self._skip = skip - len(data)
                return False
            data = memoryview(data)[skip:]
            self._skip = 0
            starts = True
        buf, pos = self._buf, self._pos
        if pos == len(buf):  # all read: the usual case, a read ending on a frame boundary
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return starts
        if not isinstance(buf, bytearray):
            buf = bytearray(memoryview(buf)[pos:])
        elif pos:
            del buf[:pos]
        self._pos = 0
        if len(buf) >= self.max_length:
            self._buf = buf
            raise LocalProtocolError(
                f"{len(buf)} octets buffered: call next_frame() before feeding more"
            )
        buf += data
        self._buf = buf
        return starts

    def next_frame(self) -> bytes | None:
        """The next whole frame (header included), or None if more data is needed.

        Raises RemoteProtocolError: fatal when the stream cannot be delimited,
        :class:`FrameTooLong` (not fatal) for a too long frame being skipped.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 4:
            return None
        (length,) = _U32.unpack_from(buf, pos)
        if length > self.max_length:
            self._too_long(length, pos, avail)  # raises once the header is in
            return None
        if length < 16:
            self._error = self._bad_length(length, pos, avail)
            raise self._error
        if avail < length:
            return None
        end = pos + length
        frame = buf[pos:end]
        if type(frame) is not bytes:
            frame = bytes(frame)
        if end == len(buf):
            self._buf = b""
            self._pos = 0
        else:
            self._pos = end
        return frame

    def __iter__(self) -> Iterator[bytes]:
        """Every whole frame buffered so far."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def _too_long(self, length: int, pos: int, avail: int) -> None:
        if avail < 8:
            return  # the command_id decides between skipping and giving up
        command_id = _U32.unpack_from(self._buf, pos + 4)[0]
        if command_id not in P.PDU_TYPES or length > PLAUSIBLE_LENGTH:
            self._error = self._bad_length(length, pos, avail)
            raise self._error
        if avail < 16:
            return  # wait for the sequence_number: the answer must carry it
        _, _, sequence = _HEADER_REST.unpack_from(self._buf, pos + 4)
        taken = min(length, avail)
        self._pos = pos + taken
        if self._pos == len(self._buf):
            self._buf = b""
            self._pos = 0
        self._skip = length - taken
        raise FrameTooLong(
            f"command_length {length} above the limit of {self.max_length} octets",
            length=length,
            command_id=command_id,
            sequence_number=sequence,
        )

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
