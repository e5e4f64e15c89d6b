"""The connection state machine through its public API: binds, message exchange,
window, timers, unbind, EOF and the SMSC mirror."""

from __future__ import annotations

import pytest

from bridge.smpp import events as ev
from bridge.smpp.connection import Connection
from bridge.smpp.constants import CommandId, CommandStatus
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from bridge.smpp.state import BindMode, Role, State
from tests.smpp.connection_helpers import Pair, drain, feed, frame, headers, wire

C = CommandId
S = CommandStatus


def esme_bound(**kwargs: object) -> Connection:
    conn = Connection(Role.ESME, **kwargs)  # type: ignore[arg-type]
    seq = conn.send(BindTransceiver(system_id="a", password="b"), now=0.0)
    conn.data_to_send()
    events = feed(conn, wire(BindTransceiverResp(sequence_number=seq, system_id="smsc")))
    assert events == [ev.Bound(mode=BindMode.TRANSCEIVER, system_id="smsc")]
    return conn


# --- binding ---------------------------------------------------------------------------


def test_esme_bind_ok() -> None:
    conn = Connection(Role.ESME)
    assert conn.state is State.OPEN and conn.mode is None
    seq = conn.send(BindTransmitter(system_id="id", password="pw"), now=1.0)
    assert seq == 1
    assert conn.state is State.BINDING and conn.mode is None
    assert headers(conn.data_to_send())[0][1:] == (C.BIND_TRANSMITTER, 0, 1)
    assert conn.data_to_send() == b""
    events = feed(conn, wire(BindTransmitterResp(sequence_number=1, system_id="S")), now=1.5)
    assert events == [ev.Bound(mode=BindMode.TRANSMITTER, system_id="S")]
    assert conn.state is State.BOUND_TX and conn.mode is BindMode.TRANSMITTER


def test_esme_bind_failed_returns_to_open_and_may_retry() -> None:
    conn = Connection(Role.ESME)
    seq = conn.send(BindTransceiver(system_id="id", password="bad"), now=0.0)
    resp = BindTransceiverResp(sequence_number=seq, command_status=S.ESME_RINVPASWD)
    events = feed(conn, wire(resp))
    assert events == [ev.BindFailed(mode=BindMode.TRANSCEIVER, status=S.ESME_RINVPASWD, pdu=resp)]
    assert conn.state is State.OPEN and conn.mode is None
    assert conn.send(BindTransceiver(system_id="id", password="ok"), now=1.0) == seq + 1


def test_bind_answered_with_generic_nack_is_a_bind_failure() -> None:
    conn = Connection(Role.ESME)
    seq = conn.send(BindReceiver(), now=0.0)
    events = feed(conn, frame(C.GENERIC_NACK, seq, S.ESME_RINVCMDID))
    assert len(events) == 1 and isinstance(events[0], ev.BindFailed)
    assert events[0].status == S.ESME_RINVCMDID and conn.state is State.OPEN


def test_bind_timeout_closes() -> None:
    conn = Connection(Role.ESME, response_timeout=5.0)
    seq = conn.send(BindTransceiver(), now=10.0)
    assert conn.next_deadline() == 15.0
    conn.tick(14.9)
    assert drain(conn) == []
    conn.tick(15.0)
    assert drain(conn) == [
        ev.ConnectionClosed(reason=ev.CloseReason.RESPONSE_TIMEOUT, unanswered=(seq,))
    ]
    assert conn.state is State.CLOSED and conn.next_deadline() is None


def test_esme_may_not_submit_before_bound() -> None:
    conn = Connection(Role.ESME)
    with pytest.raises(LocalProtocolError) as info:
        conn.send(SubmitSm(), now=0.0)
    assert info.value.status == S.ESME_RINVBNDSTS
    assert conn.data_to_send() == b""


# --- messages --------------------------------------------------------------------------


def test_submit_and_response_with_rtt() -> None:
    conn = esme_bound()
    seq = conn.send(SubmitSm(source_addr="A", destination_addr="B", short_message=b"hi"), now=2.0)
    assert seq == 2 and conn.window_used == 1 and conn.window_free == 9
    data = conn.data_to_send()
    assert headers(data)[0][1:] == (C.SUBMIT_SM, 0, 2)
    resp = SubmitSmResp(sequence_number=seq, message_id="m1")
    events = feed(conn, wire(resp), now=2.25)
    assert events == [
        ev.ResponseReceived(pdu=resp, request_command_id=C.SUBMIT_SM, sent_at=2.0, rtt=0.25)
    ]
    assert conn.window_used == 0


