"""`smpp-bridge run` as systemd runs it: a child process, signals, READY/STOPPING, JSON logs.

The simulator runs in a thread of the test; the database is the test's own.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.simulator import DestinationRule, SimulatorConfig
from tests.service.helpers import config_text
from tests.service.procs import (
    DaemonProcess,
    enqueue,
    failed_for_unknown_outcome,
    messages_in,
    messages_with_parts_in,
    pending,
    reconciled,
    states,
    wait_final,
)
from tests.service.simthread import SimulatorThread, simulator_thread

OTP = "Your verification code is 482915"
LONG = "Delivery update: " + "your parcel is on its way and will arrive tomorrow. " * 5


def _traffic(count: int) -> list[tuple[str, list[str]]]:
    numbers = [f"+6012345{n:04d}" for n in range(count)]  # ...0000 fails (simulator rule)
    return [(LONG if (i // 10) % 5 == 0 else OTP, numbers[i : i + 10]) for i in range(0, count, 10)]


def _restart_until_final(
    tmp_path: Path, dsn: str, name: str, stop: signal.Signals, limit: float
) -> dict[str, int]:
    """Start another daemon on the same configuration, wait until every message is
    final, stop it with ``stop`` (it must exit 0): the final states."""
    daemon = DaemonProcess(tmp_path / "c.toml", dsn, tmp_path, name=name)
    try:
        daemon.until("READY")
        final = wait_final(dsn, limit)
        daemon.signal(stop)
        assert daemon.wait(20) == 0
    finally:
        daemon.close()
    return final


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    config = SimulatorConfig(
        handset_log=100_000,
        receipt_delay=(0.01, 0.2),
        destination_rules=(DestinationRule(suffix="0000", stat="UNDELIV"),),
    )
    with simulator_thread(config) as s:
        yield s


def _no_secrets_in(text: str) -> None:
    assert "482915" not in text and "parcel" not in text  # bodies
    assert "+60123450001" not in text and "60123450001" not in text  # numbers


def test_sigterm_drains_and_exits_0(pg_dsn_sync: str, sim: SimulatorThread, tmp_path: Path) -> None:
    text = config_text(port=sim.port, tps=300, drain_timeout="10s")
    (tmp_path / "c.toml").write_text(text)
    enqueue(pg_dsn_sync, text, _traffic(600))
    daemon = DaemonProcess(tmp_path / "c.toml", pg_dsn_sync, tmp_path)
    try:
        ready = daemon.until("READY")
        assert ready["MAINPID"] == str(daemon.process.pid)
        daemon.until("WATCHDOG")  # WATCHDOG_USEC=2s: a ping every second
        deadline = time.monotonic() + 20
        while states(pg_dsn_sync).get("delivered", 0) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending(pg_dsn_sync) > 0, "the test wants a drain with work in flight"
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert "draining" in daemon.until("STOPPING")["STATUS"]
        assert daemon.wait(20) == 0
        assert time.monotonic() - started < 15  # drain_timeout 10s + grace
    finally:
        daemon.close()
    events = daemon.log_events()
    names = [e["event"] for e in events]
    assert "ready" in names and "draining" in names and "stopped" in names
    _no_secrets_in(daemon.log_text())
    # A clean drain leaves nothing half-submitted; the rest is queued for the next start.
    ok, parts = reconciled(pg_dsn_sync)
    assert ok and parts.get("submitting", 0) == 0, parts

    final = _restart_until_final(tmp_path, pg_dsn_sync, "again", signal.SIGINT, 30)
    assert set(final) <= {"delivered", "failed"}, final
    assert final["failed"] >= 1 and final["delivered"] >= 500
    assert reconciled(pg_dsn_sync)[0]


def test_sighup_reloads_and_keeps_running_on_a_bad_file(
    pg_dsn_sync: str, sim: SimulatorThread, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text(port=sim.port, window=50))
    daemon = DaemonProcess(path, pg_dsn_sync, tmp_path)
    try:
        daemon.until("READY")
        path.write_text(config_text(port=sim.port, window=80))
        daemon.signal(signal.SIGHUP)
        daemon.until("RELOADING")
        assert daemon.until("READY")["STATUS"].startswith("reloaded")

        path.write_text(config_text(port=sim.port).replace("window = 50", "window = 0"))
        daemon.signal(signal.SIGHUP)
        assert daemon.until("READY")["STATUS"].startswith("reload failed")
        assert daemon.process.poll() is None

        # Still working after both reloads.
        text = config_text(port=sim.port)
        enqueue(pg_dsn_sync, text, _traffic(50))
        final = wait_final(pg_dsn_sync, 20)
        assert set(final) <= {"delivered", "failed"} and sum(final.values()) == 50, final
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
    finally:
        daemon.close()
    events = daemon.log_events()
    assert any(e["event"] == "reload done" for e in events)
    failed = [e for e in events if e["event"].startswith("reload failed")]
    assert failed and "carriers[0].window" in failed[0]["error"]


def test_sigkill_mid_run_then_restart(pg_dsn_sync: str, sim: SimulatorThread, tmp_path: Path) -> None:
    """Killed without a chance to drain: the restart resolves what the dead one left.

    Documented outcome (docs/outcomes.md "Unknown outcome"): parts left
    `submitting` become `unknown`; those the SMSC took get their receipts on the
    new bind and are matched to them; the others wait for the grace (here 15 s),
    then follow the carrier's on_unknown_outcome ("fail": failed and refunded).
    The grace spans three sweeps (every 5 s) after the recovery, so a restart slowed
    by a loaded machine still parks and matches the receipts before it ends; a part
    the SMSC took that is not matched within it fails the check below.
    Parts already submitted get their receipts on the new bind; queued ones are
    sent. Every message ends sent or failed and the ledger reconciles.
    """
    text = config_text(port=sim.port, tps=400, grace="15s")
    (tmp_path / "c.toml").write_text(text)
    ids = enqueue(pg_dsn_sync, text, _traffic(800))
    first = DaemonProcess(tmp_path / "c.toml", pg_dsn_sync, tmp_path, name="first")
    try:
        first.until("READY")
        deadline = time.monotonic() + 20
        while states(pg_dsn_sync).get("delivered", 0) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        first.close()
    left = states(pg_dsn_sync)
    assert left.get("queued", 0) > 0, left
    _, parts_left = reconciled(pg_dsn_sync)
    assert parts_left.get("submitting", 0) + parts_left.get("submitted", 0) > 0, parts_left
    in_doubt = messages_with_parts_in(pg_dsn_sync, "submitting")

    final = _restart_until_final(tmp_path, pg_dsn_sync, "second", signal.SIGTERM, 60)
    assert set(final) <= {"delivered", "failed"}, final
    assert sum(final.values()) == len(ids)
    # A message in doubt failed for its unknown outcome (on_unknown_outcome =
    # "fail") only if the SMSC did not take all of its parts: those it took were
    # settled by their receipts.
    taken = Counter(h.destination for h in sim.simulator.handsets)
    for destination, segments in failed_for_unknown_outcome(pg_dsn_sync):
        assert taken[destination.lstrip("+")] < segments, destination
    assert in_doubt <= set(messages_in(pg_dsn_sync, "failed")) | set(messages_in(pg_dsn_sync, "delivered"))
    ok, parts = reconciled(pg_dsn_sync)
    assert ok, "ledger does not reconcile after SIGKILL + restart"
    assert set(parts) <= {"delivered", "failed"}, parts
    # Nothing was submitted twice: on_unknown_outcome = "fail" never resubmits.
    assert sim.simulator.stats.submits <= sum(parts.values())


def test_signals_while_the_database_is_still_being_reached(tmp_path: Path) -> None:
    """SIGHUP is ignored and SIGTERM stops with exit 0 before the database answered.

    The "database" accepts the TCP connection and never says a word, so the daemon
    stays in its first start-up step; both signals would kill it by default.
    """
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        dsn = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/none"
        (tmp_path / "c.toml").write_text(config_text(port=1))
        daemon = DaemonProcess(tmp_path / "c.toml", dsn, tmp_path)
        try:
            status = daemon.until("STATUS", timeout=30)
            assert status["STATUS"].startswith("starting: connecting to the database")
            time.sleep(0.3)
            daemon.signal(signal.SIGHUP)
            time.sleep(0.3)
            assert daemon.process.poll() is None, daemon.log_text()[-2000:]
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(10) == 0, daemon.log_text()[-2000:]
            assert "stopped during start-up" in daemon.log_text()
        finally:
            daemon.close()
