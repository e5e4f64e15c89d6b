"""Encode and decode SMPP 3.4 PDUs (section 3.2 header, section 4 bodies).

Two paths, one behaviour:

- a generic path driven by the wire markers on the PDU classes (pdus.py),
  compiled once at import; it handles every PDU, every error and every
  tolerance, and is the reference;
- hand-written fast paths for the hot PDUs (codec_fast.py: submit_sm /
  deliver_sm encode and decode, submit_sm_resp / deliver_sm_resp / data_sm_resp
  decode). A fast path never raises for bad input: it returns None and the
  generic path redoes the work and reports the precise error. Tests check both
  paths give identical results.

Response bodies (SMPP 3.4 section 4; docs/smpp-codec.md, "Response bodies"):
- encode: an error response whose fields are all None is header only (section
  4.4.2 says so of submit_sm_resp; SMPP 5.0 generalises it), EXCEPT
  deliver_sm_resp and data_sm_resp, which always carry their message_id (NULL
  when None): section 4.6.2 defines the deliver_sm_resp body as one NULL
  message_id with no exception for errors, and peers such as SMPPSim 2.6.11
  drop the bind on a 16-octet deliver_sm_resp; a data_sm_resp carries its
  failure TLVs after the message_id (section 4.7.2);
- decode (tolerant): a response with a non-zero command_status may have no
  body, and so may a deliver_sm_resp with status 0; fields are then None;
- a C-octet string longer than the spec's maximum is accepted up to
  ``Decoder.max_c_octet_string`` octets and counted in ``Decoder.overlong``;
- a missing NUL, a truncated field, a bad sm_length or a broken TLV stream is a
  RemoteProtocolError with the status the request is answered with; an unknown
  command_id is ESME_RINVCMDID (not fatal: the frame is delimited); a frame whose
  command_length disagrees with its size is ESME_RINVCMDLEN (fatal).
- on encode, anything that does not fit its field is a LocalProtocolError.
"""

from __future__ import annotations

import struct
import typing
from collections.abc import Callable
from typing import Any

from bridge.smpp import codec_fast as _fast
from bridge.smpp import fields as F
from bridge.smpp import pdus as P
from bridge.smpp.constants import CommandId, DestFlag
from bridge.smpp.constants import CommandStatus as S
from bridge.smpp.errors import BodyError as _BodyError
from bridge.smpp.errors import LocalProtocolError, RemoteProtocolError
from bridge.smpp.tlv import decode_tlvs, encode_tlvs

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
HEADER_SIZE = 16
_I4 = struct.Struct(">I")
_MAX_SM = 254  # section 4.4.1: short_message is 0..254 octets


# -- layouts compiled from pdus.py -------------------------------------------------------

Field = tuple[str, F.COctet | F.Int | F.Special]


class _Layout:
    __slots__ = ("absent", "always_body", "cls", "empty_ok", "fields", "is_response", "make")

    def __init__(self, cls: type[P.Pdu]) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields: list[Field] = []
        for name in cls.__struct_fields__[2:]:  # after sequence_number, command_status
            marker = hints[name].__metadata__[0]
            assert isinstance(marker, F.COctet | F.Int | F.Special)
            fields.append((name, marker))
        self.cls = cls
        self.make: Callable[..., P.Pdu] = cls  # positional construction (see pdus.py)
        self.fields = tuple(fields)
        self.is_response = bool(cls.command_id & 0x80000000) and bool(fields)
        # Section 4.6.2: deliver_sm_resp's message_id is unused; ESMEs often omit it.
        self.empty_ok = cls is P.DeliverSmResp
        # Never bodiless on encode (see the module docstring).
        self.always_body = cls in ALWAYS_BODY
        # A bodiless response decodes with every field absent (None), whatever
        # the class defaults ("" for the always_body ones).
        self.absent: dict[str, object] = {
            name: None for name, marker in self.fields if isinstance(marker, F.COctet)
        }


#: Responses encoded with their message_id whatever the command_status.
ALWAYS_BODY: frozenset[type[P.Pdu]] = frozenset({P.DeliverSmResp, P.DataSmResp})

_LAYOUTS: dict[int, _Layout] = {int(cid): _Layout(cls) for cid, cls in P.PDU_TYPES.items()}
_BY_CLASS: dict[type[P.Pdu], _Layout] = {lay.cls: lay for lay in _LAYOUTS.values()}


# -- encoding ----------------------------------------------------------------------------