def test_sent_sequence_number_ignores_the_pdus_own() -> None:
    conn = esme_bound()
    assert conn.send(SubmitSm(sequence_number=77), now=0.0) == 2


def test_window_full_raises_and_changes_nothing() -> None:
    conn = esme_bound(window=3)
    for _ in range(3):
        conn.send(SubmitSm(), now=0.0)
    before = conn.data_to_send()
    assert len(headers(before)) == 3
    with pytest.raises(LocalProtocolError) as info:
        conn.send(QuerySm(message_id="x"), now=0.0)
    assert info.value.status == S.ESME_RMSGQFUL
    assert conn.data_to_send() == b"" and conn.window_used == 3
    # enquire_link and unbind are never blocked by the window
    conn.send(EnquireLink(), now=0.0)
    conn.send(Unbind(), now=0.0)
    assert [h[1] for h in headers(conn.data_to_send())] == [C.ENQUIRE_LINK, C.UNBIND]


def test_coalesced_data_to_send() -> None:
    conn = esme_bound(window=50)
    for _ in range(50):
        conn.send(SubmitSm(short_message=b"x"), now=0.0)
    data = conn.data_to_send()
    assert [h[3] for h in headers(data)] == list(range(2, 52))
    assert conn.data_to_send() == b""


def test_deliver_sm_received_and_answered_by_the_application() -> None:
    conn = esme_bound()
    dsm = DeliverSm(sequence_number=9, source_addr="1", short_message=b"id:1 stat:DELIVRD")
    assert feed(conn, wire(dsm)) == [ev.PduReceived(pdu=dsm)]
    assert conn.send(DeliverSmResp(sequence_number=9), now=0.0) == 9
    assert headers(conn.data_to_send()) == [(17, C.DELIVER_SM_RESP, 0, 9)]  # section 4.6.2


def test_response_timeout_frees_the_window_and_late_response_is_unexpected() -> None:
    conn = esme_bound(window=1, response_timeout=3.0, enquire_link_interval=None)
    seq = conn.send(SubmitSm(), now=1.0)
    assert conn.next_deadline() == 4.0
    conn.tick(4.0)
    assert drain(conn) == [ev.ResponseTimeout(sequence_number=seq, command_id=C.SUBMIT_SM,
                                              sent_at=1.0)]  # fmt: skip
    assert conn.window_used == 0 and conn.state is State.BOUND_TRX
    late = SubmitSmResp(sequence_number=seq, message_id="m")
    assert feed(conn, wire(late)) == [
        ev.UnexpectedResponse(pdu=late, reason=ev.UnexpectedReason.LATE)
    ]


def test_unsolicited_duplicate_and_mismatched_responses_are_events() -> None:
    conn = esme_bound()
    seq = conn.send(SubmitSm(), now=0.0)
    bad = DeliverSmResp(sequence_number=seq)
    good = SubmitSmResp(sequence_number=seq, message_id="1")
    stray = SubmitSmResp(sequence_number=999, message_id="2")
    events = feed(conn, wire(bad) + wire(good) + wire(good) + wire(stray))
    assert [type(e) for e in events] == [
        ev.UnexpectedResponse, ev.ResponseReceived, ev.UnexpectedResponse, ev.UnexpectedResponse
    ]  # fmt: skip
    assert [getattr(e, "reason", None) for e in events] == [
        ev.UnexpectedReason.MISMATCHED, None, ev.UnexpectedReason.UNSOLICITED,
        ev.UnexpectedReason.UNSOLICITED,
    ]  # fmt: skip


# --- enquire_link ----------------------------------------------------------------------


def test_inbound_enquire_link_is_answered_silently() -> None:
    conn = esme_bound()
    assert feed(conn, frame(C.ENQUIRE_LINK, 42)) == []
    assert headers(conn.data_to_send()) == [(16, C.ENQUIRE_LINK_RESP, 0, 42)]


def test_enquire_link_timer_and_its_response_is_silent() -> None:
    conn = Connection(Role.ESME, enquire_link_interval=10.0, response_timeout=4.0)
    seq = conn.send(BindTransceiver(), now=0.0)
    conn.data_to_send()
    feed(conn, wire(BindTransceiverResp(sequence_number=seq)), now=1.0)
    assert conn.next_deadline() == 11.0
    conn.tick(10.0)
    assert conn.data_to_send() == b""
    conn.tick(11.0)
    ((_, cid, _, eseq),) = headers(conn.data_to_send())
    assert cid == C.ENQUIRE_LINK
    assert conn.next_deadline() == 15.0
    assert feed(conn, wire(EnquireLinkResp(sequence_number=eseq)), now=12.0) == []
    assert conn.next_deadline() == 22.0
    assert drain(conn) == [] and conn.state is State.BOUND_TRX


