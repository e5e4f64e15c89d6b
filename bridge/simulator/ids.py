"""Message ids in the shapes real SMSCs hand out (submit_sm_resp, SMPP 3.4 section 4.4.2).

The message_id is a C-octet string of up to 65 octets (64 characters): carriers use
decimal counters, hex counters, UUIDs and 64-character hex digests, and receipts
quote them back (sometimes in another base: dlr.ids handles that on our side).

Some SMSCs break the rule, and the daemon must survive them: ``hex70`` and ``hex255``
(longer than the spec's 64; ``oversized_resp`` writes their responses, which
bridge.smpp refuses to encode), ``empty`` (ESME_ROK without an id) and ``latin1``
(octets 0x80-0xFF, not UTF-8; the codec reads every octet as one Latin-1 character).

Every generator here yields unique ids for the life of the simulator: decimal and
hex are counters started at a random offset (so two runs rarely collide), uuid and
hex64 draw 122 and 256 random bits. With a seed the sequence is reproducible.
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable

from bridge.simulator.config import IdFormat
from bridge.smpp.constants import CommandId
from bridge.smpp.pdus import Pdu

IdGenerator = Callable[[], str]

# Ten decimal digits (below 2**32: some ESMEs store ids as unsigned 32-bit numbers)
# leave room for about two billion ids after the offset.
_DECIMAL_START_MAX = 2_000_000_000
# Eight hex digits (a common 32-bit hex id, e.g. "33E95179").
_HEX_START_MAX = 0x7FFFFFFF


def make_id_generator(form: IdFormat, rng: random.Random) -> IdGenerator:
    """A function returning a fresh unique id in ``form`` at each call."""
    if form == "decimal":
        counter = iter(range(rng.randrange(1_000_000_000, _DECIMAL_START_MAX), 1 << 62))
        return lambda: str(next(counter))
    if form == "hex":
        counter = iter(range(rng.randrange(0x10000000, _HEX_START_MAX), 1 << 62))
        return lambda: f"{next(counter):08X}"
    if form == "uuid":
        bits = rng.getrandbits
        return lambda: str(uuid.UUID(int=bits(128), version=4))
    if form == "hex64":
        bits = rng.getrandbits
        return lambda: f"{bits(256):064x}"
    if form in ("hex70", "hex255"):
        width = 70 if form == "hex70" else 255
        counter = iter(range(rng.randrange(0x10000000, _HEX_START_MAX), 1 << 62))
        return lambda: f"{next(counter):0{width}X}"
    if form == "empty":
        return lambda: ""
    if form == "latin1":
        counter = iter(range(rng.randrange(0x10000000, _HEX_START_MAX), 1 << 62))
        return lambda: f"\xe9\xff{next(counter):08X}\x80"
    raise ValueError(f"unknown message id format {form!r}")


# SMPP 3.4 section 4.4.2: message_id is at most 64 characters and its NUL.
SPEC_ID_LENGTH = 64
_HEADER = struct.Struct(">IIII")


def oversized_resp(resp: Pdu) -> bytes:
    """The frame of a *_resp whose message_id is longer than the spec allows (hex70,
    hex255): header (section 3.2), the id as a C-octet string, and for submit_multi_resp
    no_unsuccess = 0 (section 4.5.2)."""
    message_id: str = resp.message_id  # type: ignore[attr-defined]
    body = message_id.encode("latin-1") + b"\0"
    if resp.command_id == CommandId.SUBMIT_MULTI_RESP:
        body += b"\0"
    return _HEADER.pack(16 + len(body), resp.command_id, 0, resp.sequence_number) + body
