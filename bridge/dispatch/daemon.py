"""The Daemon of the bridge.dispatch contract (docs/pipeline.md): run, stats, reload, drain.

    async with trio.open_nursery() as n:
        await n.start(daemon.run)     # ready: instance row, recovery, carriers, claimer, writer
        ...
        await daemon.drain(30)        # run() returns

Tasks (one nursery, house rule 5): the lease heartbeat, the bind-slot
connection and its watcher, one task per carrier (its binds, its bounded
submitters and, with ``query_sm``, its querier: query.py), the claimer
(+ its LISTEN task), the writer and its inbound reader, the dispatcher's late-response
task, the sweeper. ``__init__`` assembles the pipeline (the comment there draws it);
dispatcher.py is the hot path. See docs/pipeline.md.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
import trio

from bridge.carrier import Carrier, Inbound
from bridge.dispatch.claim import ClaimBook, Claimer
from bridge.dispatch.dispatcher import Dispatcher
from bridge.dispatch.instances import BindSlots, Lease, slot_order
from bridge.dispatch.late import OUTCOMES_KEPT
from bridge.dispatch.parts import ClaimedPart, Result
from bridge.dispatch.query import Querier
from bridge.dispatch.running import RunningCarriers
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.submit import CarrierRunner
from bridge.dispatch.sweeper import Sweeper
from bridge.dispatch.writer import Writer
from bridge.smpp import SubmitSm
from bridge.store.db import Database, db_errors
from config.schema import Carrier as CarrierConfig
from config.schema import Config

__all__ = ["Daemon", "DaemonStats"]

log = structlog.get_logger("bridge.dispatch.daemon")


@dataclass(slots=True)
class _Life:
    runner: CarrierRunner
    done: trio.Event


class Daemon:
    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        dsn: str,
        passwords: Mapping[str, str],
        instance_name: str | None = None,
        db_timeout: float = 5.0,
        sweep_interval: float = 5.0,
        max_binds: int | None = None,
        carrier_options: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._dsn = dsn
        self._passwords = dict(passwords)
        self.name = instance_name or config.daemon.instance_name or socket.gethostname()
        self.db_timeout = db_timeout
        self._max_binds = max_binds  # per carrier, for this instance (several daemons, one host)
        self._carrier_options = dict(carrier_options or {})
        self._stats = DaemonStats()
        self._lives: dict[str, _Life] = {}
        self._waiting: dict[str, CarrierConfig] = {}  # carriers without a free bind slot yet
        self._stopped = trio.Event()
        self._draining = False
        self._reload_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._slot_errors: tuple[type[BaseException], ...] = (*db_errors(), ConnectionError)
        daemon = config.daemon
        self._lease = Lease(db, name=self.name, lease=daemon.lease.seconds,
                            heartbeat=daemon.heartbeat_interval.seconds, db_timeout=db_timeout)  # fmt: skip
        self._slots = BindSlots(dsn, db_timeout=db_timeout)
        # The pipeline, assembled here and nowhere else:
        #   claimer -> dispatcher -> carriers' binds -> dispatcher.deliver -> writer
        #   binds' receipts and MO -> inbound channel -> writer
        #   writer's commits -> claims (room for claims), late_refs channel -> dispatcher
        # The carriers running, their rules and the routes are one object (RunningCarriers)
        # that a reload changes; every component reads it through a small Protocol.
        self._carriers = RunningCarriers(config, rng=rng)
        self._claims = ClaimBook()
        self._inbound_send, self._inbound_receive = trio.open_memory_channel[Inbound](4 * daemon.writer_batch)
        late_send, self._late_receive = trio.open_memory_channel[Result](OUTCOMES_KEPT)
        self._writer = Writer(
            db, stats=self._stats, rules=self._carriers, batch=daemon.writer_batch,
            delay=daemon.writer_delay.seconds, db_timeout=db_timeout,
            webhooks=config.webhooks.enabled, default_url=config.webhooks.default_url,
            claims=self._claims, late_refs=late_send,
        )  # fmt: skip
        self._dispatcher = Dispatcher(carriers=self._carriers, writer=self._writer, stats=self._stats, lease=self._lease)
        self._claimer = Claimer(
            db, lease=self._lease, stats=self._stats, batch=daemon.claim_batch,
            poll=daemon.poll_interval.seconds, db_timeout=db_timeout,
            routes=self._carriers, book=self._claims, pipeline=self._dispatcher,
        )  # fmt: skip
        self._sweeper = Sweeper(
            db, stats=self._stats, carriers=self._carriers, instances=self._lease,
            interval=sweep_interval, db_timeout=db_timeout,
        )  # fmt: skip

    # --- contract ------------------------------------------------------------------------

    def stats(self) -> DaemonStats:
        self._stats.instance_id = self._lease.id
        self._stats.carriers = {name: r.carrier.health() for name, r in self._carriers.runners.items()}
        return self._stats

    @property
    def instance_id(self) -> int:
        return self._lease.id

    @property
    def config(self) -> Config:
        """The running configuration (replaced by a reload)."""
        return self._carriers.config

    def held_slots(self) -> dict[str, list[int]]:
        """The bind slots this instance runs, by carrier (bridge/ops ``/health``)."""
        return {name: list(r.slots) for name, r in self._carriers.runners.items()}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await self._lease.register()
            await nursery.start(self._lease.run)
            await self._slots.connect(nursery)
            # Start-up recovery: parts left 'submitting' by dead instances (our
            # previous run included) are resolved before anything is claimed.
            await self._sweeper.recover()
            await self._analyze()
            await nursery.start(self._writer.run)
            nursery.start_soon(self._writer.run_inbound, self._inbound_receive)
            nursery.start_soon(self._dispatcher.run_late, self._late_receive)
            for cfg in self._carriers.config.carriers:
                await self._start_carrier(cfg)
            await nursery.start(self._claimer.run)
            await nursery.start(self._sweeper.run)
            nursery.start_soon(self._watch_slots)
            log.info("daemon ready", instance=self._lease.id, carriers=sorted(self._carriers.runners))
            task_status.started()
            await self._stopped.wait()
            nursery.cancel_scope.cancel()

    async def _analyze(self) -> None:
        """Fresh planner statistics for the pipeline's tables (docs/flush.md "Plans and batch sizes").

        Sends are usually loaded in bulk right before a daemon starts (a campaign,
        a benchmark); until autovacuum analyzes them, PostgreSQL plans the writer's
        batched lookups with estimates that are off by orders of magnitude.
        ANALYZE samples a bounded number of rows, so this stays cheap on big tables.
        """
        try:
            with trio.fail_after(max(self.db_timeout, 30.0)):
                await self._db.execute("ANALYZE messages, message_parts, ledger, parked_receipts")
        except db_errors() as exc:
            log.warning("ANALYZE at start-up failed", error=repr(exc))

    async def reload(self, new_config: Config, *, passwords: Mapping[str, str] | None = None) -> None:
        """SIGHUP: replace changed carriers, add new ones, stop removed ones; swap the routes."""
        async with self._reload_lock:
            if passwords is not None:
                self._passwords.update(passwords)
            old = {c.name: c for c in self._carriers.config.carriers}
            new = {c.name: c for c in new_config.carriers}
            changed = [n for n in new if n in old and new[n] != old[n]]
            removed = [n for n in old if n not in new]
            added = [n for n in new if n not in old]
            for name in removed + changed:
                await self._stop_carrier(name, new_config.daemon.drain_timeout.seconds)
                self._waiting.pop(name, None)
            self._carriers.replace(new_config, removed=removed, renewed=changed + added)
            self._writer.set_webhooks(new_config.webhooks.enabled, new_config.webhooks.default_url)
            for name in changed + added:
                await self._start_carrier(new[name])
            self._claimer.wake()
            log.info("configuration reloaded", added=added, removed=removed, replaced=changed)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 (contract)
        """SIGTERM: stop claiming, finish in-flight parts, stop carriers, flush, mark stopped."""
        if self._draining:
            await self._stopped.wait()
            return
        self._draining = True
        self._dispatcher.closed = True
        deadline = trio.current_time() + timeout
        self._claimer.stop()
        with trio.move_on_at(deadline - min(2.0, timeout / 4)):
            await self._claims.wait_resolved()
        for name in list(self._lives):
            await self._stop_carrier(name, max(0.1, deadline - trio.current_time() - 1.0))
        with trio.move_on_at(deadline):
            await self._writer.wait_idle()
        await self._lease.stop()
        await self._slots.close()
        self._stopped.set()

    # --- carriers --------------------------------------------------------------------------

    def _slot_limit(self, cfg: CarrierConfig) -> int:
        total = len(cfg.slot_modes)
        return total if self._max_binds is None else min(total, self._max_binds)

    async def _start_carrier(self, cfg: CarrierConfig, held: list[int] | None = None) -> None:
        """Take bind slots (or run the ``held`` ones) and start the carrier on them."""
        assert self._nursery is not None
        slots = held or []
        if held is None:
            try:
                slots = sorted(await self._slots.take(cfg.name, slot_order(cfg.slot_modes), self._slot_limit(cfg)))
            except db_errors() as exc:
                log.warning("bind slots unavailable", carrier=cfg.name, error=repr(exc))
        if not slots:
            self._waiting[cfg.name] = cfg
            log.info("no free bind slot; carrier waits", carrier=cfg.name)
            return
        self._waiting.pop(cfg.name, None)
        carrier = Carrier(
            cfg, slots=slots,
            password=self._passwords.get(cfg.name, ""),
            inbound=self._inbound_send.clone(),
            metrics=self._stats.carrier(cfg.name).metrics,
            **{"on_late": self._dispatcher.on_late, **self._carrier_options},
        )  # fmt: skip
        if not carrier.submit_slots:
            log.info("only receiver bind slots here; this daemon does not submit to the carrier",
                     carrier=cfg.name, slots=slots)  # fmt: skip
        capacity = len(carrier.submit_slots) * cfg.window
        send, receive = trio.open_memory_channel[tuple[ClaimedPart, SubmitSm]](4 * capacity + 1000)
        rules = self._carriers.rules[cfg.name]
        runner = CarrierRunner(
            rules=rules, carrier=carrier, slots=slots, send=send,
            receive=receive, cancel=trio.CancelScope(),
        )  # fmt: skip
        life = _Life(runner, trio.Event())
        querier = None
        if cfg.query_sm and carrier.can_query():
            querier = Querier(
                self._db, rules=rules, carrier=carrier, stats=self._stats,
                put_receipt=self._writer.put_receipt, instances=self._lease, db_timeout=self.db_timeout,
            )  # fmt: skip

        dispatcher = self._dispatcher

        async def live(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with runner.cancel:
                async with trio.open_nursery() as inner:
                    await inner.start(carrier.run)
                    if querier is not None:
                        inner.start_soon(querier.run)
                    async with trio.open_nursery() as submitters:
                        for _ in range(capacity):
                            submitters.start_soon(runner.submitter, dispatcher.deliver, dispatcher.on_submit,
                                                  self._lease.valid)  # fmt: skip
                        task_status.started()
                    life.done.set()  # every queued part was submitted or released
                    await trio.sleep_forever()

        await self._nursery.start(live)
        self._carriers.runners[cfg.name] = runner
        self._lives[cfg.name] = life
        self._claims.wake()  # room for claims

    async def _stop_carrier(self, name: str, timeout: float, *, release: bool = True) -> None:  # noqa: ASYNC109
        life = self._lives.pop(name, None)
        self._carriers.runners.pop(name, None)
        if life is None:
            return
        runner = life.runner
        await runner.send.aclose()
        await runner.carrier.stop(timeout)
        with trio.move_on_after(timeout + 1.0):
            await life.done.wait()
        runner.cancel.cancel()
        if not release:
            return
        try:
            await self._slots.release(name)
        except db_errors():
            pass

    async def _take_freed_slots(self, runner: CarrierRunner) -> None:
        """Slots another daemon held and freed (it stopped or died): take them, and run
        the carrier on all it holds now. Without this, a daemon left with only rx
        slots would never submit to the carrier again."""
        cfg = runner.rules.config
        if self._slot_limit(cfg) <= len(runner.slots):
            return
        async with self._reload_lock:  # a reload may be replacing this carrier
            room = self._slot_limit(cfg) - len(runner.slots)
            if self._carriers.runners.get(cfg.name) is not runner or self._draining or room <= 0:
                return
            order = [i for i in slot_order(cfg.slot_modes) if i not in runner.slots]
            got = await self._slots.take(cfg.name, order, room)
            if got:
                log.info("bind slots freed elsewhere; restarting carrier with them", carrier=cfg.name,
                         slots=sorted(runner.slots), added=got)  # fmt: skip
                await self._stop_carrier(cfg.name, 5.0, release=False)
                await self._start_carrier(cfg, held=sorted(runner.slots + got))

    async def _watch_slots(self) -> None:
        """Keep the bind-slot connection; after losing it, stop binds whose slots went elsewhere."""
        assert self._nursery is not None
        interval = self._carriers.config.daemon.heartbeat_interval.seconds
        while True:
            with trio.move_on_after(interval):
                await self._slots.lost.wait()
            if self._draining:
                return
            if self._slots.lost.is_set() or not await self._slots.ping():
                await self._slots.close()
                try:
                    await self._slots.connect(self._nursery)
                    lost = await self._slots.retake()
                except self._slot_errors as exc:
                    log.warning("bind-slot connection down; binds stay up", error=repr(exc))
                    await trio.sleep(min(interval, 1.0))
                    continue
                for name in lost:
                    rules = self._carriers.rules_of(name)
                    cfg = rules.config if rules is not None else None
                    log.warning("bind slot taken elsewhere meanwhile; restarting carrier", carrier=name)
                    await self._stop_carrier(name, 5.0)
                    if cfg is not None:
                        await self._start_carrier(cfg)
            for cfg in list(self._waiting.values()):
                await self._start_carrier(cfg)
            for runner in list(self._carriers.runners.values()):
                try:
                    await self._take_freed_slots(runner)
                except self._slot_errors as exc:
                    log.warning("bind slots unavailable", carrier=runner.name, error=repr(exc))