def encode(pdu: P.Pdu, sequence_number: int | None = None) -> bytes:
    """The wire bytes of ``pdu``; ``sequence_number`` overrides pdu.sequence_number."""
    fast = _FAST_ENCODERS.get(type(pdu))
    if fast is not None:
        out = fast(pdu, pdu.sequence_number if sequence_number is None else sequence_number)
        if out is not None:
            return out
    layout = _BY_CLASS.get(type(pdu))
    if layout is None:
        raise LocalProtocolError(f"not an SMPP PDU: {type(pdu).__name__}")
    seq = pdu.sequence_number if sequence_number is None else sequence_number
    try:
        body = _encode_body(pdu, layout)
    except (TypeError, ValueError, AttributeError) as exc:
        # A field of the wrong type (house rule 7 trusts types inside, but a caller's
        # mistake must still surface as the protocol error type, never a crash).
        raise LocalProtocolError(f"{type(pdu).__name__}: malformed field: {exc}") from None
    return _header(16 + len(body), pdu.command_id, pdu.command_status, seq) + body


def _header(length: int, command_id: int, status: int, seq: int) -> bytes:
    try:
        return HEADER.pack(length, command_id, status, seq)
    except struct.error:
        raise LocalProtocolError(
            f"header out of range: command_status={status!r}, sequence_number={seq!r}"
        ) from None


def _encode_body(pdu: P.Pdu, layout: _Layout) -> bytes:
    values = [getattr(pdu, name) for name, _ in layout.fields]
    if (
        layout.is_response
        and pdu.command_status != 0
        and not layout.always_body
        and all(v is None or v == () for v in values)
    ):
        return b""  # section 4.4.2: an error response without fields has no body
    # Otherwise an absent (None) field goes out as its NULL value: "" or 0.
    parts: list[bytes] = []
    for (name, marker), value in zip(layout.fields, values, strict=True):
        if isinstance(marker, F.COctet):
            parts.append(_encode_cstr(name, "" if value is None else value, marker.max_size))
        elif isinstance(marker, F.Int):
            parts.append(_encode_int(name, 0 if value is None else value, marker.size))
        elif marker is F.SHORT_MESSAGE:
            if not isinstance(value, bytes) or len(value) > _MAX_SM:
                raise LocalProtocolError(
                    f"short_message must be bytes of at most {_MAX_SM} octets"
                    " (use the message_payload TLV for more)",
                    S.ESME_RINVMSGLEN,
                )
            parts.append(bytes((len(value),)) + value)
        elif marker is F.DEST_ADDRESS:
            parts.append(_encode_dests(value))
        elif marker is F.UNSUCCESS_SME:
            parts.append(_encode_unsuccess(value))
        else:
            parts.append(encode_tlvs(value))
    return b"".join(parts)


def _encode_cstr(name: str, value: str, max_size: int) -> bytes:
    if not isinstance(value, str) or "\0" in value:
        raise LocalProtocolError(f"{name}: needs a str without NUL, got {value!r}")
    if len(value) >= max_size:
        raise LocalProtocolError(
            f"{name}: {len(value)} octets, at most {max_size - 1} allowed (SMPP 3.4 section 4)"
        )
    if max_size == 17 and len(value) not in (0, 16):
        # Section 7.1: absolute or relative time, "YYMMDDhhmmsstnnp", or NULL.
        raise LocalProtocolError(f"{name}: a time is 16 characters or empty, got {value!r}")
    try:
        return value.encode("latin-1") + b"\0"
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{name}: not representable in one octet per character") from None


def _encode_int(name: str, value: int, size: int) -> bytes:
    if not isinstance(value, int) or not 0 <= value < 1 << (8 * size):
        raise LocalProtocolError(f"{name}: {value!r} is not a {size}-octet unsigned integer")
    return value.to_bytes(size, "big")


def _encode_dests(dests: tuple[F.DestAddress, ...]) -> bytes:
    if not 1 <= len(dests) <= 254:
        raise LocalProtocolError(
            f"submit_multi needs 1..254 destinations, got {len(dests)}", S.ESME_RINVNUMDESTS
        )
    parts = [bytes((len(dests),))]
    for d in dests:
        if isinstance(d, F.SmeAddress):
            parts.append(bytes((DestFlag.SME_ADDRESS,)))
            parts.append(_encode_int("dest_addr_ton", d.dest_addr_ton, 1))
            parts.append(_encode_int("dest_addr_npi", d.dest_addr_npi, 1))
            parts.append(_encode_cstr("destination_addr", d.destination_addr, 21))
        elif isinstance(d, F.DistributionList):
            parts.append(bytes((DestFlag.DISTRIBUTION_LIST,)))
            parts.append(_encode_cstr("dl_name", d.dl_name, 21))
        else:
            raise LocalProtocolError(f"dest_address: {d!r} is neither SmeAddress nor DistributionList")
    return b"".join(parts)


