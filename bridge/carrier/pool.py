"""A carrier: N bind slots sharing one token bucket and one submit path.

Slots. Each configured bind is a slot task that connects, binds, serves and, when
the bind ends, reconnects after a capped jittered backoff. The loop is
sequential, so a slot never has two live binds (gosmpp's duplicate-bind bug):
the next connect starts only after the previous session's nursery ended and its
stream was closed.

Modes. Each slot has its bind mode (config ``binds``, SMPP 3.4 section 2.2):
submits go only to tx and trx slots (``submit_slots``; a receiver may not submit,
section 2.2.2), and receipts and MO come in on rx and trx slots
(``receive_slots``), all of them the carrier's. Every window place handed out
(``_free_slot``, ``_take``) is on a tx or trx slot, so anything written through
the submit path (query_sm too) goes to a bind that may transmit.

Submit path: submitting.py (window places, tokens, writes, outcomes, retries). A
part that was written and not answered is Unknown (the daemon decides), and a
part that was never written raises CarrierClosed during a stop (requeue it).

Faults. No exception from one bind ends the carrier: a bind whose tasks raise
is logged (error, with the traceback), counted in ``internal_errors`` and
closed, and its slot reconnects after the backoff like after any disconnect
(session.py handles what its peer's PDUs trigger; the slot loop is the net
under it). A dispatcher callback that raises from a retry task is logged and
counted, never raised into this nursery.
"""

from __future__ import annotations

import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import structlog
import trio
from trio.lowlevel import Task

from bridge.carrier.backoff import Backoff, BackoffPolicy
from bridge.carrier.errors import BindLost, BindRefused
from bridge.carrier.policy import RetryPolicy
from bridge.carrier.session import Session
from bridge.carrier.submitting import SubmitPath
from bridge.carrier.throttle import Throttle
from bridge.carrier.types import (
    BindHealth,
    CarrierHealth,
    Inbound,
    LateResponse,
)
from bridge.ops.counters import CarrierMetrics
from bridge.smpp.constants import describe
from bridge.smpp.pdus import Pdu
from config.schema import BindMode as ConfigBindMode
from config.schema import Carrier as CarrierConfig

log = structlog.get_logger("bridge.carrier")

Connect = Callable[[str, int], Awaitable[trio.abc.Stream]]
RECONNECT_BACKOFF = BackoffPolicy(base=1.0, factor=2.0, cap=60.0)


def _last_answer(session: Session | None) -> tuple[float | None, float | None]:
    """When the SMSC last answered this bind and the round trip: its last response
    (enquire_link included), else its bind_resp (no round trip)."""
    if session is None:
        return None, None
    last = session.last_answer()
    return (session.bound_at, None) if last is None else last


class _Slot:
    __slots__ = (
        "bind_failures",
        "binds",
        "connect_failures",
        "index",
        "mode",
        "reserved",
        "session",
        "started",
        "state",
    )

    def __init__(self, index: int, mode: ConfigBindMode) -> None:
        self.index = index
        self.mode = mode
        self.session: Session | None = None  # set while bound (a tx or trx one may submit)
        self.reserved = 0  # submits holding a window place on this slot
        self.state = "down"
        self.binds = 0
        self.bind_failures = 0
        self.connect_failures = 0
        self.started = False


