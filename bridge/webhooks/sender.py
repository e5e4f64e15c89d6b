"""The webhook sender: outbox rows -> signed POSTs -> delivered / retried / dead.

One trio task tree, inside the daemon or alone (`smpp-bridge webhooks run`):

    claimer   claims due rows (bridge/webhooks/outbox.py) while fewer than
              ``max_in_flight`` are in hand, and hands each to its endpoint
    endpoint  one per origin (scheme, host, port): a bounded queue, at most
              ``endpoint_concurrency`` connections at once (each with up to
              ``pipeline_depth`` requests pipelined while the endpoint answers
              2xx), a circuit breaker.
              A slow, hanging or dead endpoint fills only its own queue and
              slots; rows beyond its queue go back to the table unattempted
    flusher   writes outcomes and releases in batches (one round trip each)
    pruner    deletes delivered and dead rows older than ``retention``

The SMPP pipeline never waits for any of this: it only inserts outbox rows,
and the sender has its own small connection pool.

Times: the schedule in the table is wall-clock time from ``clock`` (injectable
for tests); leases and the breaker use trio's clock.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
import trio
import trio.lowlevel

from bridge.store.db import Database
from bridge.webhooks import outbox
from bridge.webhooks.breaker import Breaker
from bridge.webhooks.client import HttpClient, Origin, UrlError, parse_url
from bridge.webhooks.outbox import Claimed, Outcome
from bridge.webhooks.policy import POLICIES, DeliveryPolicy, Signer
from bridge.webhooks.sealing import MasterKey, SealError
from bridge.webhooks.settings import SenderSettings, SenderStats

__all__ = ["Sender", "SenderSettings", "SenderStats"]

log = structlog.get_logger("bridge.webhooks")

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Job:
    row: Claimed
    policy: DeliveryPolicy
    origin: Origin
    target: str
    signer: Signer
    leased_until: float  # trio time


@dataclass(slots=True)
class _Endpoint:
    origin: Origin
    breaker: Breaker
    queue: deque[_Job] = field(default_factory=deque)
    workers: int = 0
    healthy: bool = False  # its last answer was a success: requests to it are pipelined
    accounts: set[int] = field(default_factory=set)  # whose rows came here (bounded by the accounts)


class Sender:
    def __init__(
        self,
        db: Database,
        client: HttpClient,
        *,
        master_key: MasterKey | None,
        policies: Mapping[str, DeliveryPolicy] = POLICIES,
        settings: SenderSettings | None = None,
        clock: Clock = wall_clock,
        sender_id: int | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.master_key = master_key
        self.policies = dict(policies)
        self.settings = settings or SenderSettings()
        self.clock = clock
        self.sender_id = sender_id if sender_id is not None else random.getrandbits(62) + 1
        self.stats = SenderStats()
        self._endpoints: dict[Origin, _Endpoint] = {}
        self._in_flight = 0
        self._room = trio.Event()
        self._wake = trio.Event()  # an endpoint that was full has room again
        # An endpoint's queue is refilled (its accounts claimed again) at this length or less.
        self._refill_at = max(self.settings.endpoint_queue - self.settings.batch, self.settings.endpoint_queue // 4)
        self._outcomes: list[Outcome] = []
        self._releases: dict[datetime, list[int]] = {}
        self._dirty = trio.Event()
        # Opened secrets, keyed by the sealed bytes: a rotated secret is a new key.
        self._secrets: dict[tuple[int, bytes], Signer] = {}
        self._urls: dict[str, tuple[Origin, str]] = {}
        self._warned: dict[int, float] = {}
        self._nursery: trio.Nursery | None = None
        self._sending: set[int] = set()  # rows whose request is under way

    # --- the task tree ------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        log.info("webhook sender started", sender_id=self.sender_id)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._flusher)
                nursery.start_soon(self._pruner)
                nursery.start_soon(self._claimer)
                task_status.started()
        finally:
            try:
                with trio.move_on_after(5, shield=True):
                    await self._give_back()
            finally:
                await self.client.aclose()

    async def _claimer(self) -> None:
        s = self.settings
        while True:
            room = s.max_in_flight - self._in_flight
            if room <= 0:
                self._room = trio.Event()
                await self._room.wait()
                continue
            limit = min(s.batch, room)
            # Accounts whose endpoint has a full queue are left in the table, not claimed
            # and given back over and over; a worker wakes the claimer when there is room.
            # (an endpoint counts as full when another batch might not fit in its queue)
            busy = [e for e in self._endpoints.values() if len(e.queue) > self._refill_at]
            full = [a for e in busy for a in e.accounts]
            try:
                rows = await outbox.claim(
                    self.db, now=self.clock(), limit=limit, lease=s.lease, sender_id=self.sender_id,
                    skip_accounts=full,
                )
            except Exception as exc:  # the database is away: wait, try again
                log.warning("webhook claim failed", error=repr(exc))
                await trio.sleep(max(1.0, s.poll_interval))
                continue
            self.stats.claimed += len(rows)
            leased_until = trio.current_time() + s.lease
            for row in rows:
                self._dispatch(row, leased_until)
            if len(rows) < limit:
                self._wake = trio.Event()
                if any(len(e.queue) <= self._refill_at for e in busy):
                    continue  # drained while we claimed: its rows are waiting in the table
                # Rows are coming in (some were due): look again soon, not after a whole
                # poll interval, or the endpoints' slots run dry meanwhile.
                with trio.move_on_after(s.busy_poll if rows else s.poll_interval):
                    await self._wake.wait()
            else:
                await trio.lowlevel.checkpoint()

    def _dispatch(self, row: Claimed, leased_until: float) -> None:
        now = self.clock()
        policy = self.policies.get(row.event)
        if policy is None:
            self._finish(Outcome(row.id, "dead", row.attempt - 1, None, f"no policy for event {row.event!r}", None, now))
            return
        if row.endpoint_id is None or row.url is None:
            self._finish(Outcome(row.id, "dead", row.attempt - 1, None, "no webhook URL for the key or the account", None, now))
            return
        parsed = self._urls.get(row.url)
        if parsed is None:
            try:
                parsed = parse_url(row.url)
            except UrlError as exc:
                self._finish(Outcome(row.id, "dead", row.attempt - 1, None, f"bad webhook URL: {exc}", None, now))
                return
            if len(self._urls) >= 10_000:
                self._urls.clear()
            self._urls[row.url] = parsed
        origin, target = parsed
        signer = self._signer(row)
        if signer is None:
            self._release(row.id, now + timedelta(seconds=self.settings.no_secret_delay))
            return
        endpoint = self._endpoints.get(origin)
        if endpoint is None:
            s = self.settings
            breaker = Breaker(threshold=s.breaker_threshold, pause=s.breaker_pause, max_pause=s.breaker_max_pause)
            endpoint = self._endpoints[origin] = _Endpoint(origin, breaker)
        if len(endpoint.queue) >= self.settings.endpoint_queue:
            self._release(row.id, now + timedelta(seconds=self.settings.busy_delay))
            return
        self._in_flight += 1
        endpoint.accounts.add(row.account_id)
        endpoint.queue.append(_Job(row, policy, origin, target, signer, leased_until))
        if endpoint.workers < self.settings.endpoint_concurrency:
            endpoint.workers += 1
            assert self._nursery is not None
            self._nursery.start_soon(self._worker, endpoint)

    def _signer(self, row: Claimed) -> Signer | None:
        assert row.endpoint_id is not None
        if row.secret_sealed is None or self.master_key is None:
            self._warn_once(row.endpoint_id, "webhook endpoint has no secret (or no master key is configured):"
                            " run `smpp-bridge webhooks rotate-secret`; its deliveries wait")  # fmt: skip
            return None
        key = (row.endpoint_id, bytes(row.secret_sealed))
        signer = self._secrets.get(key)
        if signer is None:
            try:
                signer = Signer(self.master_key.open(row.endpoint_id, key[1], row.secret_key_id))
            except SealError as exc:
                self._warn_once(row.endpoint_id, str(exc))
                return None
            if len(self._secrets) >= 10_000:
                self._secrets.clear()
            self._secrets[key] = signer
        return signer

    def _warn_once(self, endpoint_id: int, text: str) -> None:
        now = trio.current_time()
        if now - self._warned.get(endpoint_id, -1e9) >= 60.0:
            self._warned[endpoint_id] = now
            log.warning(text, endpoint_id=endpoint_id)

    async def _worker(self, endpoint: _Endpoint) -> None:
        s = self.settings
        try:
            while endpoint.queue:
                # Pipelining only to an endpoint whose last answer was a success: a new one,
                # or one that fails, gets one request per connection at a time (so no more
                # go to a failing endpoint before the breaker parks it; the probe goes alone).
                depth = s.pipeline_depth if endpoint.healthy else 1
                policy = endpoint.queue[0].policy
                jobs: list[_Job] = []
                while endpoint.queue and len(jobs) < depth and endpoint.queue[0].policy is policy:
                    if len(endpoint.queue) == self._refill_at:
                        self._wake.set()
                    jobs.append(endpoint.queue.popleft())
                try:
                    await self._attempt(endpoint, jobs)
                finally:
                    self._in_flight -= len(jobs)
                    self._room.set()
        finally:
            endpoint.workers -= 1
            if endpoint.workers == 0 and not endpoint.queue and endpoint.breaker.idle:
                self._endpoints.pop(endpoint.origin, None)

    async def _attempt(self, endpoint: _Endpoint, jobs: list[_Job]) -> None:
        """One attempt of each job (all of one policy), pipelined on one connection."""
        policy = jobs[0].policy
        now_t = trio.current_time()
        going: list[_Job] = []
        requests: list[tuple[str, bytes, bytes]] = []
        for job in jobs:
            row = job.row
            if now_t + policy.timeout + 5.0 > job.leased_until:
                # Waited so long in the queue that the lease could end mid-request:
                # give it back unattempted rather than risk another sender sending it too.
                self._release(row.id, self.clock())
                continue
            if not endpoint.breaker.allow(now_t):
                self.stats.parked += 1
                self._failed(job, None, "endpoint parked (circuit open after repeated failures)", retry=True)
                continue
            headers, body = policy.request(
                delivery_id=f"dlv_{row.id}", secret=job.signer, payload=row.payload, attempt=row.attempt
            )
            going.append(job)
            requests.append((job.target, headers, body))
            self._sending.add(row.id)
        if not going:
            return
        try:
            answers = await self.client.post_many(
                jobs[0].origin, requests, timeout=policy.timeout, max_body=policy.max_response_body
            )
        finally:
            self._sending.difference_update(job.row.id for job in going)
        now = self.clock()
        for job, answer in zip(going, answers, strict=True):
            row = job.row
            if answer.status is not None and policy.delivered(answer.status):
                endpoint.breaker.success()
                endpoint.healthy = True
                self.stats.delivered += 1
                self._finish(Outcome(row.id, "delivered", row.attempt, None, None, answer.status, now))
                continue
            # A refused destination counts too: a probe must always end the probe.
            endpoint.breaker.failure(trio.current_time())
            endpoint.healthy = False
            if answer.refused:
                self._failed(job, None, f"refused: {answer.error}", retry=True)
            elif answer.status is not None:
                self._failed(job, answer.status, f"HTTP {answer.status}", retry=policy.retry(answer.status))
            else:
                self._failed(job, None, answer.error, retry=True)

    def _failed(self, job: _Job, status: int | None, error: str | None, *, retry: bool) -> None:
        row = job.row
        now = self.clock()
        delay = job.policy.next_delay(row.attempt) if retry else None
        self.stats.failed += 1
        if delay is None:
            self.stats.dead += 1
            self._finish(Outcome(row.id, "dead", row.attempt, None, error, status, now))
        else:
            self._finish(Outcome(row.id, "pending", row.attempt, now + timedelta(seconds=delay), error, status, now))

    # --- writing back -------------------------------------------------------------------

    def _finish(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._dirty.set()

    def _release(self, row_id: int, at: datetime) -> None:
        self.stats.released += 1
        self._releases.setdefault(at, []).append(row_id)
        self._dirty.set()

    async def _flusher(self) -> None:
        s = self.settings
        while True:
            await self._dirty.wait()
            if len(self._outcomes) < s.flush_batch:
                await trio.sleep(s.flush_delay)
            self._dirty = trio.Event()
            try:
                await self._flush()
            except Exception as exc:
                log.warning("webhook outcomes not written yet", error=repr(exc))
                self._dirty.set()
                await trio.sleep(1.0)

    async def _flush(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        releases, self._releases = self._releases, {}
        try:
            if outcomes:
                await outbox.record(self.db, outcomes, sender_id=self.sender_id)
            for at, ids in releases.items():
                await outbox.release(self.db, ids, at=at, sender_id=self.sender_id)
        except BaseException:
            # Not written: keep them for the next flush (the rows stay leased meanwhile).
            self._outcomes[:0] = outcomes
            for at, ids in releases.items():
                self._releases.setdefault(at, [])[:0] = ids
            raise

    async def _give_back(self) -> None:
        """On the way out: write what is known, hand back the rows not attempted."""
        now = self.clock()
        for endpoint in self._endpoints.values():
            while endpoint.queue:
                self._release(endpoint.queue.popleft().row.id, now)
        # Requests cut short: the receiver may have the attempt already; it goes
        # again with the same delivery id (the one attempt that can repeat).
        for row_id in self._sending:
            self._release(row_id, now)
        await self._flush()

    async def _pruner(self) -> None:
        s = self.settings
        while True:
            await trio.sleep(s.prune_interval)
            try:
                while True:
                    before = self.clock() - timedelta(seconds=s.retention)
                    count = await outbox.prune(self.db, before=before)
                    self.stats.pruned += count
                    if count < 5000:
                        break
            except Exception as exc:
                log.warning("webhook pruning failed", error=repr(exc))
