"""bridge.service in-process: signals, reload, drain deadline, watchdog, READY/STOPPING.

The daemon here is a small stand-in that records what the service asks of it
(the real pipeline is exercised by the subprocess tests in test_run.py); the
database and the notification socket are real.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.socket

from bridge import service
from bridge.notify import Notifier
from bridge.service import ServiceOptions, serve, stats_line
from config.load import load_config
from config.schema import Config
from tests.service.helpers import write_config


class StandIn:
    def __init__(self, *, hang_in_drain: bool = False, exit_alone: bool = False,
                 hang_in_reload: bool = False, refuse_reload: bool = False) -> None:
        self.stopped = trio.Event()
        self.drains: list[float] = []
        self.reloads: list[Config] = []
        self.passwords: Any = None
        self.hang_in_drain = hang_in_drain
        self.exit_alone = exit_alone
        self.hang_in_reload = hang_in_reload
        self.refuse_reload = refuse_reload

    def factory(self, config: Config, db: object, *, dsn: str, passwords: Any, instance_name: str | None) -> StandIn:
        self.passwords = passwords
        return self

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        if not self.exit_alone:
            await self.stopped.wait()

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 (the Daemon contract)
        self.drains.append(timeout)
        if self.hang_in_drain:
            await trio.sleep_forever()
        self.stopped.set()

    async def reload(self, new_config: Config, *, passwords: Any = None) -> None:
        self.reloads.append(new_config)
        if self.hang_in_reload:  # a replaced carrier that takes its whole drain_timeout
            await trio.sleep_forever()
        if self.refuse_reload:
            raise ValueError("refused")
        self.passwords = passwords

    def stats(self) -> dict[str, int]:
        return {"claimed": 3, "sent": 2, "failed": 1}


class Systemd:
    """The receiving end of NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_DGRAM)

    async def bind(self) -> None:
        await self.sock.bind(str(self.path))

    async def until(self, key: str) -> dict[str, str]:
        with trio.fail_after(10):
            while True:
                data = await self.sock.recv(4096)
                fields = dict(line.split("=", 1) for line in data.decode().split("\n"))
                if key in fields:
                    return fields


@pytest.fixture
async def systemd(tmp_path: Path) -> Any:
    s = Systemd(tmp_path / "notify.sock")
    await s.bind()
    yield s
    s.sock.close()


def _options(systemd: Systemd, config: Path, stand_in: StandIn, watchdog_usec: int | None = None) -> ServiceOptions:
    return ServiceOptions(
        config_path=config,
        notifier=Notifier(str(systemd.path), watchdog_usec=watchdog_usec),
        daemon_factory=stand_in.factory,
    )


@pytest.fixture
def env(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_BRIDGE_DSN", pg_dsn)
    monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "pw1")
    return pg_dsn


async def test_sigterm_drains_and_returns_0(env: str, systemd: Systemd, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", drain_timeout="7s")
    stand_in = StandIn()
    result: list[int] = []
    async with trio.open_nursery() as nursery:
        async def go() -> None:
            result.append(await serve(load_config(config), env, _options(systemd, config, stand_in)))

        nursery.start_soon(go)
        ready = await systemd.until("READY")
        assert ready["MAINPID"] == str(os.getpid()) and "claimed=3 sent=2 failed=1" in ready["STATUS"]
        os.kill(os.getpid(), signal.SIGTERM)
        stopping = await systemd.until("STOPPING")
        assert "draining" in stopping["STATUS"]
    assert result == [0]
    assert stand_in.drains == [7.0]


async def test_sighup_reloads_and_a_bad_file_is_kept_out(
    env: str, systemd: Systemd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "c.toml", window=50)
    stand_in = StandIn()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, load_config(config), env, _options(systemd, config, stand_in))
        await systemd.until("READY")
        assert stand_in.passwords == {"sim": "pw1"}

        write_config(config, window=80)
        monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "pw2")
        os.kill(os.getpid(), signal.SIGHUP)
        await systemd.until("RELOADING")
        reloaded = await systemd.until("READY")
        assert reloaded["STATUS"].startswith("reloaded")
        assert [c.carriers[0].window for c in stand_in.reloads] == [80]
        assert stand_in.passwords == {"sim": "pw2"}  # the new file's passwords

        config.write_text(config.read_text().replace("window = 80", "window = -1"))
        os.kill(os.getpid(), signal.SIGHUP)
        failed = await systemd.until("READY")
        assert failed["STATUS"].startswith("reload failed") and "carriers[0].window" in failed["STATUS"]
        assert len(stand_in.reloads) == 1  # the bad file never reached the daemon

        os.kill(os.getpid(), signal.SIGTERM)
    assert stand_in.drains


