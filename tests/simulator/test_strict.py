"""Strict mode (SimulatorConfig.strict, ``--strict``): a malformed response from the
ESME drops the connection, as SMPPSim 2.6.11 does; and the simulator's own
responses, byte for byte, against SMPP 3.4 section 4."""

from __future__ import annotations

import struct
from collections.abc import Callable

import trio

from bridge.simulator import DestinationRule, SimulatorConfig
from bridge.smpp import FrameReader
from bridge.smpp.constants import CommandId as C
from bridge.smpp.constants import CommandStatus as S
from bridge.smpp.events import BindFailed
from bridge.smpp.pdus import CancelSm, DataSm, QuerySm, ReplaceSm
from tests.simulator.esme import Esme
from tests.simulator.helpers import bound, running

LIMIT = 10


async def _eventually(predicate: Callable[[], bool]) -> None:
    """Poll a counter (a value, not an event) until ``predicate`` holds; callers bound it."""
    while True:
        if predicate():
            return
        await trio.sleep(0.01)


def _frames(data: bytes) -> list[bytes]:
    reader = FrameReader()
    reader.feed(data)
    return list(reader)


async def test_strict_drops_a_bind_whose_deliver_sm_resp_lacks_its_message_id() -> None:
    async with running(SimulatorConfig(strict=True, receipt_retry_delay=0.05)) as sim:
        with trio.fail_after(LIMIT):
            esme = await bound(sim)
            esme.bodiless_acks = True
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_closed()  # dropped, as SMPPSim does
            assert sim.stats.malformed_responses == 1
            assert sim.stats.receipts_acked == 0
            # the receipt was not taken as delivered: a conforming bind gets it again
            again = await bound(sim)
            await again.wait_until(lambda: len(again.delivered) == 1)
            await _eventually(lambda: sim.stats.receipts_acked == 1)  # our ack is on its way


async def test_strict_accepts_the_17_octet_deliver_sm_resp_with_any_status() -> None:
    async with running(SimulatorConfig(strict=True, receipt_max_attempts=2,
                                       receipt_retry_delay=0.01)) as sim:
        with trio.fail_after(LIMIT):
            esme = await bound(sim)
            esme.deliver_status = S.ESME_RX_T_APPN  # "try later", with its NULL message_id
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 2)  # sent again after the nack
            await trio.sleep(0.1)
            assert sim.stats.receipts_nacked == 2 and sim.stats.malformed_responses == 0
            assert esme.closed is None and not esme.eof


async def test_lenient_by_default() -> None:
    async with running(SimulatorConfig()) as sim:
        with trio.fail_after(LIMIT):
            esme = await bound(sim)
            esme.bodiless_acks = True
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 1)
            await _eventually(lambda: sim.stats.receipts_acked == 1)
            assert sim.stats.malformed_responses == 0


async def test_strict_drops_a_response_that_does_not_decode() -> None:
    async with running(SimulatorConfig(strict=True)) as sim:
        with trio.fail_after(LIMIT):
            esme = await bound(sim)
            esme.submit(registered_delivery=1)
            await esme.flush()
            await esme.wait_until(lambda: len(esme.delivered) == 1)
            seq = esme.delivered[0].sequence_number
            # deliver_sm_resp whose message_id has no NUL
            esme.raw_out += struct.pack(">IIII", 19, C.DELIVER_SM_RESP, 0, seq + 1) + b"abc"
            await esme.flush()
            await esme.wait_closed()
            assert sim.stats.malformed_responses == 1


def _header(length: int, command_id: int, status: int, seq: int) -> bytes:
    return struct.pack(">IIII", length, command_id, status, seq)


async def test_the_simulator_responses_follow_section_4() -> None:
    config = SimulatorConfig(system_id="SMSC", message_id_format="decimal", seed=1,
                             accounts={"bridge": "secret"},
                             destination_rules=(DestinationRule(suffix="999", submit_status=0x45),))
    async with running(config) as sim:
        with trio.fail_after(LIMIT):
            esme = await bound(sim)
            sub = esme.submit()
            refused = esme.submit(destination_addr="4471999")  # the rule: ESME_RSUBMITFAIL
            query = esme.send(QuerySm(message_id="1"))
            cancel = esme.send(CancelSm(message_id="1"))
            replace = esme.send(ReplaceSm(message_id="1"))
            data = esme.send(DataSm(destination_addr="44999"))  # refused: ESME_RSUBMITFAIL
            await esme.flush()
            await esme.wait_until(lambda: len(esme.resps) == 6)
            frames = {struct.unpack_from(">I", f, 12)[0]: f for f in _frames(bytes(esme.raw_in))}
            # bind_transceiver_resp (4.1.6): system_id, then sc_interface_version (5.3.2.25)
            bind = [f for f in frames.values() if f[4:8] == C.BIND_TRANSCEIVER_RESP.to_bytes(4, "big")]
            assert bind[0][16:] == b"SMSC\0" + b"\x02\x10\x00\x01\x34"
            message_id = esme.resps[sub].message_id  # type: ignore[attr-defined]
            assert frames[sub] == _header(16 + len(message_id) + 1, C.SUBMIT_SM_RESP, 0, sub) + (
                message_id.encode() + b"\0")  # 4.4.2
            assert frames[refused] == _header(16, C.SUBMIT_SM_RESP, 0x45, refused)  # 4.4.2
            # an unknown message: refused (ESME_RQUERYFAIL), header only (4.8.2)
            q_length, q_cid, q_status, _ = struct.unpack_from(">IIII", frames[query])
            assert (q_length, q_cid) == (16, C.QUERY_SM_RESP) and q_status != 0
            assert frames[cancel] == _header(16, C.CANCEL_SM_RESP, S.ESME_RCANCELFAIL, cancel)
            assert frames[replace] == _header(16, C.REPLACE_SM_RESP, S.ESME_RREPLACEFAIL, replace)
            # data_sm_resp keeps its message_id even on error (4.7.2)
            assert frames[data] == _header(17, C.DATA_SM_RESP, 0x45, data) + b"\0"
            # a refused bind: header only (SMPP 5.0 4.1: no body on error; 3.4 peers accept it)
            assert sim.port is not None
            other = await Esme.connect(sim.port)
            assert isinstance(await other.bind("bridge", "wrong"), BindFailed)
            assert bytes(other.raw_in) == _header(16, C.BIND_TRANSCEIVER_RESP,
                                                  S.ESME_RINVPASWD, 1)
