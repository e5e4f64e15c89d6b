"""Daemon instances on one database: a heartbeat lease and bind slots.

Several daemons may share one PostgreSQL database. Each keeps a row in
``daemon_instances`` whose ``lease_until`` it pushes forward every
``daemon.heartbeat_interval``; the parts it claims carry its id in
``owner_instance``. Recovery (sweeper.py) touches only the parts of instances
whose lease has expired (or that stopped), so a live daemon's in-flight parts
are never resubmitted by another one.

The lease is also checked locally: ``Lease.valid()`` is false once the last
successful heartbeat is older than the lease minus a margin, and the claimers
stop submitting then, because another daemon may already be recovering our
parts. When a heartbeat finds the row's lease expired, the instance registers a
new row: the parts of the old id are recovered like those of any dead daemon.

Bind slots: a carrier allows ``binds`` sessions per account, across all
daemons. Slot i of carrier c is the session advisory lock
``(hashtext('smpp-bridge:' || c), i)`` held on ONE dedicated, unpooled
connection (``bridge.store.db.open_connection``); PostgreSQL releases it when
that connection ends, so a crashed daemon frees its slots by itself.

Each slot has the mode of its bind (``Carrier.slot_modes``: slot i is the i-th
bind of the configuration, groups in file order, so ``binds = N`` keeps the keys
it always had). A daemon tries a carrier's slots in ``slot_order``: one that may
submit, then one that receives, and so on, so a daemon limited to a few binds
gets both kinds where it can; one that holds only rx slots receives the
carrier's receipts and MO and never submits to it (the router sees no tx bind).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import Protocol

import structlog
import trio

from bridge.logs import Outage
from bridge.store.db import Connection, Database, db_errors, open_connection
from config.schema import BindMode

__all__ = ["BindSlots", "Lease", "LiveInstances", "slot_order"]

log = structlog.get_logger("bridge.dispatch.instances")


class LiveInstances(Protocol):
    """The instance rows of this process whose parts may still be in its pipeline
    (``Lease``): recovery and queries leave those parts alone."""

    @property
    def live_ids(self) -> AbstractSet[int]: ...


class Lease:
    """This daemon's ``daemon_instances`` row and its heartbeat lease."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        lease: float,
        heartbeat: float,
        db_timeout: float,
    ) -> None:
        self._db = db
        self.name = name
        self.lease = lease
        self.heartbeat = heartbeat
        self.db_timeout = db_timeout
        self.id: int = 0
        # Rows of this process whose parts may still be in its pipeline: recovery
        # (ours and other daemons' while the lease runs) leaves them alone.
        self.live_ids: set[int] = set()
        # Former ids (see ``rotate``) waiting for their last claimed part to be resolved.
        self.retiring: set[int] = set()
        self.needs_rotation = False
        # Local (trio clock) deadline until which our row's lease surely holds:
        # the time the renewing statement was *sent* plus the lease, minus a
        # margin for clock skew between us and the server.
        self._valid_until = 0.0

    def valid(self, now: float | None = None) -> bool:
        """``now``: the caller's trio clock reading, if it has one (the dispatcher, per part)."""
        return (trio.current_time() if now is None else now) < self._valid_until

    async def register(self) -> int:
        """Insert our row; rows of crashed daemons on this host (our previous run) end now.

        A row of this host whose process is gone (``pid`` not alive here) is a
        daemon that crashed: it is marked stopped so start-up recovery resolves
        its parts at once instead of after its lease. A live process on the
        same host (another daemon) keeps its row.
        """
        sent = trio.current_time()
        host = socket.gethostname()
        with trio.fail_after(self.db_timeout):
            async with self._db.transaction() as tx:
                rows = await tx.fetch(
                    "SELECT id, pid FROM daemon_instances WHERE hostname = $1 AND stopped_at IS NULL",
                    host,
                )
                crashed = [r["id"] for r in rows if r["id"] not in self.live_ids and not _pid_alive(r["pid"])]
                if crashed:
                    await tx.execute(
                        "UPDATE daemon_instances SET stopped_at = now(), lease_until = least(lease_until, now())"
                        " WHERE id = ANY($1::bigint[])",
                        crashed,
                    )
                instance_id: int = await tx.fetchval(
                    "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
                    " VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING id",
                    self.name, host, os.getpid(), self.lease,
                )  # fmt: skip
        if self.id:
            self.retiring.add(self.id)
        self.id = instance_id
        self.live_ids.add(instance_id)
        self._valid_until = sent + self.lease * 0.8
        log.info("instance registered", instance=self.id, name=self.name, crashed_before=crashed)
        return instance_id

    async def renew(self) -> bool:
        """Push the lease forward; False (and a new row) when it had already expired."""
        sent = trio.current_time()
        with trio.fail_after(self.db_timeout):
            renewed = await self._db.fetchval(
                "UPDATE daemon_instances SET heartbeat_at = now(),"
                " lease_until = now() + make_interval(secs => $2)"
                " WHERE id = $1 AND stopped_at IS NULL AND lease_until > now() RETURNING id",
                self.id, self.lease,
            )  # fmt: skip
        if renewed is not None:
            self._valid_until = sent + self.lease * 0.8
            return True
        log.warning("instance lease expired; registering a new instance", instance=self.id)
        await self.register()
        return False

    async def rotate(self) -> None:
        """Claim under a new row from now on; the old one retires when its parts are resolved.

        Used when a claim statement failed without an answer: PostgreSQL may have
        committed it, leaving parts ``submitting`` under our id that our pipeline
        never saw. Once every part we do know of under the old id is resolved, the
        old row is marked stopped and whatever it still owns is recovered by policy
        (by us or any daemon), instead of staying in limbo.
        """
        await self.register()
        self.needs_rotation = False

    async def retire(self, instance_id: int) -> None:
        with trio.fail_after(self.db_timeout):
            await self._db.execute(
                "UPDATE daemon_instances SET stopped_at = now(), lease_until = least(lease_until, now())"
                " WHERE id = $1",
                instance_id,
            )
        self.retiring.discard(instance_id)
        self.live_ids.discard(instance_id)
        log.info("former instance row retired", instance=instance_id)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        outage = Outage(log)  # one line when heartbeats start failing, one when they work again
        while True:
            await trio.sleep(self.heartbeat)
            try:
                await self.renew()
                outage.ok()
            except db_errors() as exc:
                outage.failed("heartbeat failed", error=repr(exc))
            except Exception:
                log.exception("heartbeat failed")

    async def stop(self) -> None:
        with trio.move_on_after(self.db_timeout, shield=True):
            await self._db.execute(
                "UPDATE daemon_instances SET stopped_at = now(), lease_until = now() WHERE id = $1",
                self.id,
            )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def slot_order(modes: Sequence[BindMode]) -> list[int]:
    """The order to try slots in: transmitters (trx first, they also receive) and
    receivers (rx) alternating, then the rest of either."""
    send = [i for i, m in enumerate(modes) if m is BindMode.TRX]
    send += [i for i, m in enumerate(modes) if m is BindMode.TX]
    receive = [i for i, m in enumerate(modes) if m is BindMode.RX]
    order: list[int] = []
    for k in range(max(len(send), len(receive))):
        order += send[k : k + 1] + receive[k : k + 1]
    return order


