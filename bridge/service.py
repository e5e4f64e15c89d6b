"""The daemon as a service: start, signals, systemd notifications, clean stop.

``serve()`` owns one nursery for the life of the process (docs/design.md house
rule 5):

- the Daemon (``bridge.dispatch``) is started with ``nursery.start``; only when
  it reports ready (recovery done, carriers up, claimers running) do we send
  ``READY=1``;
- SIGTERM / SIGINT: ``STOPPING=1``, then ``daemon.drain(drain_timeout)`` (no new
  claims, in-flight submits answered, carriers unbound, writer flushed), and
  exit 0. The drain gets ``drain_timeout`` plus a short grace period; after
  that, or on a second signal, the nursery is cancelled (what is left in
  flight is recovered at the next start, as after a crash). Keep systemd's
  ``TimeoutStopSec`` above ``drain_timeout`` plus that grace;
- SIGHUP: in a task of its own (a SIGTERM abandons a reload in progress and
  drains; a SIGHUP during a reload reads the file once more after it),
  re-read the configuration file; a file that does not validate is
  logged and the running configuration is kept; a valid one goes to
  ``daemon.reload`` (changed carriers are replaced, unaffected binds stay
  up, routes are swapped) and the logging settings are re-applied. The
  database cannot change without a restart;
- ``WATCHDOG=1`` every half ``WatchdogSec`` from a task in the same trio loop,
  so a blocked loop stops the pings and systemd restarts the service;
  ``STATUS=`` shows the daemon's counters.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog
import trio

from bridge.logs import configure_logging
from bridge.notify import Notifier
from bridge.ops.http import listen
from bridge.ops.http import serve as serve_http
from bridge.store.db import Database, ensure_aio_loop, lone_exception, open_database
from bridge.store.executor import Executor
from config.load import ConfigError, LoadedConfig, load_config
from config.schema import Config

__all__ = [
    "DRAIN_GRACE",
    "DaemonLike",
    "SchemaError",
    "ServiceOptions",
    "check_functions",
    "check_schema",
    "serve",
    "stats_line",
]

log = structlog.get_logger("bridge.service")

# Beyond drain_timeout, how long the drain may take to unbind and flush
# before the nursery is cancelled. TimeoutStopSec must exceed both.
DRAIN_GRACE = 5.0
STATUS_INTERVAL = 5.0  # STATUS= refresh for `systemctl status`
LOG_STATS_INTERVAL = 60.0  # a stats line in the log


class DaemonLike(Protocol):
    """What the service needs of ``bridge.dispatch.Daemon``."""

    async def run(self, *, task_status: Any = ...) -> None: ...
    async def drain(self, timeout: float) -> None: ...  # noqa: ASYNC109 (the contract)
    async def reload(self, new_config: Config, *, passwords: Mapping[str, str] | None = None) -> None: ...
    def stats(self) -> Any: ...


DaemonFactory = Callable[..., DaemonLike]


def default_daemon_factory(
    config: Config, db: Database, *, dsn: str, passwords: Mapping[str, str], instance_name: str | None
) -> DaemonLike:
    from bridge.dispatch import Daemon

    daemon: DaemonLike = Daemon(config, db, dsn=dsn, passwords=passwords, instance_name=instance_name)
    return daemon


class SchemaError(Exception):
    """The database is not migrated (or migrated by a newer release)."""


async def check_schema(db: Database) -> None:
    """Refuse to run against a database ``smpp-bridge migrate`` has not prepared."""
    from bridge.store.migrate import load_migrations

    latest = load_migrations()[-1].version
    exists = await db.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    version = await db.fetchval("SELECT max(version) FROM schema_migrations") if exists else None
    if version is None or version < latest:
        raise SchemaError(
            f"the database is at migration {version or 0}, this release needs {latest}: "
            "run `smpp-bridge migrate -c FILE` first"
        )
    if version > latest:
        raise SchemaError(f"the database was migrated by a newer release (version {version})")
    await check_functions(db)


async def check_functions(db: Executor) -> None:
    """Refuse a database whose functions are not this release's (bridge/store/functions.py)."""
    from bridge.store.functions import functions_refusal

    refusal = await functions_refusal(db)
    if refusal is not None:
        raise SchemaError(refusal)


def _as_dict(stats: Any) -> dict[str, Any]:
    import dataclasses

    import msgspec

    if isinstance(stats, Mapping):
        return dict(stats)
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    if isinstance(stats, msgspec.Struct):
        return msgspec.structs.asdict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


_STATUS_KEYS = (
    "claimed", "submitted", "accepted", "rejected", "unknown", "sent", "failed",
    "receipts", "receipts_parked", "mo",
)  # fmt: skip
# DaemonStats.by_carrier, each non-zero one as ``parked.NAME=3``.
_CARRIER_KEYS = ("receipts", "parked", "mo", "ids_unusable")


