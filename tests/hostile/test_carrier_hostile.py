"""A Carrier against the hostile SMSC (tests/hostile/smsc.py) over trio memory
streams, autojump clock: whatever the peer does, the carrier keeps running,
reconnects, logs every bind loss at warning with its cause, and a flood of bad
PDUs makes a bounded number of log lines."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import ANY

import pytest
import structlog
import trio
import trio.testing

from bridge.carrier import (
    Accepted,
    Carrier,
    Inbound,
    LateResponse,
    SubmitOutcome,
    Unknown,
    UnknownReason,
)
from bridge.carrier.backoff import BackoffPolicy
from config.schema import Carrier as CarrierConfig
from config.schema import Duration
from tests.carrier.test_carrier_memory import config, part
from tests.hostile import smsc as hostile
from tests.hostile.smsc import HostileSmsc, Scenario

Clock = trio.testing.MockClock
FAST = BackoffPolicy(base=0.5, factor=1.0, cap=0.5)
# A flood's lines: the limiter's burst, its summary, and a few about the bind.
BOUNDED = 20


@asynccontextmanager
async def against(
    scenarios: Sequence[Scenario],
    cfg: CarrierConfig | None = None,
    on_late: Callable[[LateResponse], None] | None = None,
    connect: Any = None,
) -> AsyncIterator[tuple[Carrier, HostileSmsc, trio.MemoryReceiveChannel[Inbound]]]:
    send, receive = trio.open_memory_channel[Inbound](10)
    async with trio.open_nursery() as nursery:
        smsc = HostileSmsc(nursery, scenarios)
        carrier = Carrier(cfg or config(), password="pw", inbound=send,
                          connect=connect or smsc.connect, rng=random.Random(1),
                          reconnect=FAST, on_late=on_late)  # fmt: skip
        await nursery.start(carrier.run)
        yield carrier, smsc, receive
        await carrier.stop(1.0)
        nursery.cancel_scope.cancel()


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def test_a_flood_of_unsolicited_generic_nacks_makes_a_bounded_number_of_lines(
    autojump_clock: Clock,
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.nack_flood(10_000)]) as (carrier, smsc, _):
            await smsc.wait_bound(1)
            await trio.sleep(1)
            assert carrier.up and len(smsc.peers) == 1  # the bind survived the flood
            assert len(logs) < BOUNDED
            outcome = await carrier.submit(part(1))
            assert isinstance(outcome, Accepted)
    unexpected = events(logs, "unexpected_response")
    assert 1 < len(unexpected) <= 6 and len(logs) < BOUNDED
    summary = unexpected[-1]  # written when the bind closed
    assert summary["suppressed"] == 10_000 - (len(unexpected) - 1)
    assert summary["log_level"] == "warning" and summary["reason"] == "unsolicited"
    assert summary["command_id"] == "0x80000000"


async def test_a_flood_of_unknown_commands_is_answered_and_logged_boundedly(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.unknown_commands(10_000)]) as (carrier, smsc, _):
            peer = await smsc.wait_bound(1)
            await trio.sleep(1)
            assert carrier.up and len(smsc.peers) == 1
            nacks = peer.received(hostile.GENERIC_NACK)
            # SMPP 3.4 section 4.3: each one answered generic_nack ESME_RINVCMDID, its sequence_number
            assert len(nacks) == 10_000 and {h[2] for h in nacks} == {0x03}
            assert [h[3] for h in nacks] == list(range(1, 10_001))
    errors = events(logs, "protocol_error")
    assert errors and len(logs) < BOUNDED
    assert errors[0]["command_id"] == "0x00000099" and errors[0]["answered_with"] == "0x80000000"
    assert sum(e.get("suppressed", 1) for e in errors) == 10_000


async def test_a_bad_command_length_closes_the_bind_with_a_warning_naming_it(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.bad_length(0xFFFFFFFF)]) as (carrier, smsc, _):
            await smsc.wait_bound(2)  # reconnected after the backoff
            await trio.sleep(0.1)
            assert carrier.up
            assert isinstance(await carrier.submit(part(1)), Accepted)
    closed = events(logs, "bind_closed")[0]
    assert closed["log_level"] == "warning" and closed["reason"] == "protocol_error"
    assert closed["command_length"] == 0xFFFFFFFF and closed["command_id"] == "0x80000004"
    assert closed["command_status"] == "0x00000045" and closed["sequence_number"] == 77
    assert closed["carrier"] == "fake" and closed["slot"] == 0 and closed["in_flight"] == 0
    assert "command_length 4294967295" in closed["error"]


async def test_garbage_closes_the_bind_and_the_slot_reconnects(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.garbage(4096, seed=s) for s in range(3)]) as (carrier, smsc, _):
            await smsc.wait_bound(4)
            await trio.sleep(0.1)
            assert carrier.up
            assert isinstance(await carrier.submit(part(1)), Accepted)
    closed = events(logs, "bind_closed")
    assert [e["reason"] for e in closed[:3]] == ["protocol_error"] * 3
    assert all(e["log_level"] == "warning" and "command_length" in e for e in closed[:3])


async def test_closing_mid_window_resolves_the_parts_in_flight_as_unknown(autojump_clock: Clock) -> None:
    outcomes: list[SubmitOutcome] = []
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.close_mid_window(3)]) as (carrier, smsc, _):
            await smsc.wait_bound(1)

            async def one(n: int) -> None:
                outcomes.append(await carrier.submit(part(n)))

            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(one, n)
            await smsc.wait_bound(2)
            await trio.sleep(0.1)
            assert carrier.up and isinstance(await carrier.submit(part(9)), Accepted)
    assert outcomes == [Unknown(reason=UnknownReason.DISCONNECTED, attempts=1)] * 3
    closed = events(logs, "bind_closed")[0]
    assert closed["log_level"] == "warning" and closed["reason"] == "peer_closed"
    assert closed["in_flight"] == 3


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [(hostile.unbind_after_bind(), "unbound_by_peer"), (hostile.hang_up_after_bind(), "peer_closed")],
)
async def test_the_peer_leaving_is_a_warning_and_the_slot_binds_again(
    autojump_clock: Clock, scenario: Scenario, reason: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([scenario]) as (carrier, smsc, _):
            await smsc.wait_bound(2)
            await trio.sleep(0.1)
            assert carrier.up
    closed = events(logs, "bind_closed")
    assert closed[0]["reason"] == reason and closed[0]["log_level"] == "warning"
    # our own unbind at stop is no loss: info
    assert closed[-1]["log_level"] == "info" and closed[-1]["leaving"] == "stop"


async def test_duplicate_and_unsolicited_responses_change_nothing(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.duplicate_responses()]) as (carrier, smsc, _):
            results = [await carrier.submit(part(n)) for n in range(50)]
            assert all(isinstance(r, Accepted) for r in results)
            assert len({r.message_id for r in results if isinstance(r, Accepted)}) == 50
            assert carrier.up and len(smsc.peers) == 1
    assert len(events(logs, "unexpected_response")) <= 6


@pytest.mark.parametrize("raw", [b"7" * 70, b"x" * 255, b"", b"\xff\xfe\x80id\xc3"])
async def test_odd_message_ids_are_accepted_as_sent(autojump_clock: Clock, raw: bytes) -> None:
    """The carrier layer hands the id over as it came (Latin-1, SMPP 3.4 section 5.2.23);
    what an unusable id means for the part is the dispatcher's (tests/hostile/test_daemon_hostile.py)."""
    async with against([hostile.message_id(raw)]) as (carrier, smsc, _):
        outcome = await carrier.submit(part(1))
        assert outcome == Accepted(message_id=raw.decode("latin-1"), attempts=1, written_at=ANY)
        assert carrier.up and len(smsc.peers) == 1


