"""Who is calling: the Bearer key, checked against a short-lived cache of key rows.

- ``Authorization: Bearer psk_live_...`` (seed 000). No header:
  ``missing_api_key``; anything else that does not match a live key:
  ``invalid_api_key``.
- The row of a key prefix is cached for ``[api] key_cache_ttl`` (0.5 s by
  default) and re-read after that, so a key revoked on any process, or by
  `smpp-bridge keys revoke`, is refused by every API process within that time;
  a NOTIFY from the revoking transaction (migration trigger) drops the entry at
  once on processes that are listening. One read per prefix at a time: the
  requests that find the entry stale while it is being read wait for that read
  (else every connection busy with that key read the row again at each
  expiry); a NOTIFY meanwhile leaves that read's row out of the cache and the
  next request reads again. The digest is compared with
  ``hmac.compare_digest`` on every request, cached or not.
- Failed authentications are limited per client address: a token bucket of
  ``auth_failures_per_minute`` (burst and refill per minute). An address out of
  tokens gets ``rate_limit_exceeded`` with ``Retry-After`` before its key is
  even looked at. Per process: N processes allow N times the rate, which
  still turns a guess of 160 random bits into nothing.
- ``last_used_at`` is written at most once per ``touch_interval`` per process
  for all keys used meanwhile, in one statement (``flush_last_used``).
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Callable

from bridge.api.errors import ApiError
from bridge.store.executor import Executor
from bridge.store.keys import KeyRecord, digest, lookup_key, parse_key, touch_keys

__all__ = ["FailureLimiter", "KeyCache"]


class KeyCache:
    __slots__ = ("_clock", "_db", "_entries", "_reading", "_used", "ttl")

    def __init__(self, db: Executor, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[KeyRecord | None, float]] = {}
        self._reading: dict[str, asyncio.Task[KeyRecord | None]] = {}
        self._used: set[int] = set()

    async def authenticate(
        self, header: str | None, *, parse: Callable[[str], tuple[str, str] | None] = parse_key
    ) -> KeyRecord:
        """The live key of ``header``; ``parse``: the product's key format (the SMS API's
        ``psk_`` keys by default, bridge.preflight.ids.parse_key for ``sp_`` keys)."""
        if not header:
            raise ApiError("missing_api_key", "No Authorization header was sent.")
        scheme, _, token = header.partition(" ")
        parsed = parse(token.strip()) if scheme.lower() == "bearer" else None
        record = None
        if parsed is not None:
            product, prefix = parsed
            record = await self._record(prefix)
            if record is not None and (
                record.revoked
                or record.product != product
                or not hmac.compare_digest(record.hash, digest(token.strip()))
            ):
                record = None
        if record is None:
            raise ApiError("invalid_api_key", "The key is not recognised or has been revoked.")
        self._used.add(record.id)
        return record

    async def _record(self, prefix: str) -> KeyRecord | None:
        now = self._clock()
        cached = self._entries.get(prefix)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        reading = self._reading.get(prefix)
        if reading is None:
            reading = self._reading[prefix] = asyncio.ensure_future(self._read(prefix, now))
            reading.add_done_callback(_retrieve)
        # shield: a waiter cancelled (its client gone) does not cancel the others' read
        return await asyncio.shield(reading)

    async def _read(self, prefix: str, now: float) -> KeyRecord | None:
        mine = asyncio.current_task()
        try:
            record = await lookup_key(self._db, prefix)
        except BaseException:
            if self._reading.get(prefix) is mine:
                del self._reading[prefix]
            raise
        if self._reading.get(prefix) is mine:  # else forgotten meanwhile: do not keep it
            del self._reading[prefix]
            if len(self._entries) > 100_000:
                self._entries.clear()  # a flood of unknown prefixes: start over
            self._entries[prefix] = (record, now)
        return record

    def forget(self, prefix: str) -> None:
        """A revocation NOTIFY: read this key again on its next use."""
        self._entries.pop(prefix, None)
        self._reading.pop(prefix, None)

    async def flush_last_used(self) -> None:
        used, self._used = self._used, set()
        await touch_keys(self._db, list(used))


def _retrieve(task: asyncio.Task[KeyRecord | None]) -> None:
    """A read whose every waiter was cancelled: its error is not logged as never retrieved."""
    if not task.cancelled():
        task.exception()


class FailureLimiter:
    """Failed authentications per client address: a token bucket each."""

    __slots__ = ("_buckets", "_clock", "per_minute")

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)

    def _tokens(self, address: str, now: float) -> float:
        tokens, when = self._buckets.get(address, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - when) * self.per_minute / 60.0)

    def check(self, address: str) -> None:
        """Refuse an address that has used up its failures."""
        if address not in self._buckets:  # no failure yet: a full bucket (per_minute >= 1)
            return
        now = self._clock()
        tokens = self._tokens(address, now)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) * 60.0 / self.per_minute)
            raise ApiError(
                "rate_limit_exceeded", "Too many failed authentications from this address.",
                headers={"Retry-After": str(max(1, wait))},
            )  # fmt: skip

    def failed(self, address: str) -> None:
        now = self._clock()
        if len(self._buckets) > 100_000:
            # Keep memory bounded: drop the addresses that have refilled.
            self._buckets = {a: b for a, b in self._buckets.items() if self._tokens(a, now) < self.per_minute}
        self._buckets[address] = (self._tokens(address, now) - 1.0, now)
