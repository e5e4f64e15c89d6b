"""The SMSC simulator: a trio TCP server of :class:`~bridge.simulator.session.Session`\\ s.

::

    sim = Simulator(SimulatorConfig(...))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, "127.0.0.1", 0)
        ...
        nursery.cancel_scope.cancel()

State shared by all connections lives here: the one seeded random generator, the
message id generator, the outcome picker, the accounts (binds and receipt backlogs
per system_id), the counters, and the MO generator task.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import NamedTuple

import structlog
import trio

from bridge.simulator.config import SimulatorConfig
from bridge.simulator.deliveries import Account, Delivery
from bridge.simulator.ids import make_id_generator
from bridge.simulator.link import Link
from bridge.simulator.probes import ProbeNetworks
from bridge.simulator.receipts import OutcomePicker, ReceiptClock, Verdict, build_mo
from bridge.simulator.session import Session
from bridge.simulator.stats import SimulatorStats
from bridge.simulator.store import MessageStore
from bridge.smpp.constants import CommandStatus, Ton
from bridge.smpp.pdus import SubmitSm

log = structlog.get_logger("bridge.simulator")

#: How often the MO generator wakes at most (it sends every MO due since).
_MO_TICK = 0.01
#: Errors kept from crashed connection handlers (tests assert there are none).
_ERRORS_KEPT = 100


class HandsetDelivery(NamedTuple):
    """What the destination handset saw: for sender-integrity checks (seed 004)."""

    destination: str
    sender_seen: str
    sender_sent: str
    message_id: str


class Simulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config if config is not None else SimulatorConfig()
        self.rng = random.Random(config.seed)
        self.stats = SimulatorStats()
        self.clock = ReceiptClock()
        self.picker = OutcomePicker(config, self.rng)
        self.next_id = make_id_generator(config.message_id_format, self.rng)
        self.accounts: dict[str, Account] = {}
        self.sessions: set[Link] = set()
        self.handsets: deque[HandsetDelivery] = deque(maxlen=config.handset_log)
        self.errors: deque[BaseException] = deque(maxlen=_ERRORS_KEPT)
        self.port: int | None = None
        self._binds_changed = trio.Event()
        # Hot-path copies of the fault knobs (0.0 = off, no random draw).
        self.disconnect_p = config.disconnect
        self.queue_full_p = config.queue_full
        self.throttle_status = config.throttle_status
        # Ids longer than bridge.smpp encodes: their responses are written raw (ids.py).
        self.oversized_ids = config.message_id_format in ("hex70", "hex255")
        self.before_resp_p = config.receipt_before_resp
        self.late_resp_p = config.late_resp
        self.no_resp_p = config.no_resp
        self._delay_low, self._delay_high = config.receipt_delay
        self._rewrites = config.sender_rewrites
        self.store = MessageStore(config.message_store)
        self._store_on = config.message_store > 0
        self.lose_p = config.lose_receipts
        self._log_handsets = config.handset_log > 0
        self.probes = ProbeNetworks(config)

    # --- serving -------------------------------------------------------------------
    async def serve(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen (defaults from the config) and serve until cancelled; reports the port."""
        host = self.config.host if host is None else host
        port = self.config.port if port is None else port
        listeners = await trio.open_tcp_listeners(port, host=host)
        if port == 0 and len(listeners) > 1:
            # A name with several addresses ("localhost": IPv4 and IPv6) and port 0
            # gives each listener its own port; serve the first, report one port.
            for extra in listeners[1:]:
                await extra.aclose()
            listeners = listeners[:1]
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            if self.config.mo.rate > 0:
                nursery.start_soon(self._mo_loop)
            task_status.started(self.port)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.stats.connections += 1
        try:
            await Session(self, stream).run()
        except Exception as exc:  # one broken connection must not stop the simulator
            self.errors.append(exc)
            log.exception("simulator connection failed")

    # --- accounts ------------------------------------------------------------------
    def bind_status(self, system_id: str, password: str) -> int:
        """0 to accept; ESME_RINVSYSID / ESME_RINVPASWD (SMPP 3.4 section 5.1.3)."""
        accounts = self.config.accounts
        if not accounts:
            return 0
        expected = accounts.get(system_id)
        if expected is None:
            return CommandStatus.ESME_RINVSYSID
        if expected != password:
            return CommandStatus.ESME_RINVPASWD
        return 0

    def account(self, system_id: str) -> Account:
        account = self.accounts.get(system_id)
        if account is None:
            account = self.accounts[system_id] = Account(self, system_id)
        return account

    def binds_changed(self) -> None:
        """A bind came or went: wake ``wait_bound`` callers."""
        self._binds_changed.set()
        self._binds_changed = trio.Event()

    async def wait_bound(self, count: int, system_id: str | None = None) -> None:
        """Wait until exactly ``count`` connections (of ``system_id``) are bound: for
        tests of reconnects and pools. Bound it with ``trio.fail_after``."""
        while len(self.bound_sessions(system_id)) != count:
            await self._binds_changed.wait()

    def bound_sessions(self, system_id: str | None = None) -> list[Link]:
        """Bound connections (of one system_id), for tests and the CLI."""
        return [
            session
            for account in self.accounts.values()
            if system_id is None or account.system_id == system_id
            for session in account.sessions
        ]

    def drop(self, system_id: str | None = None) -> int:
        """Cut the TCP connections (of one system_id) without an unbind; how many."""
        sessions = [s for s in self.sessions if system_id is None or s.system_id == system_id]
        for session in sessions:
            session.abort()
        return len(sessions)

    def unbind(self, system_id: str | None = None) -> int:
        """Send an SMSC-initiated unbind on every bound connection (of one system_id)."""
        sessions = self.bound_sessions(system_id)
        for session in sessions:
            session.unbind()
        return len(sessions)

    # --- per message ---------------------------------------------------------------
    def receipt_delay(self) -> float:
        low, high = self._delay_low, self._delay_high
        return low if low == high else self.rng.uniform(low, high)

    def late_resp_delay(self) -> float:
        low, high = self.config.late_resp_delay
        return low if low == high else self.rng.uniform(low, high)

    def remember(self, submit: SubmitSm, message_id: str, verdict: Verdict, final_at: float) -> None:
        """Keep an accepted message for query_sm (store.py)."""
        if self._store_on:
            self.store.remember(
                message_id,
                (submit.source_addr_ton, submit.source_addr_npi, submit.source_addr, verdict, final_at),
            )

    def lose(self) -> bool:
        """Whether this final receipt is lost (``lose_receipts``); counted."""
        if self.lose_p and self.rng.random() < self.lose_p:
            self.stats.receipts_lost += 1
            return True
        return False

    def record_handset(self, submit: SubmitSm, message_id: str) -> None:
        """Apply sender rewriting and log what the handset saw."""
        sender = submit.source_addr
        for rule in self._rewrites:
            if submit.destination_addr.startswith(rule.dest_prefix) and (
                not rule.alphanumeric_only or submit.source_addr_ton == Ton.ALPHANUMERIC
            ):
                sender = rule.sender
                self.stats.senders_rewritten += 1
                break
        if self._log_handsets:
            self.handsets.append(
                HandsetDelivery(submit.destination_addr, sender, submit.source_addr, message_id)
            )

    # --- MO ------------------------------------------------------------------------
    async def _mo_loop(self) -> None:
        """Send MO at ``mo.rate`` per second, ``mo.count`` in all, round robin over the
        receiver binds of the configured accounts; the clock only runs while one is up."""
        mo = self.config.mo
        wanted = set(mo.system_ids)
        sent = 0
        started: float | None = None
        turn = 0
        tick = max(_MO_TICK, min(1.0 / mo.rate, 1.0))
        while mo.count == 0 or sent < mo.count:
            await trio.sleep(tick)
            now = trio.current_time()
            accounts = [
                a for a in self.accounts.values()
                if a.receivers and (not wanted or a.system_id in wanted)
            ]  # fmt: skip
            if not accounts:
                started = None  # nobody to send to: do not build up a burst
                continue
            if started is None:
                started = now - 1.0 / mo.rate  # the first one goes at once
            due = math.floor((now - started) * mo.rate) - sent
            if mo.count:
                due = min(due, mo.count - sent)
            for _ in range(max(due, 0)):
                sent += 1
                pdu = build_mo(sent, text=mo.text, source=mo.source, destination=mo.destination)
                account = accounts[turn % len(accounts)]
                turn += 1
                account.route(Delivery(mo=pdu), due=now, now=now)