def stats_line(stats: Any) -> str:
    """``claimed=10 submitted=10 ... failed=1``: the plain counters of DaemonStats."""
    try:
        values = _as_dict(stats)
    except Exception:  # a status line must never take the service down
        return "running"
    parts = [f"{k}={values[k]}" for k in _STATUS_KEYS if isinstance(values.get(k), int)]
    by_carrier = values.get("by_carrier")
    if isinstance(by_carrier, Mapping):
        for name in sorted(by_carrier):
            counts = by_carrier[name]
            if isinstance(counts, Mapping):
                parts += [f"{k}.{name}={counts[k]}" for k in _CARRIER_KEYS if isinstance(counts.get(k), int) and counts[k]]
    return " ".join(parts) if parts else "running"


@dataclass
class ServiceOptions:
    config_path: Path | None = None  # re-read on SIGHUP (None: reload disabled)
    notifier: Notifier = field(default_factory=lambda: Notifier(None))
    daemon_factory: DaemonFactory = default_daemon_factory
    signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    log_stream: TextIO | None = None  # for configure_logging on reload
    check_schema: bool = True
    # The webhook sender runs beside the daemon ([webhooks] enabled and
    # run_in_daemon), on a pool of its own; None: not here.
    webhook_master_key: Any = None  # bridge.webhooks.sealing.MasterKey
    webhooks: bool = False
    ops_interval: float = 15.0  # the status sampler's period (bridge/ops/sampler.py)


