"""The connection on a hostile or half-dead link (docs/smpp-connection.md, "Liveness"):
requests numbered above 0x7FFFFFFF, PDUs trickled a byte at a time, PDUs over the
frame limit, undecodable responses and a window lost to response timeouts."""

from __future__ import annotations

import struct

import pytest

from bridge.smpp import events as ev
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId as C
from bridge.smpp.constants import CommandStatus as S
from bridge.smpp.constants import Tag
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.framing import DEFAULT_MAX_LENGTH
from bridge.smpp.pdus import (
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
)
from bridge.smpp.state import State
from tests.smpp.connection_helpers import drain, feed, frame, headers, wire
from tests.smpp.test_connection import esme_bound

BIG_SEQ = 0x9DA1B2C3  # above 0x7FFFFFFF: what one SMSC numbers its deliver_sm with

# --- sequence numbers above 0x7FFFFFFF (section 3.2) -----------------------------------


@pytest.mark.parametrize("seq", [0x80000000, BIG_SEQ, 0xFFFFFFFF])
def test_request_numbered_above_0x7fffffff_is_answered_with_its_number(seq: int) -> None:
    conn = esme_bound()
    dsm = DeliverSm(sequence_number=seq, source_addr="1", esm_class=4, short_message=b"id:1")
    assert feed(conn, wire(dsm)) == [ev.PduReceived(pdu=dsm)]
    assert conn.send(DeliverSmResp(sequence_number=seq), now=0.0) == seq
    assert headers(conn.data_to_send()) == [(17, C.DELIVER_SM_RESP, 0, seq)]
    data = DataSm(sequence_number=seq, tlvs=((Tag.MESSAGE_PAYLOAD, b"x"),))
    feed(conn, wire(data))
    conn.send(DataSmResp(sequence_number=seq, command_status=S.ESME_RX_T_APPN), now=0.0)
    assert headers(conn.data_to_send()) == [(17, C.DATA_SM_RESP, S.ESME_RX_T_APPN, seq)]
    # the connection's own answers too: enquire_link_resp, error answers
    feed(conn, frame(C.ENQUIRE_LINK, seq))
    assert headers(conn.data_to_send()) == [(16, C.ENQUIRE_LINK_RESP, 0, seq)]


def test_our_own_numbering_stays_below_0x80000000() -> None:
    conn = esme_bound(first_sequence_number=0x7FFFFFFE)  # the bind takes 0x7FFFFFFE
    assert conn.send(SubmitSm(), now=0.0) == 0x7FFFFFFF
    assert conn.send(SubmitSm(), now=0.0) == 1


def test_a_response_number_must_still_fit_32_bits() -> None:
    conn = esme_bound()
    with pytest.raises(LocalProtocolError):
        conn.send(DeliverSmResp(sequence_number=1 << 32), now=0.0)


# --- liveness counts whole PDUs -----------------------------------------------------------


def test_the_answer_to_our_enquire_link_is_silent_but_its_round_trip_is_kept() -> None:
    conn = esme_bound(enquire_link_interval=10.0, response_timeout=4.0)
    assert conn.enquire_link_rtt is None and conn.enquire_link_answered_at is None
    conn.tick(10.0)
    ((_, cid, _, seq),) = headers(conn.data_to_send())
    assert cid == C.ENQUIRE_LINK
    assert feed(conn, wire(EnquireLinkResp(sequence_number=seq)), now=10.25) == []
    assert conn.enquire_link_rtt == 0.25 and conn.enquire_link_answered_at == 10.25


def test_bytes_of_an_unfinished_pdu_do_not_count_as_life() -> None:
    conn = esme_bound(enquire_link_interval=10.0, response_timeout=4.0, frame_timeout=None)
    assert conn.last_rx == 0.0  # the bind_resp
    partial = wire(DeliverSm(sequence_number=5, short_message=b"x" * 100))[:30]
    for t in range(1, 10):
        feed(conn, partial[t : t + 1], now=float(t))
    assert conn.last_rx == 0.0
    conn.tick(10.0)  # idle 10 s for whole PDUs: the enquire_link goes out
    assert headers(conn.data_to_send())[-1][1] == C.ENQUIRE_LINK
    feed(conn, partial[10:11], now=12.0)
    conn.tick(14.0)
    assert drain(conn) == [ev.ConnectionClosed(reason=ev.CloseReason.LINK_LOST)]


def test_a_trickled_pdu_closes_the_bind_at_the_frame_timeout() -> None:
    """A peer announces a 60,000-octet PDU, then sends one octet every 4 s."""
    conn = esme_bound(frame_timeout=15.0, enquire_link_interval=None)
    sub = conn.send(SubmitSm(), now=0.0)
    conn.data_to_send()
    head = struct.pack(">IIII", 60_000, C.DELIVER_SM, 0, 9)
    assert feed(conn, head, now=1.0) == []
    assert conn.next_deadline() == 30.0  # only the submit's response timer so far
    t = 1.0
    while conn.state is not State.CLOSED:
        t += 4.0
        assert feed(conn, b"\0", now=t) == []
        assert conn.next_deadline() == 16.0  # 15 s after the frame began
        conn.tick(min(t + 4.0, conn.next_deadline() or t + 4.0))
        events = drain(conn)
        if events:
            assert events == [ev.ConnectionClosed(reason=ev.CloseReason.FRAME_TIMEOUT,
                                                  unanswered=(sub,))]  # fmt: skip
    assert t < 16.0


