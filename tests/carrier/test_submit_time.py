"""An accepted outcome carries when its accepted submit_sm was written (Accepted.written_at):
the daemon stores it as the part's submitted_at (bridge/dispatch/apply.py)."""

from __future__ import annotations

import trio
import trio.testing

from bridge.carrier import Accepted, SubmitOutcome
from bridge.smpp.constants import CommandStatus
from bridge.smpp.pdus import SubmitSm
from tests.carrier.fakes import FakeSmsc
from tests.carrier.test_carrier_memory import config, part, running


async def test_submit_reports_the_write_of_the_attempt_that_was_accepted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[float] = []

    def throttle_first(_: FakeSmsc, pdu: SubmitSm) -> int:
        seen.append(trio.current_time())
        return CommandStatus.ESME_RTHROTTLED if len(seen) == 1 else 0

    with trio.fail_after(60):
        async with running(config(tps=100.0)) as (carrier, net, _):
            net.smscs[0].on_submit = throttle_first
            outcome = await carrier.submit(part(7))
            assert isinstance(outcome, Accepted) and outcome.attempts == 2
            assert len(seen) == 2 and seen[1] - seen[0] > 0.01  # the retry waited
            assert outcome.written_at is not None and abs(outcome.written_at - seen[1]) < 0.001


async def test_submit_nowait_reports_the_clock_reading_it_wrote_at(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with running(config()) as (carrier, _net, _):
            done = trio.Event()
            outcomes: list[SubmitOutcome | None] = []

            def finished(outcome: SubmitOutcome | None) -> None:
                outcomes.append(outcome)
                done.set()

            written = trio.current_time()
            assert carrier.submit_nowait(part(1), finished, written)
            await trio.sleep(1.0)  # the response is read a while after the write
            await done.wait()
            (outcome,) = outcomes
            assert isinstance(outcome, Accepted) and outcome.written_at == written