def test_unanswered_enquire_link_with_silence_is_link_lost() -> None:
    conn = esme_bound(enquire_link_interval=10.0, response_timeout=4.0)
    sub = conn.send(SubmitSm(), now=0.0)
    conn.tick(10.0)
    assert headers(conn.data_to_send())[-1][1] == C.ENQUIRE_LINK
    conn.tick(13.9)
    assert drain(conn) == [
        ev.ResponseTimeout(sequence_number=sub, command_id=C.SUBMIT_SM, sent_at=0.0)
    ]
    conn.tick(14.0)
    assert drain(conn) == [ev.ConnectionClosed(reason=ev.CloseReason.LINK_LOST)]
    assert conn.state is State.CLOSED


def test_unanswered_enquire_link_with_other_traffic_is_not_link_lost() -> None:
    conn = esme_bound(enquire_link_interval=10.0, response_timeout=4.0)
    conn.tick(10.0)
    conn.data_to_send()
    feed(conn, wire(DeliverSm(sequence_number=5)), now=11.0)
    conn.tick(14.0)
    assert drain(conn) == [] and conn.state is State.BOUND_TRX
    assert conn.next_deadline() == 21.0


def test_caller_enquire_link_reports_its_response() -> None:
    conn = esme_bound()
    seq = conn.send(EnquireLink(), now=1.0)
    events = feed(conn, wire(EnquireLinkResp(sequence_number=seq)), now=1.5)
    assert events == [ev.ResponseReceived(pdu=EnquireLinkResp(sequence_number=seq),
                                          request_command_id=C.ENQUIRE_LINK, sent_at=1.0,
                                          rtt=0.5)]  # fmt: skip


# --- unbind and close ------------------------------------------------------------------


def test_unbind_by_us_waits_for_outstanding_responses() -> None:
    conn = esme_bound()
    sub = conn.send(SubmitSm(), now=0.0)
    other = conn.send(SubmitSm(), now=0.0)
    unb = conn.send(Unbind(), now=0.0)
    assert conn.state is State.UNBINDING
    with pytest.raises(LocalProtocolError):
        conn.send(SubmitSm(), now=0.0)
    resp = SubmitSmResp(sequence_number=sub, message_id="x")
    events = feed(conn, wire(resp) + wire(UnbindResp(sequence_number=unb)))
    assert events == [
        ev.ResponseReceived(pdu=resp, request_command_id=C.SUBMIT_SM, sent_at=0.0, rtt=0.0),
        ev.ConnectionClosed(reason=ev.CloseReason.UNBOUND, unanswered=(other,)),
    ]
    assert conn.state is State.CLOSED
    assert drain(conn) == []


def test_unbind_by_peer_is_answered_and_closes() -> None:
    conn = esme_bound()
    sub = conn.send(SubmitSm(), now=0.0)
    conn.data_to_send()
    events = feed(conn, frame(C.UNBIND, 7) + frame(C.ENQUIRE_LINK, 8))
    assert events == [ev.ConnectionClosed(reason=ev.CloseReason.UNBOUND_BY_PEER, unanswered=(sub,))]
    assert headers(conn.data_to_send()) == [(16, C.UNBIND_RESP, 0, 7)]
    with pytest.raises(LocalProtocolError):
        conn.send(SubmitSm(), now=0.0)


def test_eof_closes_after_buffered_frames() -> None:
    conn = esme_bound()
    sub = conn.send(SubmitSm(), now=0.0)
    conn.receive_data(wire(DeliverSm(sequence_number=3)), now=0.0)
    conn.receive_data(b"", now=0.0)
    events = drain(conn)
    assert [type(e) for e in events] == [ev.PduReceived, ev.ConnectionClosed]
    assert events[1] == ev.ConnectionClosed(reason=ev.CloseReason.PEER_CLOSED, unanswered=(sub,))


def test_unbind_timeout_closes_unbound() -> None:
    conn = esme_bound(response_timeout=2.0)
    seq = conn.send(Unbind(), now=0.0)
    conn.tick(2.0)
    assert drain(conn) == [ev.ConnectionClosed(reason=ev.CloseReason.UNBOUND, unanswered=(seq,))]


