"""Receipts: parse + status of a seeded, mixed corpus (target: >= 400,000/s on one core).

The corpus mixes the shapes the daemon meets (see tests/dlr/corpus.py): mostly
canonical Appendix B text with decimal, hex, UUID and long ids, 10- and
12-digit dates, DELIVRD-heavy states; plus a share of odd shapes that take the
tolerant parser (key case, extra fields, repeated spaces), TLV-carrying
receipts, intermediate notifications and NUL-terminated ones. Each item is
``parse_receipt`` then ``status_for`` with a carrier status table, as on the
daemon's receipt path. No Python peer parses receipts (smpplib leaves the
short_message to the caller), so there is no ratio.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from bench.common import Rate, measure, target
from dlr import (
    IdForm,
    MessageState,
    StatusTable,
    format_receipt,
    id_key,
    parse_receipt,
    status_for,
)

DESCRIPTION = "parse_receipt + status_for on a mixed corpus of 1,000,000 receipts"

TARGET_PER_S = 400_000.0
SEED = 20240401

# Roughly what a busy A2P route sees.
_STATES = [MessageState.DELIVERED] * 80 + [
    MessageState.UNDELIVERABLE] * 8 + [MessageState.EXPIRED] * 4 + [
    MessageState.REJECTED] * 3 + [MessageState.ACCEPTED] * 2 + [
    MessageState.ENROUTE, MessageState.DELETED, MessageState.UNKNOWN]

Item = tuple[bytes, dict[int, bytes] | None, int]


def _id(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return str(rng.randrange(10**9, 10**10))
    if kind < 0.65:
        return f"{rng.getrandbits(40):010x}"
    if kind < 0.80:
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if kind < 0.95:
        return str(rng.randrange(10**19, 10**20)).zfill(30)
    return f"{rng.getrandbits(256):064X}"


def _item(rng: random.Random, start: datetime) -> Item:
    state = rng.choice(_STATES)
    rid = _id(rng)
    submitted = start + timedelta(seconds=rng.randrange(86_400))
    done = submitted + timedelta(seconds=rng.randrange(1, 600))
    text = rng.choice(["", "", "Your code is 4711", "none", "Hello from the shop"])
    err = "000" if state is MessageState.DELIVERED else rng.choice(["001", "075", "0B", "A3"])
    message = format_receipt(id=rid, state=state, submit_date=submitted, done_date=done,
                             err=err, text=text, seconds=rng.random() < 0.5)
    shape = rng.random()
    if shape < 0.88:  # canonical, as most SMSCs send it
        return message.encode("latin-1"), None, 0x04
    if shape < 0.90:  # NUL-terminated
        return message.encode("latin-1") + b"\x00", None, 0x04
    if shape < 0.93:  # odd shapes: key case, spacing, extra fields
        odd = message.replace("id:", "ID:", 1).replace(" sub:", "  sub:", 1)
        odd = odd.replace(" err:", " mccmnc:26201 err:", 1).replace(" text:", " Text:", 1)
        return odd.encode("latin-1"), None, 0x04
    if shape < 0.97:  # TLVs alongside the text (TLVs win)
        tlvs = {0x001E: rid.encode() + b"\x00", 0x0427: bytes([int(state)]),
                0x0423: b"\x03\x00\x01"}
        return message.encode("latin-1"), tlvs, 0x04
    if shape < 0.99:  # intermediate notifications
        return message.encode("latin-1"), None, 0x20
    # data_sm style: TLVs only
    return b"", {0x001E: rid.encode() + b"\x00", 0x0427: bytes([int(state)])}, 0x04


def corpus(size: int, unique: int = 200_000) -> list[Item]:
    """``size`` receipts, ``unique`` of them distinct (repeated to save memory)."""
    rng = random.Random(SEED)
    start = datetime(2025, 11, 21)
    distinct = [_item(rng, start) for _ in range(min(size, unique))]
    return [distinct[i % len(distinct)] for i in range(size)]


def run(quick: bool) -> dict[str, object]:
    size = 100_000 if quick else 1_000_000
    repeats = 3 if quick else 5
    items = corpus(size)
    table = StatusTable({"ACCEPTED": "sent"})  # a carrier's table, built once

    def parse_and_status() -> None:
        for message, tlvs, esm in items:
            status_for(parse_receipt(message, tlvs, esm).state, table)

    canonical = [item for item in items[: size // 5] if item[1] is None and item[2] == 0x04]
    canonical_only = [m for m, _, _ in canonical if m.startswith(b"id:") and not m.endswith(b"\x00")]

    def canonical_parse() -> None:
        for message in canonical_only:
            parse_receipt(message)

    ids = [parse_receipt(m, t, e).id for m, t, e in items[: size // 5]]

    def keys() -> None:
        for rid in ids:
            id_key(rid, IdForm.NORMALIZED)

    figures: list[Rate] = [
        measure("parse_receipt + status_for (mixed corpus)", parse_and_status, len(items),
                repeats=repeats, unit="receipts/s"),
        measure("parse_receipt (canonical text only)", canonical_parse, len(canonical_only),
                repeats=repeats, unit="receipts/s"),
        measure("id_key normalized", keys, len(ids), repeats=repeats, unit="ids/s"),
    ]
    return {
        "figures": [f.as_dict() for f in figures],
        "ratios": {},
        "targets": {
            "parse + status receipts/s": target(TARGET_PER_S, figures[0].median),
        },
    }
