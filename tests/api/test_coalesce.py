"""The head-holding transport: one write per answer, nothing lost, nothing reordered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bridge.api.coalesce import _HeadHoldingTransport

HEAD = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n"


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


def _pair() -> tuple[_HeadHoldingTransport, _Recorder]:
    raw = _Recorder()
    return _HeadHoldingTransport(raw, asyncio.get_running_loop()), raw  # type: ignore[arg-type]


async def _case_head_and_body_in_one_write() -> None:
    t, raw = _pair()
    t.write(HEAD)
    assert raw.writes == []
    t.write(b"{}")
    assert raw.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing held
    assert raw.writes == [HEAD + b"{}"]


async def _case_a_head_alone_goes_out_on_the_next_turn() -> None:
    t, raw = _pair()
    t.write(HEAD)
    await asyncio.sleep(0)
    assert raw.writes == [HEAD]
    t.write(b"chunk")  # a streamed body later: after its head
    assert raw.writes == [HEAD, b"chunk"]


async def _case_close_writes_a_held_head_first() -> None:
    t, raw = _pair()
    t.write(HEAD)
    t.close()
    assert raw.writes == [HEAD] and raw.closed and t.is_closing()


async def _case_other_writes_pass_straight_through() -> None:
    t, raw = _pair()
    whole = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad"
    t.write(whole)  # uvicorn's own error answers: one piece already
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it before its body
    assert raw.writes == [whole, b"HTTP/1.1 100 Continue\r\n\r\n"]
    assert t.get_extra_info("peername") == "info peername"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "case",
    [
        _case_head_and_body_in_one_write,
        _case_a_head_alone_goes_out_on_the_next_turn,
        _case_close_writes_a_held_head_first,
        _case_other_writes_pass_straight_through,
    ],
)
def test_transport(case: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(case())
