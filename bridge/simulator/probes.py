"""The simulator playing probe networks (SMS Preflight, docs/preflight.md).

A submit_sm to a probe number is accepted as any other (its receipt follows);
besides, the network "delivers" it to the probe handset, whose reply path is an
MO to the ESME: a deliver_sm (esm_class 0, SMPP 3.4 section 4.6.1) from the
sender as the network shows it to the probe number, carrying the text, on the
receiver binds of the configured system_id. Per network it may rewrite the
sender, drop the message, delay it, or split it into concatenated parts (UDH
with an 8- or 16-bit reference, TS 23.040 9.2.3.24.1 / .8, or SAR TLVs, SMPP 3.4
sections 5.3.2.22-24).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.preflight.reassembly import decode, split_user_data
from bridge.simulator.config import ProbeNetwork, SimulatorConfig
from bridge.simulator.deliveries import Delivery
from bridge.smpp.constants import Ton
from bridge.smpp.pdus import DeliverSm, SubmitSm
from segmenter.alphabet import alphabet

if TYPE_CHECKING:
    from bridge.simulator.server import Simulator

__all__ = ["ProbeNetworks", "probe_mo"]

_SAR_REF, _SAR_TOTAL, _SAR_SEQ = 0x020C, 0x020E, 0x020F
_MESSAGE_PAYLOAD = 0x0424
_UDHI = 0x40
_GSM = alphabet(0, 0)


def _text(submit: SubmitSm) -> str:
    raw = submit.short_message or submit.raw_tlvs.get(_MESSAGE_PAYLOAD, b"")
    try:
        elements, payload = split_user_data(raw, submit.esm_class)
    except ValueError:
        return ""
    return decode(submit.data_coding, payload, elements) or ""


def _chunks(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // parts))
    out = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return out[:parts] if len(out) > parts else out


def probe_mo(submit: SubmitSm, network: ProbeNetwork, reference: int) -> list[DeliverSm]:
    """The deliver_sm the probe handset's network sends for ``submit``."""
    text = _text(submit)
    if network.behaviour == "rewrite":
        sender = network.rewrite_sender
        ton = int(Ton.INTERNATIONAL if sender.lstrip("+").isdigit() else Ton.ALPHANUMERIC)
    else:
        sender, ton = submit.source_addr, submit.source_addr_ton
    gsm = _GSM.encodes(text)
    chunks = _chunks(text, network.parts)
    total = len(chunks)
    out = []
    for seq, chunk in enumerate(chunks, start=1):
        body = _GSM.septets(chunk) if gsm else chunk.encode("utf-16-be")
        esm_class = 0
        tlvs: tuple[tuple[int, bytes], ...] = ()
        if total > 1 and network.concat == "udh8":
            body, esm_class = bytes((5, 0x00, 3, reference & 0xFF, total, seq)) + body, _UDHI
        elif total > 1 and network.concat == "udh16":
            body, esm_class = bytes((6, 0x08, 4, reference >> 8 & 0xFF, reference & 0xFF, total, seq)) + body, _UDHI
        elif total > 1:
            tlvs = ((_SAR_REF, reference.to_bytes(2, "big")), (_SAR_TOTAL, bytes((total,))), (_SAR_SEQ, bytes((seq,))))
        out.append(DeliverSm(
            source_addr_ton=ton, source_addr_npi=1 if ton == Ton.INTERNATIONAL else 0, source_addr=sender,
            dest_addr_ton=Ton.INTERNATIONAL, dest_addr_npi=1, destination_addr=submit.destination_addr.lstrip("+"),
            esm_class=esm_class, data_coding=0 if gsm else 8, short_message=body, tlvs=tlvs,
        ))  # fmt: skip
    return out


class ProbeNetworks:
    """The configured probe numbers; ``deliver`` routes the MO of one accepted submit_sm."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._by_number = {n.lstrip("+"): net for net in config.probe_networks for n in net.numbers}
        self._reference = 0

    def __bool__(self) -> bool:
        return bool(self._by_number)

    def deliver(self, sim: Simulator, submit: SubmitSm, system_id: str | None, now: float) -> None:
        network = self._by_number.get(submit.destination_addr.lstrip("+"))
        if network is None:
            return
        sim.stats.probe_submits += 1
        if network.behaviour == "drop":
            return
        self._reference = (self._reference + 1) % 65536
        account = sim.account(network.system_id or system_id or "")
        for pdu in probe_mo(submit, network, self._reference):
            account.route(Delivery(mo=pdu), due=now + network.delay, now=now)