# --- SMSC role -------------------------------------------------------------------------


def test_smsc_accepts_a_bind_and_receives_submit_sm() -> None:
    pair = Pair()
    pair.bind()
    assert pair.smsc.mode is BindMode.TRANSCEIVER
    seq = pair.esme.send(SubmitSm(destination_addr="123", short_message=b"x"), now=0.0)
    (got,) = pair.to_smsc()
    assert isinstance(got, ev.PduReceived) and got.pdu.sequence_number == seq
    pair.smsc.send(SubmitSmResp(sequence_number=seq, message_id="abc"), now=0.0)
    (resp,) = pair.to_esme()
    assert isinstance(resp, ev.ResponseReceived) and resp.pdu == SubmitSmResp(
        sequence_number=seq, message_id="abc"
    )
    # and the SMSC delivers: deliver_sm from the SMSC, answered by the ESME
    dseq = pair.smsc.send(DeliverSm(short_message=b"id:abc stat:DELIVRD"), now=0.0)
    (dlr,) = pair.to_esme()
    assert isinstance(dlr, ev.PduReceived) and dlr.pdu.sequence_number == dseq
    pair.esme.send(DeliverSmResp(sequence_number=dseq), now=0.0)
    (ack,) = pair.to_smsc()
    assert isinstance(ack, ev.ResponseReceived) and ack.request_command_id == C.DELIVER_SM


def test_smsc_rejects_a_bind_and_stays_open() -> None:
    pair = Pair()
    pair.esme.send(BindTransceiver(password="bad"), now=0.0)
    (got,) = pair.to_smsc()
    assert isinstance(got, ev.PduReceived) and pair.smsc.state is State.BINDING
    seq = got.pdu.sequence_number
    pair.smsc.send(
        BindTransceiverResp(sequence_number=seq, command_status=S.ESME_RINVPASWD), now=0.0
    )
    assert pair.smsc.state is State.OPEN and pair.smsc.mode is None
    (failed,) = pair.to_esme()
    assert isinstance(failed, ev.BindFailed) and failed.status == S.ESME_RINVPASWD


def test_smsc_bind_resp_must_match_the_bind() -> None:
    pair = Pair()
    pair.esme.send(BindTransceiver(), now=0.0)
    (got,) = pair.to_smsc()
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(BindTransmitterResp(sequence_number=got.pdu.sequence_number), now=0.0)  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(BindTransceiverResp(sequence_number=12345), now=0.0)
    assert pair.smsc.state is State.BINDING


def test_smsc_answers_submit_before_bind_with_rinvbndsts() -> None:
    smsc = Connection(Role.SMSC)
    events = feed(smsc, wire(SubmitSm(), 5))
    assert len(events) == 1 and isinstance(events[0], ev.ProtocolErrorAnswered)
    assert events[0].answered_with == C.SUBMIT_SM_RESP
    assert events[0].error.status == S.ESME_RINVBNDSTS
    assert headers(smsc.data_to_send()) == [(16, C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, 5)]


def test_second_bind_while_bound_is_ralybnd() -> None:
    pair = Pair()
    pair.bind()
    events = feed(pair.smsc, wire(BindTransceiver(), 9))
    assert isinstance(events[0], ev.ProtocolErrorAnswered)
    assert headers(pair.smsc.data_to_send()) == [(16, C.BIND_TRANSCEIVER_RESP, S.ESME_RALYBND, 9)]
    assert pair.smsc.state is State.BOUND_TRX


def test_generic_nack_for_our_submit_is_its_response() -> None:
    conn = esme_bound()
    seq = conn.send(SubmitSm(), now=0.0)
    nack = GenericNack(sequence_number=seq, command_status=S.ESME_RSYSERR)
    events = feed(conn, wire(nack))
    assert events == [
        ev.ResponseReceived(pdu=nack, request_command_id=C.SUBMIT_SM, sent_at=0.0, rtt=0.0)
    ]
    assert conn.window_used == 0


def test_events_are_frozen_and_keyword_only() -> None:
    event = ev.ResponseTimeout(sequence_number=1, command_id=C.SUBMIT_SM, sent_at=0.0)
    with pytest.raises(AttributeError):
        event.sequence_number = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.ResponseTimeout(1, C.SUBMIT_SM, 0.0)  # type: ignore[misc]
    assert event == ev.ResponseTimeout(sequence_number=1, command_id=C.SUBMIT_SM, sent_at=0.0)
    assert isinstance(event, ev.Event) and hash(event) is not None