# The rows of unnest come in array order and LIMIT stops the scan, so a lock is
# tried only until ``limit`` are held, in the order given.
_TRY_SLOTS = """
SELECT s FROM unnest($2::int[]) AS s
WHERE pg_try_advisory_lock(hashtext('smpp-bridge:' || $1), s)
LIMIT $3
"""


class BindSlots:
    """Bind-slot advisory locks on one dedicated connection.

    If that connection is lost, PostgreSQL has released every slot we held.
    The binds stay up meanwhile (docs/design.md "Reliability rules": while the
    database is unreachable, receipts are answered ESME_RX_T_APPN and the binds
    stay up); when a
    connection is back, ``reconnect`` re-takes exactly the slots we held and
    reports the carriers whose slots could not all be re-taken: the daemon
    stops those carriers' binds before taking any slot for them again.
    """

    def __init__(self, dsn: str, *, db_timeout: float) -> None:
        self._dsn = dsn
        self.db_timeout = db_timeout
        self._conn: Connection | None = None
        self._close: Callable[[], Awaitable[None]] | None = None
        self.held: dict[str, list[int]] = {}
        self.lost = trio.Event()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def connect(self, nursery: trio.Nursery) -> None:
        """Open the dedicated connection in a task of ``nursery`` (it lives as long as that task)."""
        ready = trio.Event()
        closed = trio.Event()

        async def hold() -> None:
            try:
                async with open_connection(self._dsn, connect_timeout=self.db_timeout) as conn:
                    self._conn = conn
                    self.lost = trio.Event()
                    conn.raw.add_termination_listener(lambda _c: self.lost.set())
                    ready.set()
                    try:
                        await closed.wait()
                    finally:
                        # Abort the socket rather than close politely: on a black-holed
                        # path a graceful close waits for an answer that never comes
                        # (and bridge.store.db closes shielded). The server ends the
                        # session, and with it the locks, either way.
                        conn.raw.terminate()
            except db_errors() as exc:
                log.debug("bind-slot connection ended", error=repr(exc))
            finally:
                self._conn = None
                ready.set()

        async def close() -> None:
            closed.set()

        self._close = close
        nursery.start_soon(hold)
        await ready.wait()
        if self._conn is None:
            raise ConnectionError("bind-slot connection failed")

    async def close(self) -> None:
        if self._close is not None:
            await self._close()
        self._conn = None

    async def take(self, carrier: str, order: Sequence[int], limit: int) -> list[int]:
        """Take up to ``limit`` free slots of ``carrier``, tried in ``order`` (``slot_order``)."""
        if self._conn is None:
            return []
        with trio.fail_after(self.db_timeout):
            rows = await self._conn.fetch(_TRY_SLOTS, carrier, list(order), limit)
        slots = [int(r["s"]) for r in rows]
        self.held.setdefault(carrier, []).extend(slots)
        return slots

    async def release(self, carrier: str) -> None:
        slots = self.held.pop(carrier, [])
        if self._conn is None or not slots:
            return
        with trio.move_on_after(self.db_timeout, shield=True):
            await self._conn.execute(
                "SELECT pg_advisory_unlock(hashtext('smpp-bridge:' || $1), s) FROM unnest($2::int[]) AS s",
                carrier, slots,
            )  # fmt: skip

    async def ping(self) -> bool:
        if self._conn is None:
            return False
        try:
            with trio.fail_after(self.db_timeout):
                await self._conn.fetchval("SELECT 1")
            return True
        except db_errors():
            return False

    async def retake(self) -> set[str]:
        """After a new connection: re-take the slots held before; the carriers that lost one."""
        lost: set[str] = set()
        assert self._conn is not None
        for carrier, slots in list(self.held.items()):
            with trio.fail_after(self.db_timeout):
                got = await self._conn.fetch(
                    "SELECT s FROM unnest($2::int[]) AS s"
                    " WHERE pg_try_advisory_lock(hashtext('smpp-bridge:' || $1), s)",
                    carrier, slots,
                )  # fmt: skip
            kept = sorted(int(r["s"]) for r in got)
            if kept != sorted(slots):
                lost.add(carrier)
            self.held[carrier] = kept
        return lost
