"""Invalid input from the peer: every case is answered (or closes) and becomes an
event; none raises (generic_nack only for an unknown command_id or a bad
command_length, the request's own ``*_resp`` for a bad body, close when the stream
cannot be delimited)."""

from __future__ import annotations

import struct

import pytest

from bridge.smpp import events as ev
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId, CommandStatus
from bridge.smpp.pdus import (
    AlertNotification,
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    Outbind,
    SubmitSm,
    SubmitSmResp,
)
from bridge.smpp.sequence import MAX_SEQUENCE
from bridge.smpp.state import Role, State
from tests.smpp.connection_helpers import Pair, drain, feed, frame, headers, wire
from tests.smpp.test_connection import esme_bound

C = CommandId
S = CommandStatus


def smsc_bound() -> Connection:
    pair = Pair()
    pair.bind()
    pair.smsc.data_to_send()
    return pair.smsc


def with_extra(pdu_bytes: bytes, extra: bytes) -> bytes:
    """Append ``extra`` to a frame's body and fix command_length."""
    data = pdu_bytes + extra
    return struct.pack(">I", len(data)) + data[4:]


def feed_bytewise(conn: Connection, data: bytes) -> list[ev.Event]:
    out: list[ev.Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1], now=0.0)
        out += drain(conn)
    return out


@pytest.mark.parametrize("bytewise", [False, True])
def test_unknown_command_id_gets_generic_nack(bytewise: bool) -> None:
    conn = smsc_bound()
    data = frame(0x00000099, 5, body=b"xyz") + frame(C.ENQUIRE_LINK, 6)
    events = feed_bytewise(conn, data) if bytewise else feed(conn, data)
    assert len(events) == 1 and isinstance(events[0], ev.ProtocolErrorAnswered)
    assert events[0].answered_with == C.GENERIC_NACK
    assert events[0].error.status == S.ESME_RINVCMDID
    assert headers(conn.data_to_send()) == [
        (16, C.GENERIC_NACK, S.ESME_RINVCMDID, 5),
        (16, C.ENQUIRE_LINK_RESP, 0, 6),  # and the session goes on
    ]
    assert conn.state is State.BOUND_TRX


def test_unknown_response_command_id_gets_generic_nack_too() -> None:
    conn = esme_bound()
    events = feed(conn, frame(0x80000099, 3))
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    assert headers(conn.data_to_send()) == [(16, C.GENERIC_NACK, S.ESME_RINVCMDID, 3)]


def test_bad_field_of_a_known_request_gets_its_own_resp() -> None:
    conn = smsc_bound()
    # service_type "", ton, npi, then source_addr without its NUL
    events = feed(conn, frame(C.SUBMIT_SM, 8, body=b"\x00\x01\x01abc"))
    assert len(events) == 1 and isinstance(events[0], ev.ProtocolErrorAnswered)
    assert events[0].answered_with == C.SUBMIT_SM_RESP
    assert events[0].error.status == S.ESME_RINVSRCADR
    assert headers(conn.data_to_send()) == [(16, C.SUBMIT_SM_RESP, S.ESME_RINVSRCADR, 8)]


def test_broken_tlv_stream_gets_rinvoptparstream_in_the_resp() -> None:
    conn = smsc_bound()
    events = feed(conn, with_extra(wire(SubmitSm(short_message=b"x"), 4), b"\x02"))
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    assert headers(conn.data_to_send()) == [
        (16, C.SUBMIT_SM_RESP, S.ESME_RINVOPTPARSTREAM, 4)
    ]


def test_bad_deliver_sm_on_the_esme_gets_deliver_sm_resp() -> None:
    conn = esme_bound()
    events = feed(conn, with_extra(wire(DeliverSm(), 11), b"\x00\x01\x00"))
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    ((length, cid, status, seq),) = headers(conn.data_to_send())
    assert (cid, seq) == (C.DELIVER_SM_RESP, 11) and status != 0
    assert length == 17  # with its NULL message_id, error or not (section 4.6.2)


