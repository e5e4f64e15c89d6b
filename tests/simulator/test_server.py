"""The simulator over real sockets (127.0.0.1, port 0): binds, submits, receipts, MO."""

from __future__ import annotations

import re

import pytest
import trio

import dlr
from bridge.simulator import (
    DestinationRule,
    MoConfig,
    SenderRewrite,
    Simulator,
    SimulatorConfig,
)
from bridge.simulator.deliveries import Delivery
from bridge.simulator.link import ANSWER_SLICE
from bridge.simulator.receipts import Verdict
from bridge.smpp import BindReceiver, BindTransceiver, CommandStatus, SubmitSm, SubmitSmResp, Tag
from bridge.smpp.codec import encode
from bridge.smpp.events import BindFailed, Bound, PduReceived, ResponseReceived
from tests.simulator.esme import Esme
from tests.simulator.helpers import bound, running

TIMEOUT = 10


async def test_binds_in_every_mode_with_any_credentials() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            for mode in ("tx", "rx", "trx"):
                esme = await Esme.connect(sim.port)  # type: ignore[arg-type]
                result = await esme.bind(f"any-{mode}", "whatever", mode)
                assert isinstance(result, Bound)
                assert result.system_id == "bridgesim"
                await esme.unbind()
            assert sim.stats.binds == 3
            await sim.wait_bound(0)


async def test_bind_is_refused_with_the_status_of_the_wrong_credential() -> None:
    config = SimulatorConfig(accounts={"bridge": "secret"}, max_binds=1)
    async with running(config) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await Esme.connect(sim.port)  # type: ignore[arg-type]
            wrong_password = await esme.bind("bridge", "guess")
            assert isinstance(wrong_password, BindFailed)
            assert wrong_password.status == CommandStatus.ESME_RINVPASWD
            unknown = await esme.bind("stranger", "secret")  # still OPEN: may try again
            assert isinstance(unknown, BindFailed)
            assert unknown.status == CommandStatus.ESME_RINVSYSID
            assert isinstance(await esme.bind("bridge", "secret"), Bound)
            second = await Esme.connect(sim.port)  # type: ignore[arg-type]
            over_limit = await second.bind("bridge", "secret", "rx")
            assert isinstance(over_limit, BindFailed)
            assert over_limit.status == CommandStatus.ESME_RBINDFAIL
            assert (sim.stats.binds, sim.stats.binds_rejected) == (1, 3)
            await second.aclose()
            await esme.aclose()


@pytest.mark.parametrize(
    ("form", "shape"),
    [
        ("decimal", r"[0-9]{10}"),
        ("hex", r"[0-9A-F]{8}"),
        ("uuid", r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"),
        ("hex64", r"[0-9a-f]{64}"),
    ],
)
async def test_every_submit_gets_a_unique_id_in_the_configured_format(form: str, shape: str) -> None:
    async with running(message_id_format=form) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "tx")
            seqs = [esme.submit() for _ in range(200)]
            await esme.flush()
            await esme.wait_until(lambda: len(esme.resps) == 200)
            ids = [esme.resps[s].message_id for s in seqs]  # type: ignore[attr-defined]
            assert len(set(ids)) == 200
            assert all(re.fullmatch(shape, i) for i in ids), ids[:3]
            await esme.aclose()


async def test_receipt_follows_on_the_same_transceiver_and_parses() -> None:
    async with running(message_id_format="hex") as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            seq = esme.submit(
                source_addr="Bridge", source_addr_ton=5, destination_addr="447700900123",
                short_message=b"hello there", registered_delivery=1,
            )  # fmt: skip
            await esme.flush()
            await esme.wait_until(lambda: bool(esme.delivered))
            resp = esme.resps[seq]
            assert isinstance(resp, SubmitSmResp) and resp.command_status == 0
            (receipt,) = esme.delivered
            assert receipt.esm_class == 0x04
            assert (receipt.source_addr, receipt.destination_addr) == ("447700900123", "Bridge")
            parsed = dlr.parse_receipt(receipt.short_message, receipt.raw_tlvs, receipt.esm_class)
            assert parsed.id == resp.message_id
            assert parsed.state is dlr.MessageState.DELIVERED
            assert parsed.text == "hello there"
            assert receipt.tlv(Tag.RECEIPTED_MESSAGE_ID) == resp.message_id
            await wait_stat(sim, "receipts_acked", 1)
            await esme.aclose()


