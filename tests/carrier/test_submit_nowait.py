"""Carrier.submit_nowait: submit without a task per PDU (docs/carrier.md), on the fake SMSC."""

from __future__ import annotations

from collections.abc import Callable

import trio
import trio.testing

from bridge.carrier import Accepted, Rejected, SubmitOutcome, Unknown, UnknownReason
from bridge.smpp.constants import CommandStatus
from bridge.smpp.pdus import SubmitSm
from config.schema import Duration
from tests.carrier.fakes import FakeSmsc, hold
from tests.carrier.test_carrier_memory import config, part, running

Clock = trio.testing.MockClock


class Outcomes:
    """The ``done`` callback of submit_nowait, checking that it comes exactly once per part."""

    def __init__(self) -> None:
        self.by_part: dict[int, SubmitOutcome | None] = {}
        self.arrived = trio.Event()

    def done_for(self, n: int) -> Callable[[SubmitOutcome | None], None]:
        def done(outcome: SubmitOutcome | None) -> None:
            assert n not in self.by_part, f"part {n} answered twice"
            self.by_part[n] = outcome
            self.arrived.set()
            self.arrived = trio.Event()

        return done

    async def wait_for(self, count: int) -> None:
        while len(self.by_part) < count:
            await self.arrived.wait()


async def test_accepted_through_the_callback_and_false_when_the_window_is_full(autojump_clock: Clock) -> None:
    async with running(config(window=2, binds=1), make=lambda s: FakeSmsc(s, on_submit=hold)) as (carrier, net, _):
        outcomes = Outcomes()
        assert carrier.submit_nowait(part(0), outcomes.done_for(0))
        assert carrier.submit_nowait(part(1), outcomes.done_for(1))
        assert not carrier.submit_nowait(part(2), outcomes.done_for(2))  # no window place: nothing written
        await trio.testing.wait_all_tasks_blocked()
        smsc = net.smscs[0]
        assert len(smsc.submits) == 2 and outcomes.by_part == {}
        await smsc.answer_held(0)
        await outcomes.wait_for(2)
        assert all(isinstance(o, Accepted) and o.attempts == 1 for o in outcomes.by_part.values())
        assert 2 not in outcomes.by_part
        assert carrier.submit_nowait(part(2), outcomes.done_for(2))  # the places are free again


async def test_a_retryable_error_goes_on_in_a_task_until_accepted(autojump_clock: Clock) -> None:
    answers = iter([CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RTHROTTLED, 0])

    def on_submit(_: FakeSmsc, __: SubmitSm) -> int:
        return next(answers)

    async with running(config(), make=lambda s: FakeSmsc(s, on_submit=on_submit)) as (carrier, net, _):
        outcomes = Outcomes()
        assert carrier.submit_nowait(part(0), outcomes.done_for(0))
        await outcomes.wait_for(1)
        result = outcomes.by_part[0]
        assert isinstance(result, Accepted) and result.attempts == 3
        assert len(net.smscs[0].submits) == 3


async def test_a_throttled_first_answer_is_not_counted_on_the_task_either(autojump_clock: Clock) -> None:
    # max_attempts 2: 0x14, 0x58, 0x14 are not counted, 0x08 is the first counted
    # answer; the part is accepted at the fifth submit.
    answers = iter([CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL,
                    CommandStatus.ESME_RSYSERR, 0])  # fmt: skip

    def on_submit(_: FakeSmsc, __: SubmitSm) -> int:
        return next(answers)

    async with running(config(max_attempts=2), make=lambda s: FakeSmsc(s, on_submit=on_submit)) as (carrier, _, __):
        outcomes = Outcomes()
        assert carrier.submit_nowait(part(0), outcomes.done_for(0))
        await outcomes.wait_for(1)
        result = outcomes.by_part[0]
        assert isinstance(result, Accepted) and result.attempts == 5


async def test_a_permanent_error_and_a_timeout_and_a_lost_bind(autojump_clock: Clock) -> None:
    def on_submit(_: FakeSmsc, pdu: SubmitSm) -> int | None:
        if pdu.short_message == b"body 0":
            return CommandStatus.ESME_RINVDSTADR
        return None  # held: times out, or is outstanding when the bind goes

    cfg = config(response_timeout=Duration(2))
    async with running(cfg, make=lambda s: FakeSmsc(s, on_submit=on_submit)) as (carrier, net, _):
        outcomes = Outcomes()
        assert carrier.submit_nowait(part(0), outcomes.done_for(0))
        assert carrier.submit_nowait(part(1), outcomes.done_for(1))
        await outcomes.wait_for(2)  # part 1 after the 2 s response timeout
        rejected, timed_out = outcomes.by_part[0], outcomes.by_part[1]
        assert isinstance(rejected, Rejected) and rejected.status == CommandStatus.ESME_RINVDSTADR
        assert isinstance(timed_out, Unknown) and timed_out.reason is UnknownReason.TIMEOUT
        assert carrier.submit_nowait(part(2), outcomes.done_for(2))
        await trio.testing.wait_all_tasks_blocked()
        await net.smscs[0].hang_up()
        await outcomes.wait_for(3)
        lost = outcomes.by_part[2]
        assert isinstance(lost, Unknown) and lost.reason is UnknownReason.DISCONNECTED


async def test_a_stop_during_the_retry_backoff_hands_the_part_back(autojump_clock: Clock) -> None:
    def on_submit(_: FakeSmsc, __: SubmitSm) -> int:
        return CommandStatus.ESME_RMSGQFUL  # retryable, forever

    async with running(config(), make=lambda s: FakeSmsc(s, on_submit=on_submit)) as (carrier, _, __):
        outcomes = Outcomes()
        assert carrier.submit_nowait(part(0), outcomes.done_for(0))
        await trio.testing.wait_all_tasks_blocked()
        await carrier.stop(5.0)
        await outcomes.wait_for(1)
        assert outcomes.by_part[0] is None  # not written again: the caller requeues it
        assert not carrier.submit_nowait(part(1), outcomes.done_for(1))  # stopped


async def test_response_metrics_count_ok_and_refused_answers_alike(autojump_clock: Clock) -> None:
    """A bind's reader counts a submit_sm_resp OK inline and any other answer through
    CarrierMetrics.on_response: both land in the same histogram and status counts."""

    def on_submit(_: FakeSmsc, pdu: SubmitSm) -> int:
        return CommandStatus.ESME_RINVDSTADR if pdu.short_message == b"body 0" else 0

    async with running(config(), make=lambda s: FakeSmsc(s, on_submit=on_submit)) as (carrier, _, __):
        outcomes = Outcomes()
        for n in range(4):
            assert carrier.submit_nowait(part(n), outcomes.done_for(n))
        await outcomes.wait_for(4)
        metrics = carrier.metrics
        assert metrics.resp.count == 4 and metrics.resp.sum >= 0
        assert metrics.submit_ok == 3
        assert metrics.all_statuses() == {(0x04, 0): 3, (0x04, int(CommandStatus.ESME_RINVDSTADR)): 1}
