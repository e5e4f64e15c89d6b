"""An independent client (python-smpplib, in a thread) against the simulator.

smpplib encodes and decodes with its own code, so this checks our SMSC side against
an SMPP implementation nobody here wrote: bind, submit_sm, the receipt it parses,
deliver_sm_resp, unbind.
"""

from __future__ import annotations

from typing import Any

import smpplib.client
import smpplib.consts
import trio

import dlr
from bridge.simulator import DestinationRule
from tests.simulator.helpers import running
from tests.simulator.test_server import wait_stat


def _client_session(port: int) -> dict[str, Any]:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    found: dict[str, Any] = {"resps": [], "receipts": []}
    client.set_message_sent_handler(
        lambda pdu: found["resps"].append((pdu.sequence, pdu.status, pdu.message_id))
    )
    client.set_message_received_handler(lambda pdu: found["receipts"].append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="smpplib", password="pw")
        for destination in ("447700900123", "447700900000"):
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Bridge",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr=destination,
                short_message=b"from smpplib",
                registered_delivery=True,
            )
        while len(found["resps"]) < 2 or len(found["receipts"]) < 2:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return found


async def test_smpplib_binds_submits_and_gets_receipts() -> None:
    async with running(
        message_id_format="uuid", destination_rules=(DestinationRule(suffix="0000"),)
    ) as sim:
        with trio.fail_after(15):
            assert sim.port is not None
            found = await trio.to_thread.run_sync(_client_session, sim.port)
            await wait_stat(sim, "receipts_acked", 2)
    assert [status for _, status, _ in found["resps"]] == [0, 0]
    ids = [
        message_id.decode() if isinstance(message_id, bytes) else message_id
        for _, _, message_id in found["resps"]
    ]
    states = {}
    for pdu in found["receipts"]:
        assert pdu.esm_class == 0x04
        receipt = dlr.parse_receipt(pdu.short_message, {}, pdu.esm_class)
        # smpplib decoded the receipted_message_id TLV on its own.
        tlv_id = pdu.receipted_message_id
        assert (tlv_id.decode() if isinstance(tlv_id, bytes) else tlv_id) == receipt.id
        states[receipt.id] = receipt.state
    assert states == {
        ids[0]: dlr.MessageState.DELIVERED,
        ids[1]: dlr.MessageState.UNDELIVERABLE,
    }
    assert sim.stats.binds == 1 and sim.stats.bound == 0