async def test_registered_delivery_decides_which_submits_get_receipts() -> None:
    rules = (DestinationRule(suffix="0000", stat="UNDELIV", err=1),)
    async with running(destination_rules=rules, receipt_tlvs=False) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            esme.submit(destination_addr="447700900001", registered_delivery=0)  # none
            esme.submit(destination_addr="447700900002", registered_delivery=2)  # delivered: none
            esme.submit(destination_addr="447700900000", registered_delivery=2)  # failure: one
            esme.submit(destination_addr="447700900003", registered_delivery=1)  # always: one
            await esme.flush()
            await esme.wait_until(lambda: len(esme.resps) == 4 and len(esme.delivered) == 2)
            receipts = {
                r.source_addr: dlr.parse_receipt(r.short_message, {}, r.esm_class)
                for r in esme.delivered
            }
            assert receipts["447700900000"].state is dlr.MessageState.UNDELIVERABLE
            assert receipts["447700900000"].err == "001"
            assert receipts["447700900003"].state is dlr.MessageState.DELIVERED
            assert all(r.tlvs == () for r in esme.delivered)
            assert sim.stats.receipts_scheduled == 2
            await esme.aclose()


async def test_each_part_of_a_multipart_message_gets_its_own_receipt() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            parts = [b"first part of a long text ", b"second part: more words", b"and the end"]
            seqs = [
                # TS 23.040 9.2.3.24.1: UDHL 5, IEI 00, length 3, ref 0x2A, 3 parts, part n
                esme.submit(esm_class=0x40, registered_delivery=1,
                            short_message=bytes((5, 0, 3, 0x2A, 3, n)) + text)
                for n, text in enumerate(parts, 1)
            ]  # fmt: skip
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 3)
            ids = [esme.resps[s].message_id for s in seqs]  # type: ignore[attr-defined]
            assert len(set(ids)) == 3
            receipts = {
                (p := dlr.parse_receipt(d.short_message, d.raw_tlvs, d.esm_class)).id: p.text
                for d in esme.delivered
            }
            # Appendix B text: the first 20 characters of each part, after its UDH.
            assert receipts == {i: t.decode()[:20] for i, t in zip(ids, parts, strict=True)}


async def test_intermediate_notification_then_final_receipt() -> None:
    async with running(intermediate_notifications=True) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            seq = esme.submit(registered_delivery=0x11)  # final + intermediate (5.2.17)
            esme.submit(registered_delivery=0x01)  # final only
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 3)
            first, second, third = (
                dlr.parse_receipt(d.short_message, d.raw_tlvs, d.esm_class)
                for d in esme.delivered
            )
            assert [d.esm_class for d in esme.delivered] == [0x20, 0x04, 0x04]
            assert first.intermediate and first.state is dlr.MessageState.ENROUTE
            assert first.id == second.id == esme.resps[seq].message_id  # type: ignore[attr-defined]
            assert second.state is third.state is dlr.MessageState.DELIVERED
            # The resp came before the notification.
            kinds = [type(e.pdu).__name__ for e in esme.events if hasattr(e, "pdu")]
            assert kinds.index("SubmitSmResp") < kinds.index("DeliverSm")


async def test_destination_rule_can_refuse_the_submit() -> None:
    rules = (DestinationRule(prefix="999", submit_status=CommandStatus.ESME_RINVDSTADR),)
    async with running(destination_rules=rules) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            seq = esme.submit(destination_addr="9990001", registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: seq in esme.resps)
            assert esme.resps[seq].command_status == CommandStatus.ESME_RINVDSTADR
            assert sim.stats.receipts_scheduled == 0
            assert sim.stats.resps[CommandStatus.ESME_RINVDSTADR] == 1
            await esme.aclose()


