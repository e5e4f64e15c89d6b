"""query.py without I/O: the query_sm we write (SMPP 3.4 section 4.8.1) and how answers map."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import trio
import trio.testing
from msgspec.structs import replace

import dlr
import segmenter
from bridge.carrier import CarrierClosed, Inbound, TimedOut, UnknownReason
from bridge.dispatch.apply import part_state
from bridge.dispatch.claim import ClaimBook
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.parts import ClaimedPart
from bridge.dispatch.query import Candidate, Querier, _Mark, answer_row, build_query_sm
from bridge.dispatch.rules import CarrierRules
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.submit import build_submit_sm
from bridge.dispatch.writer import Writer
from bridge.smpp import DeliverSm, GenericNack, QuerySm, QuerySmResp
from bridge.smpp.codec import encode
from config.schema import Carrier as CarrierConfig
from config.schema import SourceRules


def _candidate(**kw: object) -> Candidate:
    base: dict[str, object] = dict(
        message_id=10, seq=1, carrier_message_id="0A1b-c3", id_key="a1bc3",
        submitted_at=datetime(2026, 1, 1, tzinfo=UTC), sender_id="Bridge", sender_ton=5, sender_npi=0,
    )
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


def _carrier(**kw: object) -> CarrierConfig:
    return CarrierConfig(name="sim", host="127.0.0.1", system_id="bridge", **kw)  # type: ignore[arg-type]


def test_query_sm_is_laid_out_as_section_4_8_1_byte_for_byte() -> None:
    pdu = build_query_sm(_candidate(), _carrier())
    body = (
        b"0A1b-c3\x00"  # message_id: C-Octet String, exactly as the submit_sm_resp gave it
        + bytes([5, 0])  # source_addr_ton (section 5.2.5), source_addr_npi (5.2.6)
        + b"Bridge\x00"  # source_addr: C-Octet String
    )
    header = struct.pack(">IIII", 16 + len(body), 0x00000003, 0, 7)  # query_sm, section 5.1.2.1
    assert encode(replace(pdu, sequence_number=7)) == header + body
    # and an independent codec writes the same bytes (smpplib, tests/smpp/test_codec_smpplib.py)
    from tests.smpp.test_codec_smpplib import smpplib_make

    theirs = smpplib_make("query_sm", 7, message_id="0A1b-c3", source_addr_ton=5, source_addr_npi=0,
                          source_addr="Bridge")  # fmt: skip
    assert theirs == header + body


def test_query_source_is_the_submit_source() -> None:
    """The query names the message by the submit_sm's own source address (section 4.8.1)."""
    payload = segmenter.PartPayload(short_message=b"hi", esm_class=0, data_coding=0, tlvs=())
    for source in (SourceRules(), SourceRules(force_ton=1, force_npi=1)):
        cfg = _carrier(source=source)
        for ton, npi, sender in ((5, 0, "Bridge"), (None, None, None), (1, 1, "60123456789")):
            part = ClaimedPart(
                message_id=1, seq=1, total=1, body="hi", route=None, attempts=1, owner=1,
                destination="+60123000000", sender_id=sender, sender_ton=ton, sender_npi=npi,
                concat_ref=None, campaign_body="hi", previous_carrier=None,
            )  # fmt: skip
            submit = build_submit_sm(part, payload, cfg)
            query = build_query_sm(_candidate(sender_id=sender, sender_ton=ton, sender_npi=npi), cfg)
            assert (query.source_addr_ton, query.source_addr_npi, query.source_addr) == (
                submit.source_addr_ton, submit.source_addr_npi, submit.source_addr
            )


FINAL = {
    dlr.MessageState.DELIVERED: dlr.Status.SENT,
    dlr.MessageState.EXPIRED: dlr.Status.FAILED,
    dlr.MessageState.DELETED: dlr.Status.FAILED,
    dlr.MessageState.UNDELIVERABLE: dlr.Status.FAILED,
    dlr.MessageState.ACCEPTED: dlr.Status.PENDING,  # the carrier's table decides (dlr/states.py)
    dlr.MessageState.REJECTED: dlr.Status.FAILED,
}


