"""One ESME connection to the simulator: what its requests get (SMPP 3.4 section 4).

bind_* -> accepted or refused by account (section 4.1); submit_sm -> the faults
(disconnect, throttle, queue full), the outcome, a fresh message id, and a receipt
when registered_delivery asks (section 5.2.17); data_sm and submit_multi the same
way; query_sm (section 4.8) is answered from the message store (store.py);
cancel_sm and replace_sm are refused with their section 5.1.3 failure status.
``lose_receipts`` drops final receipts (the state stays queryable). The I/O
lives in :class:`~bridge.simulator.link.Link`.
"""

from __future__ import annotations

import structlog

from bridge.simulator.deliveries import Delivery
from bridge.simulator.link import Dropped, Link
from bridge.simulator.receipts import ENROUTE, Verdict
from bridge.simulator.throttle import TpsWindow
from bridge.smpp.constants import CommandStatus, Tag, describe
from bridge.smpp.fields import SmeAddress
from bridge.smpp.pdus import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    DataSm,
    DataSmResp,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    Request,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from bridge.smpp.state import BindMode, State

log = structlog.get_logger("bridge.simulator")

_QUEUE_FULL = CommandStatus.ESME_RMSGQFUL
_BIND_TYPES = (BindTransmitter, BindReceiver, BindTransceiver)
# section 5.3.2.25: the SMSC's interface version in bind_resp
_SC_INTERFACE_VERSION = ((Tag.SC_INTERFACE_VERSION, b"\x34"),)
# submit_sm source_addr / destination_addr: at most 20 octets (SMPP 3.4 section
# 4.4.1, 21 with the NUL). The decoder tolerates longer ones (real SMSCs send them);
# as an SMSC we refuse them, as a real one does, and a receipt could not carry them
# back (its addresses have the same limit, section 4.6.1).
_MAX_ADDR = 20
_INVALID_SOURCE = CommandStatus.ESME_RINVSRCADR
_INVALID_DESTINATION = CommandStatus.ESME_RINVDSTADR


def _address_status(submit: SubmitSm) -> int:
    if len(submit.source_addr) > _MAX_ADDR:
        return _INVALID_SOURCE
    if len(submit.destination_addr) > _MAX_ADDR:
        return _INVALID_DESTINATION
    return 0


# Requests we accept but do not implement: answered with their section 5.1.3 failure.
_REFUSED: dict[type[Pdu], int] = {
    CancelSm: CommandStatus.ESME_RCANCELFAIL,
    ReplaceSm: CommandStatus.ESME_RREPLACEFAIL,
}


