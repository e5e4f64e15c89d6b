"""Message ids in the shapes real SMSCs hand out (submit_sm_resp, SMPP 3.4 section 4.4.2).

The message_id is a C-octet string of up to 65 octets (64 characters): carriers use
decimal counters, hex counters, UUIDs and 64-character hex digests, and receipts
quote them back (sometimes in another base: dlr.ids handles that on our side).

Every generator here yields unique ids for the life of the simulator: decimal and
hex are counters started at a random offset (so two runs rarely collide), uuid and
hex64 draw 122 and 256 random bits. With a seed the sequence is reproducible.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from bridge.simulator.config import IdFormat

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
    raise ValueError(f"unknown message id format {form!r}")