async def test_a_late_response_callback_that_raises_ends_the_bind_not_the_carrier(
    autojump_clock: Clock,
) -> None:
    def on_late(late: LateResponse) -> None:
        raise ValueError(f"cannot use {late.message_id!r}")

    cfg = config(response_timeout=Duration(10))
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.late_answers(15)], cfg=cfg, on_late=on_late) as (carrier, smsc, _):
            outcome = await carrier.submit(part(1))
            assert isinstance(outcome, Unknown) and outcome.reason is UnknownReason.TIMEOUT
            await smsc.wait_bound(2)  # the late response came at 15 s: bind closed, slot bound again
            await trio.sleep(0.1)
            assert carrier.up and carrier.health().internal_errors == 1
            assert isinstance(await carrier.submit(part(2)), Accepted)
    [error] = events(logs, "bind_internal_error")
    assert error["log_level"] == "error" and error["where"] == "late response callback"
    assert isinstance(error["exc_info"], ValueError)
    closed = events(logs, "bind_closed")[0]
    assert closed["log_level"] == "warning" and closed["reason"].startswith("internal error")
    assert events(logs, "response_timeout")[0]["log_level"] == "warning"


async def test_a_submit_callback_that_raises_ends_the_bind_and_the_rest_end_unknown(
    autojump_clock: Clock,
) -> None:
    got: list[SubmitOutcome | None] = []

    def broken(outcome: SubmitOutcome | None) -> None:
        raise RuntimeError("dispatcher bug")

    with structlog.testing.capture_logs() as logs:
        async with against([hostile.silent()]) as (carrier, smsc, _):
            peer = await smsc.wait_bound(1)
            assert carrier.submit_nowait(part(1), broken)
            assert carrier.submit_nowait(part(2), got.append)
            await trio.sleep(0.1)
            await peer.answer(peer.held[0])  # the answer to the broken callback's part
            await smsc.wait_bound(2)
            await trio.sleep(0.1)
            assert carrier.up and carrier.health().internal_errors == 1
    assert got == [Unknown(reason=UnknownReason.DISCONNECTED, attempts=1)]
    assert len(events(logs, "bind_internal_error")) == 1
    closed = events(logs, "bind_closed")[0]
    assert closed["reason"] == "internal error in submit callback: RuntimeError"
    assert closed["in_flight"] == 1


