"""Seeded chaos against the pool (memory streams, autojump clock): an SMSC that
answers OK, throttles, is full, refuses for good, answers late, or hangs up,
at random. Whatever happens, the accounting must hold (nothing
lost, nothing submitted twice without being reported)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
import trio
import trio.testing

from bridge.carrier import (
    Accepted,
    BackoffPolicy,
    Carrier,
    Inbound,
    Rejected,
    RetryPolicy,
    SubmitOutcome,
    Unknown,
)
from bridge.smpp.constants import CommandStatus
from bridge.smpp.pdus import SubmitSm
from config.schema import Duration
from tests.carrier.fakes import FakeNetwork, FakeSmsc
from tests.carrier.test_carrier_memory import config

WINDOW = 4
PARTS = 120


class ChaosSmsc(FakeSmsc):
    """Decides per submit; records every answer it writes, by body."""

    rng: random.Random
    ok_by_body: Counter[bytes]
    ids_by_body: dict[bytes, list[str]]
    received_by_body: Counter[bytes]
    timeout: float
    pending: dict[int, float]  # sequence_number -> received at

    async def serve(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await super().serve()
            nursery.cancel_scope.cancel()

    def on_request(self, pdu: object) -> None:
        if not isinstance(pdu, SubmitSm):
            super().on_request(pdu)  # type: ignore[arg-type]
            return
        self.received_by_body[pdu.short_message] += 1
        # Outstanding as the ESME sees it: unanswered and not yet timed out there
        # (after its ResponseTimeout the ESME may use the window place again).
        now = trio.current_time()
        self.pending[pdu.sequence_number] = now
        live = sum(1 for t in self.pending.values() if t > now - self.timeout + 1e-9)
        self.outstanding_max = max(self.outstanding_max, live)
        roll = self.rng.random()
        if roll < 0.55:
            self._answer(pdu, 0)
        elif roll < 0.65:
            self._answer(pdu, CommandStatus.ESME_RTHROTTLED)
        elif roll < 0.75:
            self._answer(pdu, CommandStatus.ESME_RMSGQFUL)
        elif roll < 0.80:
            self._answer(pdu, CommandStatus.ESME_RINVDSTADR)
        elif roll < 0.97:  # answer later, sometimes after the response timeout
            self._nursery.start_soon(self._later, pdu, self.rng.uniform(0.1, 8.0))
        else:
            self._nursery.start_soon(self.hang_up)

    def _answer(self, pdu: SubmitSm, status: int) -> None:
        if self.closed:
            return
        self.pending.pop(pdu.sequence_number, None)
        self.answer(pdu, status)
        if status == 0:
            self.ok_by_body[pdu.short_message] += 1
            self.ids_by_body[pdu.short_message].append(f"id{self.ids}")

    async def _later(self, pdu: SubmitSm, delay: float) -> None:
        await trio.sleep(delay)
        self._answer(pdu, 0)
        await self.flush()


@pytest.mark.parametrize("mode", ["submit", "submit_nowait"])
@pytest.mark.parametrize("seed", range(12))
async def test_accounting_holds_under_chaos(autojump_clock: trio.testing.MockClock,
                                           seed: int, mode: str) -> None:
    """``submit_nowait`` (the daemon's path, falling back to ``submit`` when it must
    wait) is held to the same accounting as ``submit``."""
    rng = random.Random(seed)
    ok_by_body: Counter[bytes] = Counter()
    received_by_body: Counter[bytes] = Counter()
    ids_by_body: dict[bytes, list[str]] = defaultdict(list)
    smscs: list[ChaosSmsc] = []
    serial = iter(range(1_000_000))

    def make(stream: trio.abc.Stream) -> FakeSmsc:
        smsc = ChaosSmsc(stream)
        smsc.rng, smsc.ok_by_body, smsc.received_by_body = rng, ok_by_body, received_by_body
        smsc.ids_by_body = ids_by_body
        smsc.pending, smsc.timeout = {}, 5.0
        smsc.ids = 1000 * next(serial)  # ids unique across connections
        smscs.append(smsc)
        return smsc

    cfg = config(window=WINDOW, binds=2, response_timeout=Duration(5), max_attempts=4)
    send, _ = trio.open_memory_channel[Inbound](10)
    outcomes: dict[bytes, SubmitOutcome] = {}
    nowait_count = [0]
    async with trio.open_nursery() as nursery:
        net = FakeNetwork(nursery, make=make)
        carrier = Carrier(cfg, password="p", inbound=send, connect=net.connect,
                          rng=random.Random(seed),
                          policy=replace(RetryPolicy.from_config(cfg),
                                         backoff=BackoffPolicy(base=0.2, cap=2.0)))
        await nursery.start(carrier.run)
        todo = iter(range(PARTS))

        async def worker() -> None:
            for n in todo:
                body = b"part %d" % n
                pdu = SubmitSm(destination_addr="4479", short_message=body)
                if mode == "submit_nowait":
                    answered = trio.Event()

                    def done(result: SubmitOutcome | None, body: bytes = body, answered: trio.Event = answered) -> None:
                        assert result is not None  # None only when the carrier stops
                        assert body not in outcomes  # exactly once
                        outcomes[body] = result
                        answered.set()

                    if carrier.submit_nowait(pdu, done):
                        nowait_count[0] += 1
                        await answered.wait()
                        continue
                outcomes[body] = await carrier.submit(pdu)

        async with trio.open_nursery() as workers:
            for _ in range(3 * WINDOW):
                workers.start_soon(worker)
        await trio.sleep(10)  # let the late answers land
        nursery.cancel_scope.cancel()

    assert len(outcomes) == PARTS  # every part has exactly one outcome
    assert (nowait_count[0] > 0) == (mode == "submit_nowait")  # the callback path was taken
    kinds = Counter(type(o).__name__ for o in outcomes.values())
    assert kinds["Accepted"] > PARTS // 3
    assert all(s.outstanding_max <= WINDOW for s in smscs)  # the window held
    for body, result in outcomes.items():
        # No part was taken twice: after an OK (or an unknown fate) it is never resent.
        assert ok_by_body[body] <= 1, body
        if isinstance(result, Accepted):
            assert ids_by_body[body] == [result.message_id]
            assert received_by_body[body] == result.attempts
        elif isinstance(result, Rejected):
            assert ok_by_body[body] == 0
            assert received_by_body[body] == result.attempts
        else:
            assert isinstance(result, Unknown)
            # the last write may or may not have reached the SMSC
            assert result.attempts - 1 <= received_by_body[body] <= result.attempts