class Session(Link):
    def _on_request(self, pdu: Pdu, now: float) -> None:
        if isinstance(pdu, _BIND_TYPES):
            self._on_bind(pdu, now)
        elif type(pdu) is DataSm:
            self._on_data_sm(pdu, now)
        elif type(pdu) is SubmitMulti:
            self._on_submit_multi(pdu, now)
        elif type(pdu) is QuerySm:
            self._on_query(pdu, now)
        elif isinstance(pdu, Request):
            status = _REFUSED.get(type(pdu), CommandStatus.ESME_RSYSERR)
            self.conn.send(
                pdu.response_type(sequence_number=pdu.sequence_number, command_status=status),
                now=now,
            )

    def _on_bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver, now: float) -> None:
        sim = self.sim
        stats = sim.stats
        status = sim.bind_status(pdu.system_id, pdu.password)
        account = None
        if status == 0:
            account = sim.account(pdu.system_id)
            limit = sim.config.max_binds
            if limit and len(account.sessions) >= limit:
                status = CommandStatus.ESME_RBINDFAIL
        seq = pdu.sequence_number
        if status or account is None:
            self.conn.send(pdu.response_type(sequence_number=seq, command_status=status), now=now)
            stats.binds_rejected += 1
            log.info("bind refused", system_id=pdu.system_id, command=type(pdu).__name__,
                     status=describe(status))
            return
        resp = pdu.response_type(
            sequence_number=seq, system_id=sim.config.system_id, tlvs=_SC_INTERFACE_VERSION
        )
        self.conn.send(resp, now=now)
        mode = self.conn.mode
        self.can_receive = mode in (BindMode.RECEIVER, BindMode.TRANSCEIVER)
        sendable = {State.BOUND_RX, State.BOUND_TRX}
        if sim.config.receipts_on_transmitter:
            sendable.add(State.BOUND_TX)
        self._sendable = frozenset(sendable)
        self.account = account
        tps = sim.config.throttle_tps
        if tps is not None:
            by_bind = sim.config.throttle_scope == "bind"
            self.throttle = TpsWindow(tps) if by_bind else account.throttle
        stats.binds += 1
        stats.bound += 1
        account.attach(self, now)
        log.info("bound", system_id=pdu.system_id, mode=mode.value if mode else None,
                 binds=len(account.sessions))

    def _admit(self, now: float) -> int:
        """The fault checks every message submission goes through: 0 or an error status."""
        sim = self.sim
        if sim.disconnect_p and sim.rng.random() < sim.disconnect_p:
            raise Dropped
        throttle = self.throttle
        if throttle is not None and not throttle.allow(now):
            sim.stats.throttled += 1
            return sim.throttle_status
        if sim.queue_full_p and sim.rng.random() < sim.queue_full_p:
            sim.stats.queue_full += 1
            return _QUEUE_FULL
        return 0

    def _on_submit(self, pdu: SubmitSm, now: float) -> None:
        """submit_sm (SMPP 3.4 section 4.4): the hot path."""
        sim = self.sim
        stats = sim.stats
        stats.submits += 1
        seq = pdu.sequence_number
        status = _address_status(pdu) or self._admit(now)
        if not status:
            verdict = sim.picker.pick(pdu.destination_addr)
            status = verdict.submit_status
        if status:
            self.conn.send(SubmitSmResp(sequence_number=seq, command_status=status), now=now)
            stats.resps[status] += 1
            return
        message_id = sim.next_id()
        resp = SubmitSmResp(sequence_number=seq, message_id=message_id)
        sim.record_handset(pdu, message_id)
        if sim.probes:
            sim.probes.deliver(sim, pdu, self.system_id, now)
        registered = pdu.registered_delivery
        enroute = registered & 0x10 and sim.config.intermediate_notifications
        wanted = registered & 0x03  # section 5.2.17
        if not wanted or (wanted == 0x02 and verdict.delivered):
            sim.remember(pdu, message_id, verdict, now + sim.config.receipt_delay[0])
            self._answer(resp, now)
            if enroute:
                self._notify_enroute(pdu, message_id, now)
            return
        delivery = Delivery(
            submit=pdu, message_id=message_id, verdict=verdict, submit_date=sim.clock.now()
        )
        stats.receipts_scheduled += 1
        account = self.account
        assert account is not None
        if sim.before_resp_p and sim.rng.random() < sim.before_resp_p:
            sim.remember(pdu, message_id, verdict, now)
            if enroute:
                self._notify_enroute(pdu, message_id, now)
            if not sim.lose():
                target = account.route(delivery, due=now, now=now, urgent=True)
                if target is not None and target is not self:
                    self._urgent.append(target)
            self._answer(resp, now)
        else:
            self._answer(resp, now)
            if enroute:
                self._notify_enroute(pdu, message_id, now)
            due = now + sim.receipt_delay()
            sim.remember(pdu, message_id, verdict, due)
            if not sim.lose():
                account.route(delivery, due=due, now=now)

    def _on_query(self, pdu: QuerySm, now: float) -> None:
        """query_sm (section 4.8.1): the message's state from the store; the TPS limit
        counts queries as it counts submits."""
        sim = self.sim
        sim.stats.queries += 1
        throttle = self.throttle
        if throttle is not None and not throttle.allow(now):
            sim.stats.throttled += 1
            resp = QuerySmResp(sequence_number=pdu.sequence_number, command_status=sim.throttle_status)
        else:
            resp = sim.store.answer(pdu, now)
        if resp.command_status:
            sim.stats.queries_failed += resp.command_status != sim.throttle_status
        self.conn.send(resp, now=now)

    def _notify_enroute(self, submit: SubmitSm, message_id: str, now: float) -> None:
        """An intermediate notification, routed like a receipt (and before it)."""
        sim = self.sim
        sim.stats.receipts_scheduled += 1
        assert self.account is not None
        self.account.route(
            Delivery(submit=submit, message_id=message_id, verdict=ENROUTE,
                     submit_date=sim.clock.now()),
            due=now, now=now,
        )  # fmt: skip

    def _answer(self, resp: Pdu, now: float) -> None:
        """Write a successful message resp now, late, or never (the resp faults)."""
        sim = self.sim
        stats = sim.stats
        if sim.no_resp_p and sim.rng.random() < sim.no_resp_p:
            stats.unanswered += 1
            return
        stats.resps[0] += 1
        if sim.late_resp_p and sim.rng.random() < sim.late_resp_p:
            stats.late_resps += 1
            self.hold_response(resp, now + sim.late_resp_delay())
        else:
            self.send_response(resp, now)

    def _on_data_sm(self, pdu: DataSm, now: float) -> None:
        """data_sm (section 4.7) from the ESME: handled as a submit_sm of its payload."""
        payload = pdu.tlv(Tag.MESSAGE_PAYLOAD)
        as_submit = SubmitSm(
            sequence_number=pdu.sequence_number,
            source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr[:20],
            dest_addr_ton=pdu.dest_addr_ton, dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr[:20],
            esm_class=pdu.esm_class, registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding,
            short_message=payload[:254] if isinstance(payload, bytes) else b"",
        )  # fmt: skip
        self._answer_as(as_submit, DataSmResp, now)

    def _on_submit_multi(self, pdu: SubmitMulti, now: float) -> None:
        """submit_multi (section 4.5): one message id, one receipt per SME address."""
        dests = [d for d in pdu.dest_address if isinstance(d, SmeAddress)]
        if not dests:
            self.conn.send(
                SubmitMultiResp(
                    sequence_number=pdu.sequence_number,
                    command_status=CommandStatus.ESME_RINVNUMDESTS,
                ),
                now=now,
            )
            return
        first, *rest = (
            SubmitSm(
                sequence_number=pdu.sequence_number,
                source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
                source_addr=pdu.source_addr, dest_addr_ton=d.dest_addr_ton,
                dest_addr_npi=d.dest_addr_npi, destination_addr=d.destination_addr,
                esm_class=pdu.esm_class, registered_delivery=pdu.registered_delivery,
                data_coding=pdu.data_coding, short_message=pdu.short_message,
            )
            for d in dests
        )
        message_id = self._answer_as(first, SubmitMultiResp, now)
        if message_id is None:
            return
        for extra in rest:
            self._receipt_for(extra, message_id, now)

    def _answer_as(self, submit: SubmitSm, resp_type: type[Pdu], now: float) -> str | None:
        """Admit, answer with ``resp_type`` and schedule the receipt; the id or None."""
        stats = self.sim.stats
        stats.submits += 1
        seq = submit.sequence_number
        status = _address_status(submit) or self._admit(now)
        verdict = self.sim.picker.pick(submit.destination_addr)
        status = status or verdict.submit_status
        if status:
            self.conn.send(resp_type(sequence_number=seq, command_status=status), now=now)
            stats.resps[status] += 1
            return None
        message_id = self.sim.next_id()
        self._answer(resp_type(sequence_number=seq, message_id=message_id), now)  # type: ignore[call-arg]
        self.sim.record_handset(submit, message_id)
        self._receipt_for(submit, message_id, now, verdict)
        return message_id

    def _receipt_for(
        self, submit: SubmitSm, message_id: str, now: float, verdict: Verdict | None = None
    ) -> None:
        sim = self.sim
        if verdict is None:
            verdict = sim.picker.pick(submit.destination_addr)
        wanted = submit.registered_delivery & 0x03
        if not wanted or (wanted == 0x02 and verdict.delivered):
            sim.remember(submit, message_id, verdict, now + sim.config.receipt_delay[0])
            return
        sim.stats.receipts_scheduled += 1
        delivery = Delivery(
            submit=submit, message_id=message_id, verdict=verdict, submit_date=sim.clock.now()
        )
        assert self.account is not None
        due = now + sim.receipt_delay()
        sim.remember(submit, message_id, verdict, due)
        if not sim.lose():
            self.account.route(delivery, due=due, now=now)