def test_the_frame_timeout_waits_for_a_second_chunk() -> None:
    """Octets of one chunk only: the wait may be ours (the reader was busy), so the
    frame timer starts counting once more of the frame came after it."""
    conn = esme_bound(frame_timeout=5.0, enquire_link_interval=None)
    pdu = wire(DeliverSm(sequence_number=9, short_message=b"abc"))
    feed(conn, wire(DeliverSm(sequence_number=8)) + pdu[:10], now=1.0)
    assert conn.next_deadline() is None
    conn.tick(100.0)
    assert conn.state is State.BOUND_TRX
    # more of it, 100 s after it began, and still not whole: the peer is too slow
    assert feed(conn, pdu[10:20], now=101.0) == [
        ev.ConnectionClosed(reason=ev.CloseReason.FRAME_TIMEOUT)]


def test_a_slow_but_timely_pdu_is_fine() -> None:
    conn = esme_bound(frame_timeout=15.0)
    data = wire(DeliverSm(sequence_number=9, short_message=b"y" * 50))
    events: list[ev.Event] = []
    for i, t in enumerate(range(1, len(data) + 1)):
        events += feed(conn, data[i : i + 1], now=1.0 + t * 0.1)
        conn.tick(1.0 + t * 0.1)
        events += drain(conn)
    assert [type(e) for e in events] == [ev.PduReceived]
    assert conn.last_rx == pytest.approx(1.0 + len(data) * 0.1)
    assert conn.next_deadline() == pytest.approx(conn.last_rx + 30.0)  # enquire_link


# --- the frame limit ------------------------------------------------------------------------


