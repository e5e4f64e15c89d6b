"""The frame limit: computed from SMPP 3.4's field maxima, and what happens above it."""

from __future__ import annotations

import struct

import pytest

from bridge.smpp import encode
from bridge.smpp import pdus as P
from bridge.smpp.constants import CommandStatus as S
from bridge.smpp.constants import Tag
from bridge.smpp.framing import DEFAULT_MAX_LENGTH, FrameReader, FrameTooLong, _largest_body
from config.schema import Carrier


def test_default_limit_is_the_largest_valid_pdu() -> None:
    assert DEFAULT_MAX_LENGTH == 73_151
    assert 16 + _largest_body(P.DeliverSm) == 66_575
    # a deliver_sm with a full message_payload and its mandatory fields (65,843
    # octets in the field) fits, with room to spare
    full = P.DeliverSm(source_addr="1" * 20, destination_addr="2" * 20,
                       tlvs=((Tag.MESSAGE_PAYLOAD, b"p" * 65_535),))
    assert 65_535 < len(encode(full)) <= DEFAULT_MAX_LENGTH


def test_the_carrier_default_is_the_same_figure() -> None:
    assert Carrier.__struct_defaults__ is not None  # msgspec keeps the defaults here
    cfg = Carrier(name="c", host="h", system_id="s")
    assert cfg.max_pdu_size == DEFAULT_MAX_LENGTH


def _header(length: int, command_id: int = 0x00000005, seq: int = 9) -> bytes:
    return struct.pack(">IIII", length, command_id, 0, seq)


@pytest.mark.parametrize("chunk", [1, 3, 16, 17, 100, 10_000])
def test_too_long_frame_is_skipped_as_it_arrives(chunk: int) -> None:
    reader = FrameReader(max_length=64)
    too_long = _header(1000) + b"x" * 984
    after = _header(20, 0x80000005, 10) + b"\0\0\0\0"
    stream = too_long + after
    errors: list[FrameTooLong] = []
    frames: list[bytes] = []
    starts = []
    for i in range(0, len(stream), chunk):
        starts.append(reader.feed(stream[i : i + chunk]))
        while True:
            try:
                frame = reader.next_frame()
            except FrameTooLong as exc:
                errors.append(exc)
                continue
            if frame is None:
                break
            frames.append(frame)
        assert reader.buffered <= max(64, chunk)  # never buffered whole
    (error,) = errors
    assert (error.command_id, error.sequence_number, error.length) == (5, 9, 1000)
    assert error.status == S.ESME_RINVCMDLEN and not error.fatal
    assert frames == [after]
    assert not reader.mid_frame
    assert starts[0]


def test_mid_frame_while_skipping() -> None:
    reader = FrameReader(max_length=64)
    reader.feed(_header(100) + b"x" * 10)
    with pytest.raises(FrameTooLong):
        reader.next_frame()
    assert reader.mid_frame and reader.buffered == 0
    assert reader.feed(b"x" * 73) is False
    assert reader.mid_frame
    assert reader.feed(b"x" + _header(16, 0x15, 1)) is True  # the next frame starts here
    assert reader.next_frame() == _header(16, 0x15, 1)