async def test_receipts_go_to_receivers_of_the_same_system_id_round_robin() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            rx1 = await bound(sim, "rx")
            rx2 = await bound(sim, "rx")
            other = await bound(sim, "rx", system_id="someone-else")
            for _ in range(10):
                tx.submit(registered_delivery=1)
            await tx.flush()
            await tx.wait_until(lambda: len(tx.resps) == 10)
            await rx1.wait_until(lambda: len(rx1.delivered) == 5)
            await rx2.wait_until(lambda: len(rx2.delivered) == 5)
            assert not tx.delivered
            await wait_stat(sim, "receipts_acked", 10)
            assert not other.delivered and not other.conn.data_to_send()
            for esme in (tx, rx1, rx2, other):
                await esme.aclose()


async def test_receipts_wait_for_a_receiver_bind() -> None:
    async with running(receipt_queue_limit=3) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            for _ in range(5):
                tx.submit(registered_delivery=1)
            await tx.flush()
            await tx.wait_until(lambda: len(tx.resps) == 5)
            assert not tx.delivered  # no receipts on a transmitter by default
            assert (sim.stats.receipts_queued, sim.stats.receipts_dropped) == (3, 2)
            rx = await bound(sim, "rx")
            await rx.wait_until(lambda: len(rx.delivered) == 3)
            # The newest three survive: the queue drops its oldest.
            last_ids = [tx.resps[s].message_id for s in sorted(tx.resps)[-3:]]  # type: ignore[attr-defined]
            assert [r.tlv(Tag.RECEIPTED_MESSAGE_ID) for r in rx.delivered] == last_ids
            assert sim.stats.receipts_queued == 0
            await tx.aclose()
            await rx.aclose()


async def test_receipts_on_transmitter_when_configured() -> None:
    async with running(receipts_on_transmitter=True) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            tx.submit(registered_delivery=1)
            await tx.flush()
            await tx.wait_until(lambda: len(tx.delivered) == 1)
            # Our ESME connection tolerates it (bridge/smpp/state.py) and said so.
            received = [e for e in tx.events if isinstance(e, PduReceived)]
            assert received[0].tolerated
            await tx.aclose()


async def test_receipt_before_resp_on_a_transceiver() -> None:
    async with running(receipt_before_resp=1.0) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: bool(esme.resps) and bool(esme.delivered))
            kinds = [
                type(e.pdu).__name__ for e in esme.events
                if isinstance(e, PduReceived | ResponseReceived)
            ]  # fmt: skip
            assert kinds[-2:] == ["DeliverSm", "SubmitSmResp"]
            await esme.aclose()


async def test_receipt_before_resp_across_binds_is_written_first() -> None:
    async with running(receipt_before_resp=1.0) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            rx = await bound(sim, "rx")
            tx.submit(registered_delivery=1)
            await tx.flush()
            await tx.wait_until(lambda: bool(tx.resps))
            # The receipt was handed to the receiver's socket before the resp was
            # written, so it is there to read at once.
            with trio.fail_after(1):
                await rx.wait_until(lambda: bool(rx.delivered))
            await tx.aclose()
            await rx.aclose()


async def test_receipt_delay_is_respected() -> None:
    async with running(receipt_delay=(0.3, 0.3)) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: bool(esme.resps))
            answered = trio.current_time()
            await esme.wait_until(lambda: bool(esme.delivered))
            assert trio.current_time() - answered >= 0.25
            await esme.aclose()