@pytest.mark.parametrize("state", list(dlr.MessageState))
def test_answer_states_map_through_the_status_table(state: dlr.MessageState) -> None:
    resp = QuerySmResp(message_id="0A1b-c3", final_date="260101120030000+", message_state=int(state),
                       error_code=11)  # fmt: skip
    row = answer_row("sim", _candidate(), resp, dlr.StatusTable())
    if state not in FINAL:  # ENROUTE, UNKNOWN: section 5.2.28 says not final
        assert row is None
        return
    assert row is not None
    assert row.status is FINAL[state]
    assert (row.carrier, row.id_key, row.stat, row.error_code) == ("sim", "a1bc3", dlr.STAT_WORD_OF[state], 11)
    assert isinstance(row.receipt, dlr.Receipt)
    assert row.receipt.id == "0A1b-c3" and row.receipt.done_date == datetime(2026, 1, 1, 12, 0, 30)


def test_a_carrier_table_override_applies_to_answers() -> None:
    table = _carrier(status_overrides={"ACCEPTED": dlr.Status.SENT}).status_table()
    row = answer_row("sim", _candidate(), QuerySmResp(message_state=6, error_code=0), table)
    assert row is not None and row.status is dlr.Status.SENT


@pytest.mark.parametrize("value", [None, 0, 9, 255])
def test_a_state_outside_section_5_2_28_is_not_applied(value: int | None) -> None:
    assert answer_row("sim", _candidate(), QuerySmResp(message_state=value), dlr.StatusTable()) is None


class _FakeCarrier:
    """Carrier.query answering from a script."""

    name = "sim"

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.written: list[QuerySm] = []

    async def query(self, pdu: QuerySm) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        self.written.append(pdu)
        return self.answer


class _NoInstances:
    live_ids: frozenset[int] = frozenset()


class _Rules:
    def __init__(self, rules: CarrierRules) -> None:
        self.rules = rules

    def rules_of(self, carrier: str) -> CarrierRules:
        return self.rules


def _querier(answer: object, ack: int = 0) -> tuple[Querier, DaemonStats, list[ReceiptRow]]:
    stats = DaemonStats()
    rows: list[ReceiptRow] = []

    async def put(row: ReceiptRow, done: Callable[[int], None]) -> None:
        rows.append(row)
        done(ack)

    q = Querier(
        None,  # type: ignore[arg-type]  # _ask reads no database
        rules=CarrierRules.of(_carrier(query_sm=True)), carrier=_FakeCarrier(answer),  # type: ignore[arg-type]
        stats=stats, put_receipt=put, instances=_NoInstances(), db_timeout=1.0,
    )  # fmt: skip
    return q, stats, rows


def _asked(mark: _Mark) -> _Mark:
    mark.queries, mark.next_at = 1, 100.0  # as Querier.round leaves it before _ask
    return mark


async def _ask(q: Querier, mark: _Mark) -> None:
    await q._in_flight.acquire()
    await q._ask(_candidate(), mark)


async def test_a_final_answer_goes_to_the_writer_and_counts() -> None:
    q, stats, rows = _querier(QuerySmResp(message_id="0A1b-c3", message_state=5, error_code=1))
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert [r.status for r in rows] == [dlr.Status.FAILED]
    assert (stats.queries, stats.queries_final, mark.queries, mark.done) == (1, 1, 1, False)


async def test_an_answer_the_writer_could_not_store_does_not_count() -> None:
    q, _, rows = _querier(QuerySmResp(message_state=2), ack=0x64)  # ESME_RX_T_APPN: database down
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert len(rows) == 1 and mark.queries == 0 and mark.next_at == float("-inf")


