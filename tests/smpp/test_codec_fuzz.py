"""Fuzzing the framing and the decoder: garbage and mutated valid frames.

Whatever arrives, FrameReader and decode raise nothing but the two protocol
error types (ProtocolError subclasses); a stream-level error is fatal and sticks.
A frame that does decode and re-encodes must round-trip again (no state where
the codec accepts something it then mangles).
"""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from bridge.smpp import (
    Decoder,
    FrameReader,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    encode,
)
from bridge.smpp import codec as C
from bridge.smpp import codec_fast as F
from bridge.smpp import pdus as P
from bridge.smpp.framing import FrameTooLong
from tests.smpp.codec_strategies import any_pdu, pdus_of
from tests.smpp.codec_vectors import VECTORS

valid_frames = st.one_of(st.sampled_from([v.wire for v in VECTORS]), any_pdu.map(encode))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(valid_frames))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "length", "truncate"]))
        at = draw(st.integers(0, max(len(wire) - 1, 0)))
        if action == "flip" and wire:
            wire[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and wire:
            wire[at] = draw(st.sampled_from([0, 1, 0xFF, 0x7F, 0x20]))
        elif action == "insert":
            wire[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and wire:
            del wire[at : at + draw(st.integers(1, 4))]
        elif action == "length":
            # Either a random command_length or one that agrees with the mutated size.
            length = draw(st.one_of(st.integers(0, 0xFFFFFFFF), st.just(len(wire))))
            wire[0:4] = length.to_bytes(4, "big")
        elif action == "truncate":
            del wire[at:]
    if draw(st.booleans()) and len(wire) >= 4:
        wire[0:4] = len(wire).to_bytes(4, "big")  # delimitable: reach the body decoders
    return bytes(wire)


def _check_decoded(decoder: Decoder, frame: bytes) -> None:
    try:
        pdu = decoder.decode(frame)
    except RemoteProtocolError as exc:
        assert isinstance(exc.status, int) and 0 <= int(exc.status) <= 0xFFFFFFFF
        if not exc.fatal:  # the header was read, so the answer can name the PDU
            assert exc.command_id is not None and exc.sequence_number is not None
        return
    assert isinstance(pdu, P.Pdu)
    try:
        again = encode(pdu)
    except LocalProtocolError:
        return  # tolerated on input (e.g. an overlong field) but never sent by us
    if type(pdu) in C.ALWAYS_BODY and pdu.message_id is None:  # type: ignore[attr-defined]
        # A bodiless deliver_sm_resp / data_sm_resp is read, but written with its
        # NULL message_id (SMPP 3.4 sections 4.6.2, 4.7.2).
        assert again[16:17] == b"\0"
        pdu = msgspec.structs.replace(pdu, message_id="")
    assert decoder.decode(again) == pdu


def _pump(data: bytes, chunk: int, max_length: int) -> None:
    reader = FrameReader(max_length=max_length)
    decoder = Decoder()
    fatal: RemoteProtocolError | None = None
    for i in range(0, len(data), chunk):
        try:
            reader.feed(data[i : i + chunk])
        except LocalProtocolError:
            assert reader.buffered >= max_length
            return
        while True:
            try:
                frame = reader.next_frame()
            except FrameTooLong:
                continue  # skipped as it arrives, the stream goes on
            except RemoteProtocolError as exc:
                assert exc.fatal
                fatal = exc
                break
            if frame is None:
                break
            assert 16 <= len(frame) <= max_length
            _check_decoded(decoder, frame)
        if fatal is not None:
            break
    if fatal is not None:
        try:
            reader.next_frame()
        except RemoteProtocolError as again:
            assert again is fatal
        else:
            raise AssertionError("a lost stream must stay lost")


@given(data=st.binary(max_size=600), chunk=st.integers(1, 64), max_length=st.integers(16, 2048))
def test_garbage_stream(data: bytes, chunk: int, max_length: int) -> None:
    _pump(data, chunk, max_length)


@given(
    frames=st.lists(st.one_of(mutated(), valid_frames), min_size=1, max_size=5),
    chunk=st.integers(1, 400),
)
def test_mutated_frames_in_a_stream(frames: list[bytes], chunk: int) -> None:
    _pump(b"".join(frames), chunk, 65536)


@given(frame=mutated())
def test_mutated_frame_decoded_directly(frame: bytes) -> None:
    try:
        _check_decoded(Decoder(), frame)
    except ProtocolError as exc:  # pragma: no cover - _check_decoded catches these
        raise AssertionError(f"escaped: {exc!r}") from exc


@given(body=st.binary(max_size=300), command_id=st.sampled_from(sorted(P.PDU_TYPES)),
       status=st.integers(0, 0xFFFFFFFF))
def test_random_body_for_every_command_id(body: bytes, command_id: int, status: int) -> None:
    frame = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big")
    _check_decoded(Decoder(), frame + status.to_bytes(4, "big") + b"\x00\x00\x00\x07" + body)


@given(frame=st.one_of(mutated(), valid_frames))
def test_fast_paths_agree_with_the_generic_path(frame: bytes) -> None:
    """Whatever a fast path accepts, the table-driven path decodes identically."""
    if len(frame) < 16 or int.from_bytes(frame[:4], "big") != len(frame):
        return
    command_id = int.from_bytes(frame[4:8], "big")
    status = int.from_bytes(frame[8:12], "big")
    seq = int.from_bytes(frame[12:16], "big")
    if command_id in (0x00000004, 0x00000005):
        fast = F.decode_sm(frame, seq, status)
    elif command_id in (0x80000004, 0x80000005, 0x80000103):
        fast = F.decode_resp(frame, seq, status)
    else:
        return
    if fast is None:
        return
    generic = Decoder()
    assert generic._decode_body(frame, C._LAYOUTS[command_id], seq, status) == fast
    assert generic.overlong == 0  # the fast paths only take what is within the spec


@given(pdu=st.one_of(pdus_of(P.SubmitSm), pdus_of(P.DeliverSm)))
def test_fast_encode_agrees_with_the_generic_path(pdu: P.Pdu) -> None:
    fast = C._FAST_ENCODERS[type(pdu)](pdu, pdu.sequence_number)
    assert fast is not None
    assert fast[16:] == C._encode_body(pdu, C._LAYOUTS[pdu.command_id])


@given(pdu=st.one_of(pdus_of(P.SubmitSmResp), pdus_of(P.DeliverSmResp)))
def test_fast_response_encode_agrees_with_the_generic_path(pdu: P.Pdu) -> None:
    """Whatever the response fast path writes, the generic path writes too (it takes no TLVs)."""
    fast = C._FAST_ENCODERS[type(pdu)](pdu, pdu.sequence_number)
    if fast is None:
        assert pdu.tlvs  # type: ignore[attr-defined]
        return
    assert fast == C.HEADER.pack(len(fast), pdu.command_id, pdu.command_status, pdu.sequence_number) + fast[16:]
    assert fast[16:] == C._encode_body(pdu, C._LAYOUTS[pdu.command_id])