@pytest.mark.parametrize("length", [0, 4, 15])
def test_undelimitable_frame_nacks_and_closes(length: int) -> None:
    conn = esme_bound(max_frame_length=65536)
    sub = conn.send(SubmitSm(), now=0.0)
    conn.data_to_send()
    data = struct.pack(">IIII", length, C.SUBMIT_SM_RESP, 0, 77) + b"\0" * 20
    events = feed(conn, data)
    assert len(events) == 1 and isinstance(events[0], ev.ConnectionClosed)
    closed = events[0]
    assert closed.reason is ev.CloseReason.PROTOCOL_ERROR and closed.unanswered == (sub,)
    assert closed.error is not None and closed.error.fatal
    assert headers(conn.data_to_send()) == [(16, C.GENERIC_NACK, S.ESME_RINVCMDLEN, 77)]
    assert conn.state is State.CLOSED
    assert feed(conn, frame(C.ENQUIRE_LINK, 1)) == []  # ignored from now on
    assert conn.data_to_send() == b""


def test_broken_response_is_not_answered_and_resolves_its_request_at_once() -> None:
    conn = esme_bound(response_timeout=5.0, enquire_link_interval=None)
    seq = conn.send(SubmitSm(), now=0.0)
    conn.data_to_send()
    events = feed(conn, frame(C.SUBMIT_SM_RESP, seq, body=b"no-nul"), now=1.0)
    assert len(events) == 1 and isinstance(events[0], ev.MalformedResponse)
    assert (events[0].sequence_number, events[0].request_command_id) == (seq, C.SUBMIT_SM)
    assert events[0].sent_at == 0.0 and events[0].error.status == S.ESME_RINVMSGID
    assert conn.data_to_send() == b""  # a response is never answered
    assert conn.outstanding == () and conn.window_used == 0
    conn.tick(5.0)
    assert drain(conn) == []  # no ResponseTimeout: it was resolved already


@pytest.mark.parametrize("pdu", [Outbind(), AlertNotification()])
def test_broken_pdus_without_a_response_are_not_answered(pdu: Outbind | AlertNotification) -> None:
    conn = Connection(Role.ESME) if isinstance(pdu, Outbind) else esme_bound()
    data = wire(pdu, 3)
    events = feed(conn, data[:-1].replace(data[:4], struct.pack(">I", len(data) - 1), 1))
    assert len(events) == 1 and isinstance(events[0], ev.ProtocolErrorAnswered)
    assert events[0].answered_with is None and conn.data_to_send() == b""


def test_request_not_allowed_without_a_response_pdu_is_reported() -> None:
    conn = esme_bound()
    events = feed(conn, wire(Outbind(), 3))  # outbind is OPEN only
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    assert events[0].answered_with is None and conn.data_to_send() == b""


def test_refused_requests_on_the_esme() -> None:
    conn = esme_bound()
    events = feed(conn, wire(SubmitSm(), 3))  # submit_sm is ESME -> SMSC only
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    assert headers(conn.data_to_send()) == [(16, C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 3)]


def test_sequence_numbers_wrap_and_skip_outstanding() -> None:
    conn = Connection(Role.ESME, first_sequence_number=MAX_SEQUENCE - 1)
    bind = conn.send(BindTransceiver(), now=0.0)
    assert bind == MAX_SEQUENCE - 1
    feed(conn, wire(BindTransceiverResp(sequence_number=bind)))
    assert conn.send(SubmitSm(), now=0.0) == MAX_SEQUENCE
    assert conn.send(SubmitSm(), now=0.0) == 1
    seqs = [h[3] for h in headers(conn.data_to_send())]
    assert seqs == [MAX_SEQUENCE - 1, MAX_SEQUENCE, 1]
    feed(conn, wire(SubmitSmResp(sequence_number=1, message_id="a")))
    assert conn.outstanding == (MAX_SEQUENCE,)


def test_outstanding_number_is_skipped_after_a_wrap() -> None:
    conn = esme_bound(window=3)
    assert conn.outstanding == ()
    held = conn.send(SubmitSm(), now=0.0)  # 2, stays outstanding
    conn._sequence = type(conn._sequence)(held)  # force the allocator back onto it
    assert conn.send(SubmitSm(), now=0.0) == held + 1
    assert conn.outstanding == (held, held + 1)


def test_window_counts_only_message_operations() -> None:
    conn = esme_bound(window=1)
    conn.send(SubmitSm(), now=0.0)
    assert conn.window_used == 1
    # answers to the SMSC's deliver_sm and our enquire_link do not count
    feed(conn, wire(DeliverSm(), 9))
    conn.send(DeliverSmResp(sequence_number=9), now=0.0)
    conn.send(EnquireLink(), now=0.0)
    assert conn.window_used == 1 and len(conn.outstanding) == 2