@pytest.mark.parametrize(
    ("answer", "done", "counter"),
    [
        (QuerySmResp(command_status=0x67), True, "queries_failed"),  # ESME_RQUERYFAIL
        (QuerySmResp(command_status=0x0C), True, "queries_failed"),  # ESME_RINVMSGID
        (QuerySmResp(command_status=0x08), False, "queries_failed"),  # ESME_RSYSERR: ask again later
        (GenericNack(command_status=0x03), False, "queries_failed"),
        (TimedOut(1), False, "queries_unanswered"),
        (UnknownReason.DISCONNECTED, False, "queries_unanswered"),
        (QuerySmResp(message_state=1), False, "queries_not_final"),  # ENROUTE
        (QuerySmResp(message_state=7), False, "queries_not_final"),  # UNKNOWN
    ],
)
async def test_answers_that_settle_nothing(answer: object, done: bool, counter: str) -> None:
    q, stats, rows = _querier(answer)
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert rows == [] and mark.done is done and mark.queries == 1
    assert stats.queries == 1 and getattr(stats, counter) == 1


async def test_a_query_not_written_is_not_an_attempt() -> None:
    q, stats, rows = _querier(CarrierClosed("sim"))
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert (stats.queries, mark.queries, mark.next_at, rows) == (0, 0, float("-inf"), [])


async def test_query_answers_and_deliver_sm_readers_share_the_writer_buffer() -> None:
    """Both wait for room in the writer's bounded inbound buffer; one flush cut wakes both."""
    writer = Writer(
        None,  # type: ignore[arg-type]  # nothing is flushed here
        stats=DaemonStats(), rules=_Rules(CarrierRules.of(_carrier())), batch=1, delay=0.01,
        db_timeout=1.0, webhooks=False, default_url=None, claims=ClaimBook(),
    )  # fmt: skip
    row = answer_row("sim", _candidate(), QuerySmResp(message_state=2), dlr.StatusTable())
    assert row is not None
    for _ in range(4):  # 4 x batch: full
        await writer.put_receipt(row, lambda _: None)
    send, receive = trio.open_memory_channel[Inbound](1)
    receipt = DeliverSm(esm_class=0x04, short_message=b"id:1 sub:001 dlvrd:001 submit date:2601010000"
                        b" done date:2601010000 stat:DELIVRD err:000 text:")  # fmt: skip
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run_inbound, receive)
        await send.send(Inbound(carrier="sim", pdu=receipt, ack=lambda _: None))
        nursery.start_soon(writer.put_receipt, row, lambda _: None)
        await trio.testing.wait_all_tasks_blocked()
        assert writer.pending == 4  # both wait
        assert writer._cut() is not None  # a flush takes the buffer
        await trio.testing.wait_all_tasks_blocked()
        assert writer.pending == 2  # both got in
        await send.aclose()


def test_a_part_without_a_key_gives_no_answer_row() -> None:
    """Such a row could only be parked, and parked_receipts.id_key is NOT NULL (the candidates
    leave these parts out too: test_parking_bounds)."""
    resp = QuerySmResp(message_id="", message_state=2)
    assert answer_row("sim", _candidate(carrier_message_id="", id_key=None), resp, dlr.StatusTable()) is None


async def test_an_accepted_answer_is_applied_as_pending_not_final_and_not_asked_again() -> None:
    """ACCEPTED is not delivery (docs/outcomes.md "ACCEPTED"): the writer records it and
    starts the part's accepted_timeout; the querier counts it not final and is done with it."""
    q, stats, rows = _querier(QuerySmResp(message_id="0A1b-c3", message_state=6))
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert [(r.status, part_state(r)) for r in rows] == [(dlr.Status.PENDING, "accepted")]
    assert (stats.queries_final, stats.queries_not_final, mark.done) == (0, 1, True)
    # Not stored (database down): asked again.
    q, stats, rows = _querier(QuerySmResp(message_id="0A1b-c3", message_state=6), ack=0x64)
    mark = _asked(_Mark())
    await _ask(q, mark)
    assert len(rows) == 1 and (mark.done, mark.queries) == (False, 0)