class Carrier(SubmitPath):
    """See the module docstring and docs/carrier.md. The submit path (window
    places, submit, submit_nowait, query) is in submitting.py."""

    def __init__(
        self,
        cfg: CarrierConfig,
        *,
        password: str,
        inbound: trio.MemorySendChannel[Inbound] | None,
        connect: Connect | None = None,
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        reconnect: BackoffPolicy = RECONNECT_BACKOFF,
        ssl_context: ssl.SSLContext | None = None,
        on_late: Callable[[LateResponse], None] | None = None,
        connect_timeout: float | None = None,
        slots: Sequence[int] | None = None,
        metrics: CarrierMetrics | None = None,
    ) -> None:
        """``slots``: the indices of the configured bind slots this pool runs (all by
        default; a daemon runs those whose lease it holds, bridge/dispatch/instances.py)."""
        self.cfg = cfg
        self.name = cfg.name
        self._password = password
        self._inbound = inbound
        self._connect = connect or self._open_stream
        self._rng = rng or random.Random()
        self.policy = policy or RetryPolicy.from_config(cfg)
        self.throttle = throttle or Throttle(cfg.tps)
        self._reconnect = reconnect
        self._ssl_context = ssl_context
        self._late_callback = on_late
        # TCP + TLS handshake (name lookup too); the carrier's config unless a test overrides it
        self._connect_timeout = cfg.connect_timeout.seconds if connect_timeout is None else connect_timeout
        self._serial = 0
        modes = cfg.slot_modes
        self._slots = [_Slot(i, modes[i]) for i in (range(len(modes)) if slots is None else slots)]
        # The slots a submit may take a window place on: tx and trx binds only.
        self._transmitters = [s for s in self._slots if s.mode.transmits]
        self._window = cfg.window
        self._can_submit = bool(self._transmitters)
        self._rr = 0
        self._waiters: deque[Task] = deque()  # submitters parked for a window place
        self._in_flight = 0  # window places taken, all slots
        self._drained = trio.Event()
        self._stopping = False
        self._stop_requested = trio.Event()  # wakes parts sleeping between retries
        self._stopped = trio.Event()
        self._cancel: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None  # run()'s: retries of submit_nowait
        self.log = log.bind(carrier=cfg.name)
        # counters (health, metrics)
        self.late_responses = 0
        self.unknown = 0
        self.throttled = 0
        self.internal_errors = 0  # exceptions caught at a bind or callback (logged, never raised)
        self.metrics = metrics if metrics is not None else CarrierMetrics()  # bridge/ops

    # --- status ------------------------------------------------------------------
    @property
    def up(self) -> bool:
        """At least one bind is bound, of any mode."""
        return any(s.session is not None and s.session.alive for s in self._slots)

    @property
    def submit_slots(self) -> tuple[int, ...]:
        """The slots whose binds may submit (tx, trx), bound or not."""
        return tuple(s.index for s in self._transmitters)

    @property
    def receive_slots(self) -> tuple[int, ...]:
        """The slots whose binds get deliver_sm, receipts and MO (rx, trx)."""
        return tuple(s.index for s in self._slots if s.mode.receives)

    @property
    def can_submit(self) -> bool:
        """A bind that may submit is bound now (the router fails over when False)."""
        return any(s.session is not None and s.session.usable for s in self._transmitters)

    def health(self) -> CarrierHealth:
        binds = []
        for slot in self._slots:
            session = slot.session
            last_at, last_rtt = _last_answer(session)
            binds.append(BindHealth(
                slot=slot.index,
                mode=slot.mode.value,
                state=session.conn.state.value if session is not None else slot.state,
                bound=session is not None and session.usable,
                enquire_link_rtt=session.enquire_link_rtt if session is not None else None,
                window_used=session.window_used if session is not None else 0,
                window_size=self._window,
                binds=slot.binds,
                bind_failures=slot.bind_failures,
                connect_failures=slot.connect_failures,
                last_response_at=last_at,
                last_response_rtt=last_rtt,
            ))
        return CarrierHealth(
            carrier=self.name, up=self.up, can_submit=self.can_submit, binds=tuple(binds),
            throttle_rate=self.throttle.rate, max_rate=self.throttle.max_rate,
            throttled=self.throttle.throttled, late_responses=self.late_responses,
            unknown=self.unknown, internal_errors=self.internal_errors + sum(
                s.session.internal_errors for s in self._slots if s.session is not None),
        )

    # --- running -----------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the binds up until stop(). Reports started once every slot's
        first bind attempt finished, bound or not."""
        pending = len(self._slots)
        first_done = trio.Event()

        def slot_started(slot: _Slot) -> None:
            nonlocal pending
            if not slot.started:
                slot.started = True
                pending -= 1
                if pending == 0:
                    first_done.set()

        try:
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope
                self._nursery = nursery
                for slot in self._slots:
                    nursery.start_soon(self._run_slot, slot, slot_started)
                await first_done.wait()
                task_status.started()
        finally:
            self._nursery = None
            self._stopping = True
            self._stop_requested.set()
            self._fail_waiters()
            self._stopped.set()

    async def _run_slot(self, slot: _Slot, started: Callable[[_Slot], None]) -> None:
        backoff = Backoff(self._reconnect, self._rng)
        slog = self.log.bind(slot=slot.index)
        cfg = self.cfg
        # One warning when the slot fails to come up (or back), the retries after it at
        # debug with their count; "bound" (info) and "bind_closed" (warning) mark the changes.
        streak = 0
        while not self._stopping:
            slot.state = "connecting"
            try:
                with trio.fail_after(self._connect_timeout):
                    stream = await self._connect(cfg.host, cfg.port)
            except (OSError, trio.TooSlowError, trio.BrokenResourceError) as exc:
                slot.connect_failures += 1
                (slog.debug if streak else slog.warning)("connect_failed", error=repr(exc),
                                                         failures=slot.connect_failures)
                streak += 1
            except Exception as exc:  # a fault, not the network: logged, and tried again
                slot.connect_failures += 1
                self.internal_errors += 1
                slog.error("connect_failed", error=repr(exc), failures=slot.connect_failures,
                           exc_info=exc)
            else:
                self._serial += 1
                session = Session(cfg, stream, password=self._password, inbound=self._inbound,
                                  on_late=self._on_late,
                                  on_orphan_done=lambda: self._orphan_done(slot),
                                  slot=slot.index, serial=self._serial, mode=slot.mode,
                                  metrics=self.metrics)
                try:
                    await session.run(on_bound=lambda s: self._on_bound(slot, s, started))
                except BindRefused as exc:
                    slot.bind_failures += 1
                    (slog.debug if streak else slog.warning)("bind_refused", status=describe(exc.status),
                                                             failures=slot.bind_failures)
                    streak += 1
                except BindLost as exc:
                    slot.bind_failures += 1
                    (slog.debug if streak else slog.warning)("bind_lost", reason=str(exc),
                                                             failures=slot.bind_failures)
                    streak += 1
                except Exception as exc:
                    # A task of this bind raised past session.py's own handling:
                    # the bind is over (its stream closed, its submits resolved),
                    # the carrier and the daemon go on, the slot reconnects.
                    self.internal_errors += 1
                    slog.error("bind_failed_internally", error=repr(exc), exc_info=exc)
                finally:
                    if slot.session is session:
                        slot.session = None
                    self.internal_errors += session.internal_errors
                if session.bound:
                    backoff.reset()
                    streak = 0
            slot.state = "down"
            started(slot)
            if self._stopping:
                break
            await trio.sleep(backoff.next())

    def _on_bound(self, slot: _Slot, session: Session,
                  started: Callable[[_Slot], None]) -> None:
        slot.binds += 1
        slot.state = "bound"
        slot.session = session
        if slot.mode.transmits:
            self._hand_out(slot)
        started(slot)  # a bound slot has finished its first attempt

    def _on_late(self, session: Session, pdu: Pdu) -> None:
        self.late_responses += 1
        ref = f"{session.serial}:{pdu.sequence_number}"
        session.limits.warning("late_response", ref=ref, status=pdu.command_status,
                               late_responses=self.late_responses)
        if self._late_callback is not None:
            message_id = getattr(pdu, "message_id", None) if pdu.command_status == 0 else None
            self._late_callback(LateResponse(carrier=self.name, ref=ref,
                                             status=pdu.command_status, message_id=message_id))

    def _orphan_done(self, slot: _Slot) -> None:
        # A cancelled submit's PDU was answered or timed out: its place in the
        # bind's window is free again.
        if self._waiters and not self._stopping:
            self._hand_out(slot)

    # --- stopping ------------------------------------------------------------------
    async def stop(self, timeout: float, *, unbind_timeout: float = 2.0) -> None:  # noqa: ASYNC109 (contract)
        """No new submits; wait for the windows to drain until ``timeout``; unbind
        every bind under a shielded timeout (house rule 5); close."""
        self._stopping = True
        self._stop_requested.set()
        self._fail_waiters()
        with trio.move_on_after(timeout):
            if self._in_flight:
                await self._drained.wait()
        with trio.move_on_after(unbind_timeout, shield=True):
            async with trio.open_nursery() as nursery:
                for slot in self._slots:
                    if slot.session is not None:
                        nursery.start_soon(slot.session.unbind)
        if self._cancel is not None:
            self._cancel.cancel()
            await self._stopped.wait()

    # --- transport -------------------------------------------------------------------
    async def _open_stream(self, host: str, port: int) -> trio.abc.Stream:
        tcp = await trio.open_tcp_stream(host, port)  # trio sets TCP_NODELAY
        if not self.cfg.tls:
            return tcp
        context = self._ssl_context or self._default_ssl_context()
        stream = trio.SSLStream(tcp, context, server_hostname=host)
        try:
            await stream.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return stream

    def _default_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cfg.tls_ca_file)
        if not self.cfg.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