async def test_unacknowledged_receipts_are_sent_again_on_the_next_bind() -> None:
    async with running(receipt_retry_delay=0.05) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            rx = await bound(sim, "rx")
            rx.deliver_status = CommandStatus.ESME_RX_T_APPN  # "try later"
            for _ in range(3):
                tx.submit(registered_delivery=1)
            await tx.flush()
            await rx.wait_until(lambda: len(rx.delivered) >= 3)
            rx.deliver_status = 0
            await rx.wait_until(lambda: len(rx.delivered) >= 6)
            await wait_stat(sim, "receipts_acked", 3)
            assert sim.stats.receipts_nacked >= 3
            # Now a receiver that never answers, then drops: the receipt moves on.
            await rx.aclose()
            await sim.wait_bound(1)
            silent = await Esme.connect(sim.port)  # type: ignore[arg-type]
            silent.send(BindReceiver(system_id="bridge", password="x"))
            await silent.flush()
            await sim.wait_bound(2)
            sent_before = sim.stats.receipts_sent
            tx.submit(registered_delivery=1)
            await tx.flush()
            await wait_stat(sim, "receipts_sent", sent_before + 1)
            await silent.aclose()  # read nothing, answered nothing
            rx2 = await bound(sim, "rx")
            await rx2.wait_until(lambda: len(rx2.delivered) == 1)
            await wait_stat(sim, "receipts_acked", 4)
            assert sim.stats.receipts_dropped == 0
            await tx.aclose()
            await rx2.aclose()


async def test_a_receipt_nobody_accepts_is_dropped_after_max_attempts() -> None:
    async with running(receipt_retry_delay=0.01, receipt_max_attempts=3) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            esme.deliver_status = CommandStatus.ESME_RX_P_APPN  # permanent, but we insist
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 3)  # reads and nacks
            await wait_stat(sim, "receipts_dropped", 1)
            assert (sim.stats.receipts_sent, sim.stats.receipts_nacked) == (3, 3)
            assert sim.stats.receipts_retried == 2
            assert len({d.short_message for d in esme.delivered}) == 1  # the same receipt


async def test_no_receipt_is_lost_when_a_receiver_drops_with_a_full_window() -> None:
    async with running(receipt_window=8, receipt_retry_delay=0.01) as sim:
        with trio.fail_after(TIMEOUT):
            tx = await bound(sim, "tx")
            stuck = await bound(sim, "rx")  # reads nothing from here on, answers nothing
            seqs = [tx.submit(registered_delivery=1) for _ in range(50)]
            await tx.flush()
            await tx.wait_until(lambda: len(tx.resps) == 50)
            await wait_stat(sim, "receipts_sent", 8)  # its window is full, 42 wait
            await stuck.aclose()
            await sim.wait_bound(1)
            fresh = await bound(sim, "rx")
            await fresh.wait_until(lambda: len(fresh.delivered) == 50)
            ids = {tx.resps[s].message_id for s in seqs}  # type: ignore[attr-defined]
            assert {d.tlv(Tag.RECEIPTED_MESSAGE_ID) for d in fresh.delivered} == ids
            await wait_stat(sim, "receipts_acked", 50)
            assert sim.stats.receipts_dropped == 0
            assert sim.stats.receipts_sent == 58  # 8 written twice


async def test_mo_messages_at_a_rate_and_count() -> None:
    mo = MoConfig(rate=200, count=5, text="STOP {n}", source="447700900555")
    async with running(mo=mo) as sim:
        with trio.fail_after(TIMEOUT):
            rx = await bound(sim, "rx")
            await rx.wait_until(lambda: len(rx.delivered) == 5)
            assert [m.short_message for m in rx.delivered] == [
                f"STOP {n}".encode() for n in range(1, 6)
            ]
            assert all(m.esm_class == 0 and m.source_addr == "447700900555" for m in rx.delivered)
            await wait_stat(sim, "mo_acked", 5)
            assert sim.stats.mo_sent == 5
            await rx.aclose()