def _encode_unsuccess(items: tuple[F.UnsuccessSme, ...]) -> bytes:
    if len(items) > 255:
        raise LocalProtocolError(f"no_unsuccess is one octet, got {len(items)} entries")
    parts = [bytes((len(items),))]
    for u in items:
        parts.append(_encode_int("dest_addr_ton", u.dest_addr_ton, 1))
        parts.append(_encode_int("dest_addr_npi", u.dest_addr_npi, 1))
        parts.append(_encode_cstr("destination_addr", u.destination_addr, 21))
        parts.append(_encode_int("error_status_code", u.error_status_code, 4))
    return b"".join(parts)


_FAST_ENCODERS: dict[type[P.Pdu], Callable[[Any, int], bytes | None]] = {
    P.SubmitSm: _fast.encode_submit_sm,
    P.DeliverSm: _fast.encode_deliver_sm,
    P.SubmitSmResp: _fast.encode_submit_sm_resp,
    P.DeliverSmResp: _fast.encode_deliver_sm_resp,
}


# -- decoding ----------------------------------------------------------------------------


def peek_header(frame: bytes | memoryview) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) of a frame."""
    if len(frame) < HEADER_SIZE:
        raise RemoteProtocolError(
            f"{len(frame)} octets is shorter than the 16-octet header",
            S.ESME_RINVCMDLEN,
            fatal=True,
        )
    length, command_id, status, seq = HEADER.unpack_from(frame)
    return length, command_id, status, seq


class Decoder:
    """Decodes whole frames; owns the tolerance setting and its counter.

    ``max_c_octet_string``: the longest C-octet string (octets, without the NUL)
    accepted where the spec allows less (e.g. a 30-digit source_addr, a 70-char
    message_id); each such field adds one to ``overlong``. Beyond it the field is
    malformed and answered with its status.
    """

    def __init__(self, *, max_c_octet_string: int = 255) -> None:
        self.max_c_octet_string = max_c_octet_string
        self.overlong = 0

    def decode(self, frame: bytes | memoryview | bytearray) -> P.Pdu:
        """Decode one whole frame, header included (see the module docstring)."""
        buf = frame if type(frame) is bytes else bytes(frame)
        try:
            length, cid, status, seq = _unpack_header(buf)
        except struct.error:
            raise RemoteProtocolError(
                f"{len(buf)} octets is shorter than the 16-octet header",
                S.ESME_RINVCMDLEN,
                fatal=True,
            ) from None
        if length == len(buf):
            fast = _FAST_DECODERS.get(cid)
            if fast is not None:
                pdu = fast(buf, seq, status)
                if pdu is not None:
                    return pdu
        return self._decode_slow(buf, length, cid, status, seq)

    def _decode_slow(self, buf: bytes, length: int, cid: int, status: int, seq: int) -> P.Pdu:
        if length != len(buf):
            raise RemoteProtocolError(
                f"command_length {length} but the frame has {len(buf)} octets",
                S.ESME_RINVCMDLEN,
                command_id=cid,
                sequence_number=seq,
                fatal=True,
            )
        layout = _LAYOUTS.get(cid)
        if layout is None:
            raise RemoteProtocolError(
                f"unknown command_id 0x{cid:08X}", S.ESME_RINVCMDID, command_id=cid, sequence_number=seq
            )
        try:
            return self._decode_body(buf, layout, seq, status)
        except _BodyError as exc:
            raise RemoteProtocolError(
                f"{layout.cls.__name__}: {exc}", exc.status, command_id=cid, sequence_number=seq
            ) from None

    # The generic path --------------------------------------------------------------

    def _decode_body(self, buf: bytes, layout: _Layout, seq: int, status: int) -> P.Pdu:
        end = len(buf)
        if end == HEADER_SIZE and layout.is_response and (status != 0 or layout.empty_ok):
            return layout.cls(sequence_number=seq, command_status=status, **layout.absent)
        values: list[object] = [seq, status]
        i = HEADER_SIZE
        for name, marker in layout.fields:
            if isinstance(marker, F.COctet):
                value, i = self._cstr(buf, i, name, marker)
                values.append(value)
            elif isinstance(marker, F.Int):
                if i + marker.size > end:
                    raise _BodyError(f"{name}: truncated", S.ESME_RINVCMDLEN)
                values.append(int.from_bytes(buf[i : i + marker.size], "big"))
                i += marker.size
            elif marker is F.SHORT_MESSAGE:
                if i >= end:
                    raise _BodyError("sm_length: truncated", S.ESME_RINVCMDLEN)
                n = buf[i]
                if i + 1 + n > end:
                    raise _BodyError(f"sm_length {n} exceeds the body", S.ESME_RINVMSGLEN)
                if n > _MAX_SM:
                    self.overlong += 1
                values.append(buf[i + 1 : i + 1 + n])
                i += 1 + n
            elif marker is F.DEST_ADDRESS:
                dests, i = self._dests(buf, i)
                values.append(dests)
            elif marker is F.UNSUCCESS_SME:
                items, i = self._unsuccess(buf, i)
                values.append(items)
            else:
                values.append(decode_tlvs(buf, i, end))
                i = end
        if i != end:
            raise _BodyError(f"{end - i} octets after the last field", S.ESME_RINVCMDLEN)
        return layout.make(*values)

    def _cstr(self, buf: bytes, i: int, name: str, marker: F.COctet) -> tuple[str, int]:
        j = buf.find(0, i)
        if j < 0:
            raise _BodyError(f"{name}: no NUL terminator (truncated field)", marker.status)
        n = j - i
        if n >= marker.max_size:
            if n > self.max_c_octet_string:
                raise _BodyError(
                    f"{name}: {n} octets, more than {self.max_c_octet_string}", marker.status
                )
            self.overlong += 1
        return buf[i:j].decode("latin-1"), j + 1

    def _dests(self, buf: bytes, i: int) -> tuple[tuple[F.DestAddress, ...], int]:
        if i >= len(buf) or not 1 <= buf[i] <= 254:
            raise _BodyError("number_of_dests missing or not 1..254", S.ESME_RINVNUMDESTS)
        count = buf[i]
        i += 1
        dests: list[F.DestAddress] = []
        for _ in range(count):
            flag = buf[i] if i < len(buf) else None
            if flag == DestFlag.SME_ADDRESS:
                if i + 3 > len(buf):
                    raise _BodyError("dest_address: truncated", S.ESME_RINVDSTADR)
                addr, j = self._cstr(buf, i + 3, "destination_addr", F.DESTINATION_ADDR)
                dests.append(F.SmeAddress(
                    dest_addr_ton=buf[i + 1], dest_addr_npi=buf[i + 2], destination_addr=addr))  # fmt: skip
            elif flag == DestFlag.DISTRIBUTION_LIST:
                name, j = self._cstr(buf, i + 1, "dl_name", F.DL_NAME)
                dests.append(F.DistributionList(dl_name=name))
            else:
                raise _BodyError(f"dest_flag {flag!r} is neither 1 nor 2", S.ESME_RINVDESTFLAG)
            i = j
        return tuple(dests), i

    def _unsuccess(self, buf: bytes, i: int) -> tuple[tuple[F.UnsuccessSme, ...], int]:
        if i >= len(buf):
            raise _BodyError("no_unsuccess: truncated", S.ESME_RINVCMDLEN)
        count = buf[i]
        i += 1
        items = []
        for _ in range(count):
            if i + 2 > len(buf):
                raise _BodyError("unsuccess_sme: truncated", S.ESME_RINVCMDLEN)
            addr, j = self._cstr(buf, i + 2, "destination_addr", F.DESTINATION_ADDR)
            if j + 4 > len(buf):
                raise _BodyError("error_status_code: truncated", S.ESME_RINVCMDLEN)
            items.append(F.UnsuccessSme(
                dest_addr_ton=buf[i], dest_addr_npi=buf[i + 1], destination_addr=addr,
                error_status_code=_I4.unpack_from(buf, j)[0]))  # fmt: skip
            i = j + 4
        return tuple(items), i


_unpack_header = HEADER.unpack_from
_FAST_DECODERS: dict[int, Callable[[bytes, int, int], P.Pdu | None]] = {
    # plain int keys: the lookup key is a plain int from the header
    int(CommandId.DELIVER_SM): _fast.decode_sm,
    int(CommandId.SUBMIT_SM): _fast.decode_sm,
    int(CommandId.SUBMIT_SM_RESP): _fast.decode_resp,
    int(CommandId.DELIVER_SM_RESP): _fast.decode_resp,
    int(CommandId.DATA_SM_RESP): _fast.decode_resp,
}

DEFAULT_DECODER = Decoder()
#: decode(frame) -> Pdu with the default tolerance (overlong counted on DEFAULT_DECODER).
decode = DEFAULT_DECODER.decode