def _largest_deliver_sm(seq: int = 7) -> tuple[DeliverSm, bytes]:
    pdu = DeliverSm(
        sequence_number=seq, service_type="CMT", source_addr="4" * 20, destination_addr="5" * 20,
        esm_class=0, data_coding=8,
        tlvs=((Tag.MESSAGE_PAYLOAD, bytes(range(256)) * 255 + b"z" * 255),  # 65,535 octets
              (Tag.RECEIPTED_MESSAGE_ID, b"m" * 64 + b"\0"),
              (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x00")),
    )
    return pdu, wire(pdu)


def test_the_largest_valid_deliver_sm_is_accepted_whole_and_byte_at_a_time() -> None:
    pdu, data = _largest_deliver_sm()
    assert len(data) > 65_600
    assert len(data) <= DEFAULT_MAX_LENGTH
    conn = esme_bound()
    assert feed(conn, data) == [ev.PduReceived(pdu=pdu)]
    conn = esme_bound()
    events: list[ev.Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1], now=1.0)
        events += drain(conn)
    assert events == [ev.PduReceived(pdu=pdu)]
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_an_oversized_request_is_nacked_skipped_and_the_bind_goes_on(chunk: int) -> None:
    _, data = _largest_deliver_sm(seq=BIG_SEQ)
    conn = esme_bound(max_frame_length=10_000)
    after = wire(DeliverSm(sequence_number=12, short_message=b"next"))
    stream = data + after
    events: list[ev.Event] = []
    for i in range(0, len(stream), chunk):
        events += feed(conn, stream[i : i + chunk], now=1.0)
    assert len(events) == 2
    nack, received = events
    assert isinstance(nack, ev.ProtocolErrorAnswered)
    assert nack.answered_with == C.GENERIC_NACK and not nack.error.fatal
    assert isinstance(received, ev.PduReceived) and received.pdu.sequence_number == 12
    # section 4.3: generic_nack ESME_RINVCMDLEN, with the PDU's sequence_number
    assert headers(conn.data_to_send()) == [(16, C.GENERIC_NACK, S.ESME_RINVCMDLEN, BIG_SEQ)]
    assert conn.state is State.BOUND_TRX
    conn.send(DeliverSmResp(sequence_number=12), now=1.0)
    assert headers(conn.data_to_send()) == [(17, C.DELIVER_SM_RESP, 0, 12)]


def test_an_oversized_response_resolves_its_request() -> None:
    conn = esme_bound(max_frame_length=1000)
    seq = conn.send(SubmitSm(), now=0.0)
    conn.data_to_send()
    resp = frame(C.SUBMIT_SM_RESP, seq, body=b"x" * 2000 + b"\0")
    events = feed(conn, resp, now=0.5)
    assert [type(e) for e in events] == [ev.MalformedResponse]
    assert conn.outstanding == () and conn.data_to_send() == b""
    assert conn.state is State.BOUND_TRX


def test_a_length_below_the_header_still_closes() -> None:
    conn = esme_bound()
    events = feed(conn, struct.pack(">IIII", 12, C.DELIVER_SM, 0, 5))
    assert [type(e) for e in events] == [ev.ConnectionClosed]
    assert events[0].reason is ev.CloseReason.PROTOCOL_ERROR  # type: ignore[attr-defined]


def test_an_oversized_frame_of_unknown_command_is_garbage() -> None:
    conn = esme_bound(max_frame_length=1000)
    events = feed(conn, struct.pack(">IIII", 5000, 0x12345678, 0, 5))
    assert [type(e) for e in events] == [ev.ConnectionClosed]


# --- undecodable responses -----------------------------------------------------------------


def test_generic_nack_with_a_body_resolves_too() -> None:
    conn = esme_bound()
    seq = conn.send(SubmitSm(), now=0.0)
    events = feed(conn, frame(C.GENERIC_NACK, seq, 3, b"junk"))
    assert [type(e) for e in events] == [ev.MalformedResponse]


def test_a_broken_response_to_nothing_pending_is_only_reported() -> None:
    conn = esme_bound()
    events = feed(conn, frame(C.SUBMIT_SM_RESP, 99, body=b"no-nul"))
    assert [type(e) for e in events] == [ev.ProtocolErrorAnswered]


# --- consecutive response timeouts ------------------------------------------------------------


def _timeouts(conn: Connection, n: int, now: float = 0.0) -> list[int]:
    seqs = [conn.send(SubmitSm(), now=now) for _ in range(n)]
    conn.data_to_send()
    return seqs


def test_a_lost_window_suspends_probes_and_closes() -> None:
    conn = esme_bound(window=4, response_timeout=5.0, enquire_link_interval=None,
                      max_consecutive_timeouts=4)
    seqs = _timeouts(conn, 4)
    conn.tick(5.0)
    events = drain(conn)
    assert [type(e) for e in events] == [ev.ResponseTimeout] * 3 + [
        ev.WindowSuspended, ev.ResponseTimeout]
    assert events[3] == ev.WindowSuspended(timeouts=4)
    assert conn.window_suspended and conn.window_free == 0
    with pytest.raises(LocalProtocolError) as info:
        conn.send(SubmitSm(), now=5.0)
    assert info.value.status == S.ESME_RMSGQFUL
    ((_, cid, _, probe),) = headers(conn.data_to_send())  # exactly one enquire_link
    assert cid == C.ENQUIRE_LINK and probe not in seqs
    # other traffic does not save it: only the probe's answer does
    feed(conn, wire(DeliverSm(sequence_number=3)), now=6.0)
    conn.tick(10.0)
    assert drain(conn) == [ev.ConnectionClosed(reason=ev.CloseReason.LINK_LOST)]
    assert conn.data_to_send() == b""  # no enquire_link on a link declared lost


def test_an_answered_probe_resumes_the_window() -> None:
    conn = esme_bound(window=2, response_timeout=5.0, enquire_link_interval=None,
                      max_consecutive_timeouts=2)
    _timeouts(conn, 2)
    conn.tick(5.0)
    drain(conn)
    ((_, _, _, probe),) = headers(conn.data_to_send())
    assert feed(conn, wire(EnquireLinkResp(sequence_number=probe)), now=6.0) == [
        ev.WindowResumed()]
    assert not conn.window_suspended and conn.window_free == 2
    seq = conn.send(SubmitSm(), now=6.0)
    assert seq in conn.outstanding


def test_a_caller_enquire_link_outstanding_is_the_probe() -> None:
    conn = esme_bound(window=2, response_timeout=5.0, enquire_link_interval=None,
                      max_consecutive_timeouts=2)
    _timeouts(conn, 2)
    link = conn.send(EnquireLink(), now=3.0)
    conn.data_to_send()
    conn.tick(5.0)
    drain(conn)
    assert conn.data_to_send() == b""  # no second enquire_link
    events = feed(conn, wire(EnquireLinkResp(sequence_number=link)), now=6.0)
    assert [type(e) for e in events] == [ev.ResponseReceived, ev.WindowResumed]


def test_any_answer_resets_the_count() -> None:
    conn = esme_bound(window=3, response_timeout=5.0, enquire_link_interval=None,
                      max_consecutive_timeouts=3)
    a, b = _timeouts(conn, 2)
    conn.tick(5.0)
    drain(conn)
    (c,) = _timeouts(conn, 1, now=5.0)
    feed(conn, wire(SubmitSmResp(sequence_number=c, message_id="ok")), now=6.0)
    _timeouts(conn, 2, now=6.0)
    conn.tick(11.0)
    assert [type(e) for e in drain(conn)] == [ev.ResponseTimeout] * 2
    assert not conn.window_suspended
    assert a != b


def test_without_a_limit_nothing_is_suspended() -> None:
    conn = esme_bound(window=2, response_timeout=5.0, enquire_link_interval=None)
    _timeouts(conn, 2)
    conn.tick(5.0)
    assert [type(e) for e in drain(conn)] == [ev.ResponseTimeout] * 2
    assert not conn.window_suspended and conn.data_to_send() == b""