async def test_sender_rewriting_shows_in_the_handset_log() -> None:
    rewrites = (SenderRewrite(dest_prefix="4477009", sender="447700000001"),)
    async with running(sender_rewrites=rewrites) as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "tx")
            esme.submit(source_addr="MYAPP", source_addr_ton=5, destination_addr="447700900123")
            esme.submit(source_addr="MYAPP", source_addr_ton=5, destination_addr="33612345678")
            esme.submit(source_addr="447911", source_addr_ton=1, destination_addr="447700900124")
            await esme.flush()
            await esme.wait_until(lambda: len(esme.resps) == 3)
            seen = [(h.destination, h.sender_seen) for h in sim.handsets]
            assert seen == [
                ("447700900123", "447700000001"),  # intercepted
                ("33612345678", "MYAPP"),  # clean
                ("447700900124", "447911"),  # numeric senders are left alone
            ]
            assert sim.stats.senders_rewritten == 1
            await esme.aclose()


def _with_overlong(field_value: str, seq: int) -> bytes:
    """A submit_sm whose ``field_value`` (20 octets) is stretched to 25: the decoder
    tolerates that (SMPP 3.4 section 4.4.1 allows 20), an SMSC refuses it."""
    fields = {"source_addr": "Bridge", "destination_addr": "447700900123", field_value: "4" * 20}
    frame = encode(SubmitSm(registered_delivery=1, short_message=b"hi", **fields), seq)
    frame = frame.replace(b"4" * 20 + b"\0", b"4" * 25 + b"\0")
    return len(frame).to_bytes(4, "big") + frame[4:]


@pytest.mark.parametrize(
    ("field_value", "status"),
    [("source_addr", CommandStatus.ESME_RINVSRCADR),
     ("destination_addr", CommandStatus.ESME_RINVDSTADR)],
)  # fmt: skip
async def test_overlong_addresses_are_refused_and_the_bind_goes_on(
    field_value: str, status: int
) -> None:
    # A receipt for such a submit could not be encoded (its addresses have the same
    # limit): it used to end the connection, resp and all.
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            await esme.stream.send_all(_with_overlong(field_value, 0x7000))
            answer = await esme.wait_for_event(
                lambda e: getattr(getattr(e, "pdu", None), "sequence_number", 0) == 0x7000
            )
            assert answer.pdu.command_status == status  # type: ignore[attr-defined]
            seq = esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: seq in esme.resps and bool(esme.delivered))
            assert sim.stats.receipts_scheduled == 1 and sim.stats.receipts_dropped == 0
            await esme.aclose()


async def test_a_delivery_that_does_not_encode_is_dropped_not_fatal() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            broken = SubmitSm(source_addr="Bridge", destination_addr="4" * 25,
                              registered_delivery=1)  # fmt: skip
            now = trio.current_time()
            sim.account("bridge").route(
                Delivery(submit=broken, message_id="x1", verdict=Verdict("DELIVRD", 0)),
                due=now, now=now,
            )  # fmt: skip
            seq = esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: seq in esme.resps and bool(esme.delivered))
            assert sim.stats.receipts_dropped == 1 and len(esme.delivered) == 1
            await esme.aclose()


async def test_invalid_frames_are_answered_and_counted() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            # command_id 0x00000077 is not SMPP 3.4: generic_nack ESME_RINVCMDID.
            await esme.stream.send_all(bytes.fromhex("00000010000000770000000000000063"))
            nack = await esme.wait_for_event(
                lambda e: getattr(getattr(e, "pdu", None), "sequence_number", 0) == 0x63
            )
            assert nack.pdu.command_status == CommandStatus.ESME_RINVCMDID  # type: ignore[attr-defined]
            assert sim.stats.protocol_errors == 1
            await esme.aclose()


async def test_smsc_initiated_unbind_and_drop() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            first = await bound(sim, "trx")
            second = await bound(sim, "trx", system_id="other")
            assert sim.unbind("bridge") == 1
            await first.wait_closed()
            assert first.closed is not None and first.closed.reason.name == "UNBOUND_BY_PEER"
            assert sim.drop() == 1
            await second.wait_closed()
            await sim.wait_bound(0)


