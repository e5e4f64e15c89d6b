"""Identifiers of seed 004: UUIDv7 ids ("019d..."), test codes, ``sp_`` keys (pure)."""

from __future__ import annotations

import re
import secrets
import time
from uuid import UUID

__all__ = ["KEY_PATTERN", "new_key", "parse_key", "test_code", "uuid7"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, as the SMS keys
_KEY_CHARS = 40  # seed 004: sp_ + 40 characters (200 random bits)
_PREFIX_CHARS = 8  # api_keys.prefix
KEY_PATTERN = re.compile(r"sp_([0-9a-hjkmnp-tv-z]{40})")


def uuid7(unix_ms: int | None = None) -> UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version, 74 random bits (time-ordered)."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    value = (ms & (1 << 48) - 1) << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62 | secrets.randbits(62)
    return UUID(int=value)


def test_code() -> str:
    """Eight upper-case hex characters, as the seed's ``A1B2C3D4``."""
    return secrets.token_hex(4).upper()


def new_key() -> tuple[str, str]:
    """A fresh ``sp_`` key and its prefix (the row's ``prefix``)."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_KEY_CHARS))
    return f"sp_{random_part}", random_part[:_PREFIX_CHARS]


def parse_key(token: str) -> tuple[str, str] | None:
    """("preflight", prefix) of a well-formed ``sp_`` key, else None."""
    match = KEY_PATTERN.fullmatch(token)
    return None if match is None else ("preflight", match.group(1)[:_PREFIX_CHARS])