async def test_a_reload_the_daemon_refuses_changes_no_setting(
    env: str, systemd: Systemd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "c.toml", level="info")
    stand_in = StandIn(refuse_reload=True)
    levels: list[str] = []
    monkeypatch.setattr("bridge.service.configure_logging", lambda settings, **_kw: levels.append(settings.level))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, load_config(config), env, _options(systemd, config, stand_in))
        await systemd.until("READY")
        write_config(config, level="error")
        os.kill(os.getpid(), signal.SIGHUP)
        refused = await systemd.until("READY")
        assert refused["STATUS"].startswith("reload refused")
        assert len(stand_in.reloads) == 1
        assert "error" not in levels  # the refused file's logging settings were not applied
        os.kill(os.getpid(), signal.SIGTERM)


async def test_sigterm_during_a_slow_reload_abandons_it_and_drains(
    env: str, systemd: Systemd, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml")
    stand_in = StandIn(hang_in_reload=True)
    result: list[int] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async def go() -> None:
                result.append(await serve(load_config(config), env, _options(systemd, config, stand_in)))

            nursery.start_soon(go)
            await systemd.until("READY")
            os.kill(os.getpid(), signal.SIGHUP)
            await systemd.until("RELOADING")
            os.kill(os.getpid(), signal.SIGHUP)  # queued behind the hanging one, then dropped
            os.kill(os.getpid(), signal.SIGTERM)
            await systemd.until("STOPPING")
    assert result == [0]
    assert len(stand_in.reloads) == 1 and len(stand_in.drains) == 1


async def test_drain_that_overruns_is_cut_off(
    env: str, systemd: Systemd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "DRAIN_GRACE", 0.2)
    config = write_config(tmp_path / "c.toml", drain_timeout="300ms")
    stand_in = StandIn(hang_in_drain=True)
    result: list[int] = []
    async with trio.open_nursery() as nursery:
        async def go() -> None:
            result.append(await serve(load_config(config), env, _options(systemd, config, stand_in)))

        nursery.start_soon(go)
        await systemd.until("READY")
        start = trio.current_time()
        os.kill(os.getpid(), signal.SIGTERM)
    assert result == [0]
    assert 0.4 <= trio.current_time() - start < 5


async def test_watchdog_pings_at_half_the_interval(env: str, systemd: Systemd, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml")
    stand_in = StandIn()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, load_config(config), env, _options(systemd, config, stand_in, 200_000))
        await systemd.until("READY")
        start = trio.current_time()
        await systemd.until("WATCHDOG")
        await systemd.until("WATCHDOG")
        assert trio.current_time() - start < 2
        os.kill(os.getpid(), signal.SIGTERM)


async def test_daemon_that_ends_by_itself_is_exit_1(env: str, systemd: Systemd, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml")
    assert await serve(load_config(config), env, _options(systemd, config, StandIn(exit_alone=True))) == 1


def test_stats_line() -> None:
    from bridge.dispatch.stats import DaemonStats

    assert stats_line(DaemonStats(claimed=5, sent=4, failed=1)).startswith("claimed=5 submitted=0")
    assert stats_line(object()) == "running"


PREFLIGHT = """
[[preflight.networks]]
slug = "ee"
name = "EE"
numbers = ["+447911100001"]
carrier = "sim"
"""


async def test_the_service_runs_preflight_matching_beside_the_daemon(
    env: str, systemd: Systemd, tmp_path: Path
) -> None:
    """With probe networks configured, bridge/service.py runs the preflight service on its pool:
    the networks are copied to the database and an MO to a probe number completes its session."""
    from datetime import UTC, datetime, timedelta

    from bridge.preflight.sessions import NewSession, create_session
    from bridge.preflight.users import create_user
    from bridge.store.db import open_database
    from tests.preflight.helpers import mo_row, store_mo

    config = write_config(tmp_path / "c.toml")
    config.write_text(config.read_text() + PREFLIGHT)
    result: list[int] = []
    async with trio.open_nursery() as nursery, open_database(env, min_size=1, max_size=2) as db:
        async def go() -> None:
            result.append(await serve(load_config(config), env, _options(systemd, config, StandIn())))

        nursery.start_soon(go)
        await systemd.until("READY")
        with trio.fail_after(10):
            while not await db.fetchval("SELECT count(*) FROM preflight_numbers"):  # noqa: ASYNC110 (polls the database)
                await trio.sleep(0.05)
        user = await create_user(db, "acme", plan="pro", name="Jane", email="jane@example.com")
        session = await create_session(db, user.account_id, NewSession(sender_id="MYAPP"),
                                       now=datetime.now(UTC), ttl=timedelta(minutes=5))  # fmt: skip
        code = await db.fetchval("SELECT test_code FROM preflight_sessions WHERE id = $1", session)
        await store_mo(db, mo_row("MYAPP", "+447911100001", f"Test {code}".encode()))
        with trio.fail_after(10):
            while await db.fetchval("SELECT status FROM preflight_sessions WHERE id = $1", session) != "complete":  # noqa: ASYNC110
                await trio.sleep(0.05)
        verdict = await db.fetchval("SELECT verdict FROM preflight_results WHERE session_id = $1", session)
        assert verdict == "clean"
        os.kill(os.getpid(), signal.SIGTERM)
        await systemd.until("STOPPING")
    assert result == [0]