def _count_simulator_writes(monkeypatch: pytest.MonkeyPatch, port: int | None) -> list[int]:
    """The sizes of the simulator's send_all calls (its end of each connection), as they happen."""
    writes: list[int] = []
    original = trio.SocketStream.send_all

    async def counting_send_all(self: trio.SocketStream, data: bytes) -> None:
        if self.socket.getsockname()[1] == port:
            writes.append(len(data))
        await original(self, data)

    monkeypatch.setattr(trio.SocketStream, "send_all", counting_send_all)
    return writes


async def test_answers_are_coalesced_into_few_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(receipt_window=64) as sim:
        writes = _count_simulator_writes(monkeypatch, sim.port)
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            writes.clear()
            for _ in range(500):
                esme.submit(registered_delivery=1)
            await esme.flush()  # 500 submit_sm in one write
            await esme.wait_until(lambda: len(esme.resps) == 500 and len(esme.delivered) == 500)
        # 1000 PDUs (500 resps, 500 receipts) left in a handful of writes, not 1000.
        # (8 here: the receipts go 64 at a time, the receipt window.)
        assert 1 <= len(writes) <= 50, writes


async def test_a_window_of_submits_is_answered_in_slices_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A whole window answered in one write makes the ESME and the simulator take
    # turns (each idle while the other handles 512 PDUs); answered ANSWER_SLICE
    # at a time, the ESME works on the first answers while the rest are handled.
    async with running() as sim:
        writes = _count_simulator_writes(monkeypatch, sim.port)
        with trio.fail_after(TIMEOUT):
            esme = await bound(sim, "trx")
            writes.clear()
            sent = [esme.submit() for _ in range(512)]
            await esme.flush()  # 512 submit_sm in one write
            await esme.wait_until(lambda: len(esme.resps) == 512)
        assert list(esme.resps) == sent  # answered in the order asked
        assert len(writes) >= 512 // ANSWER_SLICE, writes
        resp_size = len(encode(next(iter(esme.resps.values()))))
        assert max(writes) <= ANSWER_SLICE * resp_size, writes


async def test_a_byte_at_a_time_esme_is_understood() -> None:
    async with running() as sim:
        with trio.fail_after(TIMEOUT):
            esme = await Esme.connect(sim.port)  # type: ignore[arg-type]

            async def trickle() -> None:
                for byte in esme.conn.data_to_send():
                    await esme.stream.send_all(bytes((byte,)))

            esme.send(BindTransceiver(system_id="slow", password="x"))
            await trickle()
            await esme.wait_for_event(lambda e: isinstance(e, Bound))
            esme.submit(registered_delivery=1)
            await trickle()
            await esme.wait_until(lambda: len(esme.resps) == 1 and len(esme.delivered) == 1)
            assert sim.stats.protocol_errors == 0


async def test_ten_thousand_pipelined_submits_all_answered_with_receipts() -> None:
    async with running(receipt_delay=(0.0, 0.05)) as sim:
        with trio.fail_after(30):
            esme = await bound(sim, "trx", window=512)
            total = 10_000
            sent = 0
            while len(esme.resps) < total:
                while sent < total and esme.conn.window_free:
                    esme.submit(registered_delivery=1)
                    sent += 1
                await esme.flush()
                await esme.receive()
            await esme.wait_until(lambda: len(esme.delivered) == total)
            ids = {r.message_id for r in esme.resps.values()}  # type: ignore[attr-defined]
            assert len(ids) == total
            assert {d.tlv(Tag.RECEIPTED_MESSAGE_ID) for d in esme.delivered} == ids
            await wait_stat(sim, "receipts_acked", total)
            assert sim.stats.resps[0] == total and sim.stats.submits == total
            await esme.aclose()


async def wait_stat(sim: Simulator, name: str, value: int) -> None:
    """Wait until a counter reaches ``value``: the simulator updates counters in its
    own tasks. Bounded by the test's fail_after."""
    while getattr(sim.stats, name) < value:  # noqa: ASYNC110 -- counters have no change notification
        await trio.sleep(0.01)
