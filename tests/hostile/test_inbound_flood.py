"""The writer's inbound side under a flood of bad deliver_sm: every one answered,
counted, and a bounded number of log lines (no database: only run_inbound)."""

from __future__ import annotations

import pytest
import structlog
import trio
import trio.testing

import bridge.dispatch.intake as intake_module
import bridge.dispatch.writer as writer_module
from bridge.carrier import Inbound
from bridge.dispatch.inbound import MoRow
from bridge.logs import LogLimiter
from tests.dispatch.test_writer_inbound import _inbound, _writer

FLOOD = 10_000


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    # The module's limiter lives as long as the process (one trio run in the daemon).
    monkeypatch.setattr(intake_module, "_limited", LogLimiter(intake_module.log, clock=trio.current_time))


async def _flood(writer: writer_module.Writer, acks: list[tuple[int, int]]) -> None:
    send, receive = trio.open_memory_channel[Inbound](FLOOD)
    for n in range(FLOOD):
        send.send_nowait(_inbound(n, acks, text="id: stat:"))  # flagged a receipt, unparseable
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run_inbound, receive)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()


async def test_malformed_receipts_are_kept_and_logged_boundedly() -> None:
    writer = _writer(batch=FLOOD)
    acks: list[tuple[int, int]] = []
    with structlog.testing.capture_logs() as logs:
        await _flood(writer, acks)
    rows = [row for _, row in writer._inbound]
    assert len(rows) == FLOOD and all(isinstance(r, MoRow) and r.malformed_receipt for r in rows)
    assert writer._stats.receipts_malformed == FLOOD
    assert 1 <= len(logs) <= 5 and all(e["carrier"] == "sim" for e in logs)


async def test_a_classifier_that_raises_is_answered_counted_and_logged_boundedly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise IndexError("a parser fault")

    monkeypatch.setattr(intake_module, "classify", broken)
    writer = _writer(batch=FLOOD)
    acks: list[tuple[int, int]] = []
    with structlog.testing.capture_logs() as logs:
        await _flood(writer, acks)
    assert acks == [(n, 0x64) for n in range(FLOOD)]  # ESME_RX_T_APPN: the SMSC retries later
    assert writer._stats.inbound_errors == FLOOD
    assert 1 <= len(logs) <= 5
    assert logs[0]["log_level"] == "error" and isinstance(logs[0]["exc_info"], IndexError)