class _Service:
    def __init__(self, loaded: LoadedConfig, dsn: str, options: ServiceOptions) -> None:
        self.loaded = loaded
        self.dsn = dsn
        self.options = options
        self.notifier = options.notifier
        self.passwords: dict[str, str] = {
            name: secret.reveal() for name, secret in loaded.carrier_passwords.items()
        }
        self.daemon: DaemonLike | None = None
        self.ready = False
        self.stop_requested = False
        self.daemon_done = trio.Event()
        # Reloads run in their own task: daemon.reload stops each replaced carrier
        # with up to drain_timeout, and a SIGTERM must not wait behind that.
        self._reload_scope: trio.CancelScope | None = None
        self._reload_again = False
        self._no_reload = trio.Event()
        self._no_reload.set()

    # --- tasks -------------------------------------------------------------------------

    async def _run_daemon(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        assert self.daemon is not None
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.daemon.run)
                self.ready = True
                task_status.started()
        finally:
            self.daemon_done.set()

    async def _handle_signals(self, receiver: Any, scope: trio.CancelScope, nursery: trio.Nursery) -> None:
        async for signum in receiver:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                if not self.stop_requested and self.ready:
                    self._request_reload(nursery)
                continue
            if self.stop_requested:
                log.warning("second stop signal: stopping without waiting for the drain", signal=name)
                scope.cancel()
                return
            self.stop_requested = True
            if self._reload_scope is not None:
                log.warning("stop signal during a reload: abandoning the reload", signal=name)
                self._reload_scope.cancel()
            if not self.ready:
                # Nothing was claimed yet that a restart's recovery cannot resolve.
                log.info("stop signal during start-up: stopping", signal=name)
                scope.cancel()
                return
            nursery.start_soon(self._drain, scope, name)

    def _request_reload(self, nursery: trio.Nursery) -> None:
        if not self._no_reload.is_set():
            # A SIGHUP during a reload: the file may have changed again since the
            # running reload read it, so read it once more when that one ends.
            self._reload_again = True
            return
        self._no_reload = trio.Event()
        nursery.start_soon(self._reloads)

    async def _reloads(self) -> None:
        try:
            while True:
                self._reload_again = False
                with trio.CancelScope() as self._reload_scope:
                    await self._reload()
                self._reload_scope = None
                if not self._reload_again or self.stop_requested:
                    return
        finally:
            self._reload_scope = None
            self._no_reload.set()

    async def _drain(self, scope: trio.CancelScope, signal_name: str) -> None:
        assert self.daemon is not None
        # A cancelled reload unwinds first, so the drain sees settled carriers.
        await self._no_reload.wait()
        timeout = self.loaded.config.daemon.drain_timeout.seconds
        log.info("draining", signal=signal_name, drain_timeout=timeout)
        self.notifier.stopping(f"draining (up to {timeout:g}s)")
        with trio.move_on_after(timeout + DRAIN_GRACE) as deadline:
            await self.daemon.drain(timeout)
            await self.daemon_done.wait()
        if deadline.cancelled_caught:
            log.error("drain did not finish in time: stopping anyway", drain_timeout=timeout)
            scope.cancel()

    async def _reload(self) -> None:
        assert self.daemon is not None
        path = self.options.config_path
        if path is None:
            log.warning("SIGHUP ignored: no configuration file to reload")
            return
        self.notifier.reloading()
        try:
            new = await trio.to_thread.run_sync(load_config, path)
        except ConfigError as exc:
            log.error("reload failed: keeping the running configuration", error=str(exc))
            self.notifier.reloaded(f"reload failed: {exc}")
            return
        if new.config.database != self.loaded.config.database:
            log.warning("database settings changed: they apply at the next restart")
        # Replaced and added carriers bind with the passwords of the new file.
        passwords = {n: s.reveal() for n, s in new.carrier_passwords.items()}
        try:
            await self.daemon.reload(new.config, passwords=passwords)
        except Exception as exc:
            log.error("reload refused by the daemon: keeping the running configuration", error=repr(exc))
            self.notifier.reloaded(f"reload refused: {exc}")
            return
        # The new logging settings only with the rest of the new file, once it is accepted.
        configure_logging(new.config.logging, stream=self.options.log_stream)
        self.loaded, self.passwords = new, passwords
        log.info("reload done", file=str(path), carriers=[c.name for c in new.config.carriers])
        self.notifier.reloaded("reloaded; " + stats_line(self.daemon.stats()))

    async def _watchdog_and_status(self) -> None:
        assert self.daemon is not None
        interval = self.notifier.watchdog_interval
        tick = min(interval or math.inf, STATUS_INTERVAL)
        last_status = last_log = trio.current_time()
        while True:
            await trio.sleep(tick)
            if interval is not None:
                self.notifier.watchdog()
            now = trio.current_time()
            if now - last_status >= STATUS_INTERVAL - 1e-3:
                last_status = now
                self.notifier.status(stats_line(self.daemon.stats()))
            if now - last_log >= LOG_STATS_INTERVAL:
                last_log = now
                log.info("stats", stats=stats_line(self.daemon.stats()))

    async def _ops(self, listeners: list[trio.SocketListener]) -> None:
        """The status endpoint and its sampler, on a pool of their own (at most two
        connections, none held while idle): their reads never wait for, nor delay, the
        pipeline's connections."""
        from bridge.ops.sampler import DaemonOps

        async with open_database(self.dsn, min_size=0, max_size=2, command_timeout=10.0) as ops_db:
            ops = DaemonOps(self.daemon, ops_db, self.loaded.config, interval=self.options.ops_interval)
            addresses = [str(lst.socket.getsockname()[:2]) for lst in listeners]
            log.info("status endpoint listening", listen=self.loaded.config.daemon.metrics_listen,
                     addresses=addresses)  # fmt: skip
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ops.run)
                nursery.start_soon(serve_http, listeners, ops.handle, ops.http_requests)

    # --- the whole life ----------------------------------------------------------------

    async def serve(self) -> int:
        # The trio-asyncio loop is opened before the nursery: tasks started in it
        # (reloads, the drain) reach the database through asyncpg.
        async with ensure_aio_loop():
            try:
                return await self._serve()
            except BaseExceptionGroup as group:
                # The nursery wraps a start-up error (database unreachable, schema
                # check); callers tell those apart by type, so a lone one is itself.
                inner = lone_exception(group)
                if inner is group:
                    raise
                raise inner from None

    async def _serve(self) -> int:
        cfg = self.loaded.config
        if cfg.daemon.slow_step is not None:
            from bridge.slow_steps import install

            install(cfg.daemon.slow_step.seconds)
        # Signals are ours from the first moment: a SIGTERM while the database is
        # still being reached stops cleanly (exit 0), and a SIGHUP then is ignored
        # instead of killing the process (the default action of both).
        with trio.open_signal_receiver(*self.options.signals) as receiver:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._handle_signals, receiver, nursery.cancel_scope, nursery)
                # The endpoint's address is taken before anything else: a port in
                # use or a bad address stops the start at once (ListenError).
                listeners = await listen(cfg.daemon.metrics_listen) if cfg.daemon.metrics_listen else None
                self.notifier.status("starting: connecting to the database")
                async with open_database(
                    self.dsn, min_size=cfg.database.pool_min, max_size=cfg.database.pool_max
                ) as db:
                    if self.options.check_schema:
                        await check_schema(db)
                    self.daemon = self.options.daemon_factory(
                        cfg, db, dsn=self.dsn, passwords=self.passwords, instance_name=cfg.daemon.instance_name
                    )
                    self.notifier.status("starting: recovery, binding carriers")
                    await nursery.start(self._run_daemon)
                    if self.options.webhooks:
                        from bridge.webhooks.service import run_sender

                        await nursery.start(run_sender, cfg, self.dsn, self.options.webhook_master_key)
                    if cfg.preflight.networks:
                        from bridge.preflight.service import run_preflight

                        nursery.start_soon(run_preflight, cfg, db)  # SMS Preflight (docs/preflight.md)
                    log.info("ready", carriers=[c.name for c in cfg.carriers])
                    self.notifier.ready("running; " + stats_line(self.daemon.stats()))
                    nursery.start_soon(self._watchdog_and_status)
                    if listeners is not None:
                        nursery.start_soon(self._ops, listeners)
                    await self.daemon_done.wait()
                    nursery.cancel_scope.cancel()
        if self.stop_requested:
            if self.daemon is None:
                log.info("stopped during start-up")
            else:
                log.info("stopped", stats=stats_line(self.daemon.stats()))
            return 0
        log.error("the daemon stopped without being asked to")
        return 1


async def serve(loaded: LoadedConfig, dsn: str, options: ServiceOptions | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; 0 after a requested stop, 1 if it ended by itself.

    Errors the daemon raises (database unreachable at start, ...) propagate.
    Must run in the main thread (signal handlers).
    """
    service = _Service(loaded, dsn, options or ServiceOptions())
    try:
        return await service.serve()
    finally:
        service.notifier.close()