class _FaultyStream(trio.abc.Stream):
    """A transport that fails in a way nobody planned for (not an OSError)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        raise RuntimeError("transport fault")

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_bind_task_that_raises_is_logged_and_the_slot_reconnects(autojump_clock: Clock) -> None:
    connects = 0

    async def connect(host: str, port: int) -> trio.abc.Stream:
        nonlocal connects
        connects += 1
        stream = await smsc_ref[0].connect(host, port)
        return _FaultyStream(stream) if connects == 1 else stream

    smsc_ref: list[HostileSmsc] = []
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            smsc_ref.append(HostileSmsc(nursery, []))
            carrier = Carrier(config(), password="pw", inbound=None, connect=connect,
                              rng=random.Random(1), reconnect=FAST)  # fmt: skip
            await nursery.start(carrier.run)
            await smsc_ref[0].wait_bound(2)  # the second connection
            await trio.sleep(0.1)
            assert carrier.up and connects == 2 and carrier.health().internal_errors == 1
            assert isinstance(await carrier.submit(part(1)), Accepted)
            await carrier.stop(1.0)
            nursery.cancel_scope.cancel()
    [error] = events(logs, "bind_failed_internally")
    assert error["log_level"] == "error" and "transport fault" in error["error"]


async def test_a_rebind_is_a_warning_with_its_reason_and_the_part_goes_on(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with against([hostile.submit_status(0x04)]) as (carrier, smsc, _):  # ESME_RINVBNDSTS
            outcome = await carrier.submit(part(1))
            assert isinstance(outcome, Accepted) and outcome.attempts == 2
            assert len(smsc.peers) == 2 and carrier.up
    [rebind] = events(logs, "rebind")
    assert rebind["log_level"] == "warning" and "ESME_RINVBNDSTS" in rebind["reason"]
    closed = events(logs, "bind_closed")[0]
    assert closed["log_level"] == "warning" and closed["reason"] == "unbound"
    assert closed["leaving"].startswith("rebind: ESME_RINVBNDSTS")


async def test_a_callback_that_raises_after_a_retry_is_logged_not_raised_into_the_carrier(
    autojump_clock: Clock,
) -> None:
    calls: list[SubmitOutcome | None] = []

    def broken(outcome: SubmitOutcome | None) -> None:
        calls.append(outcome)
        raise RuntimeError("dispatcher bug")

    with structlog.testing.capture_logs() as logs:
        async with against([hostile.submit_status(0x58)]) as (carrier, smsc, _):  # ESME_RTHROTTLED
            assert carrier.submit_nowait(part(1), broken)
            await trio.sleep(5)  # the retry task wrote it again and called back
            assert [type(c) for c in calls] == [Accepted]
            assert carrier.up and len(smsc.peers) == 1 and carrier.health().internal_errors == 1
    [error] = events(logs, "submit callback failed")
    assert error["log_level"] == "error" and isinstance(error["exc_info"], RuntimeError)


class _BrokenInbound:
    """An inbound channel that fails in a way nobody planned for."""

    def send_nowait(self, item: Inbound) -> None:
        raise RuntimeError("inbound fault")


async def test_a_fault_in_the_reader_ends_the_bind_and_the_slot_reconnects(autojump_clock: Clock) -> None:
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            smsc = HostileSmsc(nursery, [hostile.deliver()])
            carrier = Carrier(config(), password="pw", inbound=_BrokenInbound(),  # type: ignore[arg-type]
                              connect=smsc.connect, rng=random.Random(1), reconnect=FAST)  # fmt: skip
            await nursery.start(carrier.run)
            await smsc.wait_bound(2)
            await trio.sleep(0.1)
            assert carrier.up and carrier.health().internal_errors == 1
            await carrier.stop(1.0)
            nursery.cancel_scope.cancel()
    [error] = events(logs, "bind_internal_error")
    assert error["where"] == "reader" and isinstance(error["exc_info"], RuntimeError)
    closed = events(logs, "bind_closed")[0]
    assert closed["log_level"] == "warning" and closed["reason"] == "internal error in reader: RuntimeError"
