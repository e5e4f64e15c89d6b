"""Token bucket and AIMD (bridge/carrier/throttle.py) on trio's autojump clock."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from bridge.carrier.throttle import Throttle


async def test_rate_is_held_after_the_burst(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(100.0, burst=10)
    start = trio.current_time()
    for _ in range(210):
        await throttle.acquire()
    elapsed = trio.current_time() - start
    # 10 go at once, the other 200 at 100/s.
    assert elapsed == pytest.approx(2.0, abs=0.02)


async def test_burst_after_idle_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(10.0, burst=3)
    await trio.sleep(100)  # a long idle must not bank 1000 tokens
    start = trio.current_time()
    for _ in range(3):
        await throttle.acquire()
    assert trio.current_time() == start
    await throttle.acquire()
    assert trio.current_time() == pytest.approx(start + 0.1)


async def test_waiters_are_served_in_arrival_order(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(10.0, burst=1)
    order: list[int] = []

    async def take(i: int) -> None:
        await throttle.acquire()
        order.append(i)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(take, i)
            await trio.testing.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3, 4]
    assert trio.current_time() == pytest.approx(0.4)


async def test_cancelled_waiter_gives_its_slot_back(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(1.0, burst=1)
    await throttle.acquire()  # the burst token
    with trio.move_on_after(0.5):
        await throttle.acquire()  # due at t=1, cancelled at 0.5
    await throttle.acquire()
    assert trio.current_time() == pytest.approx(1.0)


async def test_throttled_halves_once_per_interval(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(200.0, decrease=0.5, decrease_interval=1.0)
    for _ in range(64):  # a whole window of 0x58 arriving together
        throttle.on_throttled()
    assert throttle.rate == 100.0
    assert throttle.throttled == 64 and throttle.decreases == 1
    await trio.sleep(1.0)
    throttle.on_throttled()
    assert throttle.rate == 50.0


async def test_rate_never_below_min(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(8.0, min_rate=2.0, decrease_interval=0.0)
    for _ in range(10):
        throttle.on_throttled()
    assert throttle.rate == 2.0


async def test_additive_increase_recovers_to_the_cap(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(100.0, increase=10.0)
    throttle.on_throttled()
    assert throttle.rate == 50.0
    for _ in range(9):  # successes every 0.5 s: +5/s per step after the first
        throttle.on_success()
        await trio.sleep(0.5)
    assert throttle.rate == pytest.approx(90.0)
    for _ in range(4):
        throttle.on_success()
        await trio.sleep(0.5)
    assert throttle.rate == 100.0  # capped at the configured tps


async def test_idle_gap_counts_at_most_one_second(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(100.0, increase=10.0)
    throttle.on_throttled()
    throttle.on_success()
    await trio.sleep(60)
    throttle.on_success()
    assert throttle.rate == pytest.approx(60.0)


async def test_decrease_pauses_new_slots(autojump_clock: trio.testing.MockClock) -> None:
    throttle = Throttle(10.0, burst=5)
    throttle.on_throttled()  # rate 5/s: the next slot is one new interval away
    start = trio.current_time()
    await throttle.acquire()
    assert trio.current_time() == pytest.approx(start + 0.2)


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Throttle(0)
    with pytest.raises(ValueError):
        Throttle(10, decrease=1.0)


async def test_a_slot_given_back_goes_to_the_next_caller(autojump_clock: trio.testing.MockClock) -> None:
    # A submit whose bind went away before the write (NotWritten) sent nothing:
    # pool.py gives its token back, so the retry on another bind does not wait.
    throttle = Throttle(1.0, burst=1)
    assert throttle.reserve(trio.current_time()) <= trio.current_time()
    throttle.give_back()
    await throttle.acquire()
    assert trio.current_time() == 0.0
    await throttle.acquire()
    assert trio.current_time() == pytest.approx(1.0)
