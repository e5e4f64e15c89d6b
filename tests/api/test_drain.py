"""The drain's rule for a second batch in flight: only when what waits weighs enough."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from bridge.api.drain import Drain


@dataclass
class _Item:
    weight: int
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Recorder:
    """A handler that holds each batch in flight until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release: list[asyncio.Event] = []

    async def handle(self, batch: list[_Item]) -> None:
        self.batches.append([item.weight for item in batch])
        gate = asyncio.Event()
        self.release.append(gate)
        await gate.wait()
        for item in batch:
            item.done.set_result(None)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _run(overlap_from: int, waiting: list[int]) -> list[list[object]]:
    """One item in flight, then ``waiting`` put behind it; the batches, in order."""
    recorder = _Recorder()
    drain: Drain[_Item] = Drain(
        recorder.handle, workers=2, max_batch=64, max_queue=100, what="items",
        weight=lambda item: item.weight, overlap_from=overlap_from,
    )  # fmt: skip
    drain.start()
    first = _Item(1)
    drain.put(first)
    await _settle()
    items = [_Item(w) for w in waiting]
    for item in items:
        drain.put(item)
        await _settle()
    seen_in_flight: list[list[object]] = [list(b) for b in recorder.batches]
    while not all(i.done.done() for i in [first, *items]):
        for gate in recorder.release:
            gate.set()
        await _settle()
    await drain.stop()
    return [*seen_in_flight, ["after"], *(list(b) for b in recorder.batches[len(seen_in_flight) :])]


@pytest.mark.timeout(10)
def test_light_items_wait_for_the_batch_in_flight_and_go_together() -> None:
    batches = asyncio.run(_run(100, [1, 1, 1]))
    assert batches == [[1], ["after"], [1, 1, 1]]


@pytest.mark.timeout(10)
def test_items_weighing_enough_start_a_second_batch_at_once() -> None:
    batches = asyncio.run(_run(100, [1, 60, 40]))
    assert batches == [[1], [1, 60, 40], ["after"]]


@pytest.mark.timeout(10)
def test_by_default_any_item_starts_a_second_batch() -> None:
    batches = asyncio.run(_run(1, [1, 1]))
    assert batches == [[1], [1], ["after"], [1]]


@pytest.mark.timeout(10)
def test_a_failed_batch_fails_each_of_its_items_and_the_worker_goes_on() -> None:
    async def main() -> list[object]:
        calls = 0

        async def handle(batch: list[_Item]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("statement failed")
            for item in batch:
                item.done.set_result(None)

        drain: Drain[_Item] = Drain(handle, workers=2, max_batch=64, max_queue=10, what="items", overlap_from=100)
        items = [_Item(1), _Item(1)]
        for item in items:
            drain.put(item)
        drain.start()
        results = list(await asyncio.gather(*(i.done for i in items), return_exceptions=True))
        later = _Item(1)
        drain.put(later)
        results.append(await asyncio.wait_for(later.done, 5))
        await drain.stop()
        return results

    first, second, later = asyncio.run(main())
    assert isinstance(first, RuntimeError) and first is second
    assert later is None
