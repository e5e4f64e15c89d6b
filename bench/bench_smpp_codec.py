"""The SMPP codec on the hot PDUs, against smpplib's command classes in the same run.

Three figures, each over a seeded set of distinct PDUs (so no single frame sits
in a cache): submit_sm encode (what the bridge writes per message part),
submit_sm_resp decode (its answer) and deliver_sm decode with a delivery
receipt in short_message plus receipted_message_id / message_state TLVs (what
comes back). smpplib builds its command objects outside the timed loop, as ours
does, and parses with ``smpplib.smpp.parse_pdu``.
"""

from __future__ import annotations

import random
import warnings
from typing import Any

from bench.common import Rate, measure, ratio, target

DESCRIPTION = "bridge.smpp encode submit_sm / decode submit_sm_resp, deliver_sm receipt vs smpplib"

SEED = 20261130
ENCODE_TARGET = 1_000_000
DELIVER_TARGET = 500_000
RATIO_TARGET = 20.0


def _inputs(count: int) -> tuple[list[Any], list[bytes], list[bytes]]:
    from bridge import smpp

    rng = random.Random(SEED)
    submits, resps, delivers = [], [], []
    for i in range(count):
        msisdn = f"49170{rng.randrange(10**7):07d}"
        message_id = f"{rng.getrandbits(64):016x}"
        text = f"Your code is {rng.randrange(10**6):06d}. Valid for 10 minutes.".encode()
        submits.append(
            smpp.SubmitSm(
                sequence_number=i + 1,
                source_addr_ton=5,
                source_addr="Bank",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=msisdn,
                registered_delivery=1,
                short_message=text,
            )
        )
        resps.append(smpp.encode(smpp.SubmitSmResp(sequence_number=i + 1, message_id=message_id)))
        receipt = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:2611301200"
            f" done date:2611301201 stat:DELIVRD err:000 text:Your code is"
        ).encode()
        delivers.append(
            smpp.encode(
                smpp.DeliverSm(
                    sequence_number=i + 1,
                    source_addr_ton=1,
                    source_addr_npi=1,
                    source_addr=msisdn,
                    dest_addr_ton=5,
                    destination_addr="Bank",
                    esm_class=smpp.EsmClass.SMSC_DELIVERY_RECEIPT,
                    short_message=receipt,
                    tlvs=smpp.tlv.make(receipted_message_id=message_id, message_state=2),
                )
            )
        )
    return submits, resps, delivers


def _smpplib() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import smpplib.smpp
    except ImportError:
        return None
    return smpplib.smpp


def run(quick: bool) -> dict[str, Any]:
    from bridge import smpp

    count = 20_000 if quick else 100_000
    peer_count = count // 10  # smpplib is ~50x slower: keep its share of the run short
    submits, resps, delivers = _inputs(count)
    encode = smpp.encode
    decode = smpp.decode

    # Each loop drops its result, as the bridge does once a PDU is handled: the
    # figure is the codec, not the allocator holding 100k PDUs alive.
    def encode_all() -> None:
        for p in submits:
            encode(p)

    def decode_all(frames: list[bytes]) -> None:
        for f in frames:
            decode(f)

    ours = {
        "encode submit_sm": measure(
            "bridge.smpp encode submit_sm", encode_all, count, repeats=7, unit="PDUs/s"
        ),
        "decode submit_sm_resp": measure(
            "bridge.smpp decode submit_sm_resp", lambda: decode_all(resps), count,
            repeats=7, unit="PDUs/s",
        ),
        "decode deliver_sm receipt": measure(
            "bridge.smpp decode deliver_sm (receipt)", lambda: decode_all(delivers), count,
            repeats=7, unit="PDUs/s",
        ),
    }
    figures: list[Rate] = list(ours.values())
    ratios: dict[str, float] = {}
    targets = {
        "submit_sm encodes/s": target(ENCODE_TARGET, ours["encode submit_sm"].median),
        "deliver_sm decodes/s": target(DELIVER_TARGET, ours["decode deliver_sm receipt"].median),
    }
    lib = _smpplib()
    if lib is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _measure_smpplib(lib, submits[:peer_count], resps[:peer_count],
                                      delivers[:peer_count])  # fmt: skip
        figures += theirs.values()
        for key, peer in theirs.items():
            ratios[f"{key}: bridge.smpp / smpplib"] = ratio(ours[key], peer)
            targets[f"{key} x smpplib"] = target(RATIO_TARGET, ratios[f"{key}: bridge.smpp / smpplib"])
    return {
        "figures": [f.as_dict() for f in figures],
        "ratios": ratios,
        "targets": targets,
        "inputs": {"pdus": count, "smpplib_pdus": peer_count, "seed": SEED},
    }


def _measure_smpplib(lib: Any, submits: list[Any], resps: list[bytes],
                     delivers: list[bytes]) -> dict[str, Rate]:  # fmt: skip
    count = len(submits)
    commands = []
    for p in submits:
        command = lib.make_pdu(
            "submit_sm", client=None, sequence=p.sequence_number, source_addr_ton=p.source_addr_ton,
            source_addr=p.source_addr, dest_addr_ton=p.dest_addr_ton, dest_addr_npi=p.dest_addr_npi,
            destination_addr=p.destination_addr, registered_delivery=p.registered_delivery,
            short_message=p.short_message,
        )  # fmt: skip
        command.sequence = p.sequence_number
        commands.append(command)

    def generate_all() -> None:
        for c in commands:
            c.generate()

    def parse_all(frames: list[bytes]) -> None:
        for f in frames:
            lib.parse_pdu(f, client=None, sequence=0)

    return {
        "encode submit_sm": measure(
            "smpplib generate submit_sm", generate_all, count, repeats=3, unit="PDUs/s",
        ),
        "decode submit_sm_resp": measure(
            "smpplib parse submit_sm_resp", lambda: parse_all(resps), count, repeats=3,
            unit="PDUs/s",
        ),
        "decode deliver_sm receipt": measure(
            "smpplib parse deliver_sm (receipt)", lambda: parse_all(delivers), count, repeats=3,
            unit="PDUs/s",
        ),
    }  # fmt: skip
