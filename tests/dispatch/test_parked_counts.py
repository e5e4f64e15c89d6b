"""Parked receipts and MO are visible: per-carrier counters, the stats line, a rate-limited warning."""

from __future__ import annotations

from typing import Any

import structlog
import trio

from bridge.carrier import Inbound
from bridge.dispatch.stats import CarrierCounts, DaemonStats, ParkedWatch
from bridge.service import stats_line
from bridge.simulator import MoConfig, SimulatorConfig
from bridge.smpp import DeliverSm
from bridge.store.db import Database
from tests.dispatch.harness import daemon, make_config, simulator, wait_until


def _receipt(message_id: str) -> DeliverSm:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000"
    return DeliverSm(esm_class=0x04, short_message=text.encode())


async def _true(value: bool) -> bool:
    return value


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parked_watch_warns_once_per_carrier_per_interval() -> None:
    stats, clock, lines = DaemonStats(), _Clock(), []
    watch = ParkedWatch(stats, clock, emit=lambda event, **kw: lines.append(kw))
    watch.check()  # the first flush starts the first interval
    a, b = stats.carrier("a"), stats.carrier("b")
    a.receipts, a.parked = 300, 200  # 67 % parked
    b.receipts, b.parked = 300, 100  # 33 %: fine
    clock.now = 30.0
    watch.check()
    assert lines == []  # not a whole interval yet
    clock.now = 60.0
    watch.check()
    watch.check()  # checked after every flush: still one line per interval
    assert lines == [{"carrier": "a", "receipts": 300, "parked": 200, "seconds": 60.0}]
    a.receipts, a.parked = 399, 399  # 99 receipts in the next minute, all parked: too few
    clock.now = 120.0
    watch.check()
    assert len(lines) == 1
    a.receipts, a.parked = 599, 500  # 200 more, 101 parked: just over half
    clock.now = 180.0
    watch.check()
    assert lines[1] == {"carrier": "a", "receipts": 200, "parked": 101, "seconds": 60.0}


def test_stats_line_counts_parked_receipts_and_mo_per_carrier() -> None:
    stats = DaemonStats(receipts=7, receipts_parked=5, mo=2)
    stats.by_carrier = {"sim": CarrierCounts(receipts=7, parked=5, mo=2), "idle": CarrierCounts()}
    line = stats_line(stats)
    assert "receipts=7 receipts_parked=5 mo=2" in line
    assert line.endswith("receipts.sim=7 parked.sim=5 mo.sim=2")


async def test_parked_receipts_and_mo_are_counted_and_warned(db: Database, pg_dsn: str) -> None:
    """150 receipts for ids nobody submitted (a wrong receipt_id_form looks the same) and 4 MO."""
    async with simulator(SimulatorConfig(mo=MoConfig(rate=40, count=4))) as sim:
        config = make_config(sim.port or 0)
        with structlog.testing.capture_logs() as logs:
            async with daemon(config, db, pg_dsn) as d:
                d._writer.parked_watch = ParkedWatch(d._stats, trio.current_time, interval=0.5)
                acks: list[int] = []
                for n in range(150):
                    await d._inbound_send.send(Inbound(carrier="sim", pdu=_receipt(f"X{n}"), ack=acks.append))
                await wait_until(lambda: _true(len(acks) == 150 and sim.stats.mo_acked == 4))
                await trio.sleep(0.6)
                await d._inbound_send.send(Inbound(carrier="sim", pdu=_receipt("Y"), ack=acks.append))
                await wait_until(lambda: _true(len(acks) == 151))
                stats = d.stats()
    assert acks == [0] * 151
    assert stats.receipts_parked == 151 and stats.mo == 4
    assert stats.by_carrier["sim"] == CarrierCounts(receipts=151, parked=151, mo=4)
    warnings: list[dict[str, Any]] = [e for e in logs if e["log_level"] == "warning" and "receipt_id_form" in e["event"]]
    assert len(warnings) == 1 and warnings[0]["carrier"] == "sim" and warnings[0]["parked"] >= 100
    assert "parked.sim=151 mo.sim=4" in stats_line(stats)
