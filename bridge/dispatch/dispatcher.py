"""The hot path: claimed parts -> carriers -> submit outcomes -> the writer.

``dispatch`` takes a claimed batch (claim.Claimer): for each part a carrier of
its route (router.py), its submit_sm (submit.py), then either written at once
(``CarrierRunner.submit_nowait``) or queued for the carrier's submitters. Every
outcome comes back through ``deliver`` and goes to the writer; a part no carrier
can take now is released to the queue (``Resolution.RELEASE``).

Late responses (docs/design.md "Reliability rules": a late resp is still applied):
a bind reports a submit_sm_resp that came after its submit ended Unknown
(``on_late``), the writer reports the commit of that Unknown outcome
(``run_late``); late.py pairs the two, in either order, and the id goes to the
writer as a ``Resolution.LATE_ACCEPT`` outcome.
"""

from __future__ import annotations

from bisect import bisect_left

import structlog
import trio

from bridge import logs
from bridge.carrier import LateResponse
from bridge.dispatch.instances import Lease
from bridge.dispatch.late import LateResponses
from bridge.dispatch.pacing import LOOP_SLICE
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.dispatch.running import RunningCarriers
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.submit import PayloadCache, build_submit_sm
from bridge.dispatch.writer import Writer
from bridge.logs import LogLimiter

__all__ = ["Dispatcher"]

log = structlog.get_logger("bridge.dispatch.dispatcher")
_limited = LogLimiter(log)  # lines a carrier's PDUs trigger (per carrier and kind)
_ACCEPTED, _RESUBMIT, _RELEASE = Resolution.ACCEPTED, Resolution.RESUBMIT, Resolution.RELEASE
_UNKNOWN, _UNKNOWN_FAIL = Resolution.UNKNOWN, Resolution.UNKNOWN_FAIL


class Dispatcher:
    def __init__(self, *, carriers: RunningCarriers, writer: Writer, stats: DaemonStats, lease: Lease) -> None:
        self._carriers = carriers
        self._writer = writer
        self._stats = stats
        self._lease_valid = lease.valid
        self._payloads = PayloadCache()
        self._late = LateResponses()
        self.closed = False  # draining: nothing more is claimed

    # --- claim.Pipeline -------------------------------------------------------------------

    def max_inflight(self) -> int:
        """Parts claimed and not yet resolved at most: two windows' worth per carrier."""
        return 0 if self.closed else 2 * self._carriers.capacity()

    async def dispatch(self, parts: list[ClaimedPart]) -> None:
        poll = self._carriers.config.daemon.poll_interval.seconds
        pick = self._carriers.picker()
        deliver, lease_valid, stats = self.deliver, self._lease_valid, self._stats
        payload_of = self._payloads.payload
        current_time = trio.current_time
        for i, part in enumerate(parts):
            if i % LOOP_SLICE == LOOP_SLICE - 1:
                # Building a claim's submit_sm PDUs takes tens of ms: let the other
                # tasks (database results, binds) in between, see pacing.py.
                await trio.lowlevel.checkpoint()
            runner = pick(part.route)
            if runner is None:
                deliver(Result(part, Resolution.RELEASE, delay=poll, reason="no_carrier_up"))
                continue
            wait, waited = runner.carrier.metrics.queue_wait, part.queued_for  # Histogram.observe, inlined
            wait.counts[bisect_left(wait.bounds, waited)] += 1
            wait.sum += waited
            cfg = runner.rules.config
            try:
                payload = payload_of(part, cfg.segmentation)
                pdu = None if payload is None else build_submit_sm(part, payload, cfg)
            except Exception:  # one odd part must not stop the daemon; it fails, refunded
                log.exception("cannot build submit_sm", message_id=part.message_id, seq=part.seq)
                pdu = None
            if pdu is None:
                deliver(Result(part, Resolution.INVALID, cfg.name, reason="segmentation_mismatch"))
                continue
            # One clock reading per part for the lease check, the TPS token and the write.
            if runner.submit_nowait(part, pdu, deliver, lease_valid, current_time()):
                stats.submitted += 1  # on_submit, inlined
                continue  # written; its outcome comes back through deliver
            try:
                runner.enqueue(part, pdu)
            except (trio.WouldBlock, trio.ClosedResourceError):
                deliver(Result(part, Resolution.RELEASE, delay=poll, reason="carrier_busy"))

    # --- submit outcomes (CarrierRunner's callbacks) ---------------------------------------

    def on_submit(self) -> None:
        self._stats.submitted += 1

    def deliver(self, result: Result) -> None:
        resolution = result.resolution
        if resolution is _ACCEPTED:  # the common case first
            if result.id_key is None:
                self._count_unusable(result.carrier or "")
        elif resolution is _RESUBMIT:
            self._stats.unknown += 1
            self._stats.resubmitted += 1
        elif resolution is _UNKNOWN_FAIL or resolution is _UNKNOWN:
            self._stats.unknown += 1
        elif resolution is _RELEASE:
            self._stats.released += 1
        if logs.DEBUG:  # one line per part at debug only: journald drops floods at info
            part = result.part
            log.debug("submit outcome", message_id=part.message_id, seq=part.seq, carrier=result.carrier,
                      outcome=resolution.value, carrier_id=result.carrier_message_id,
                      status=result.status, reason=result.reason, to=part.destination)  # fmt: skip
        self._writer.put(result)

    def _count_unusable(self, carrier: str) -> None:
        self._stats.ids_unusable += 1
        self._stats.carrier(carrier).ids_unusable += 1

    # --- late responses -------------------------------------------------------------------

    async def run_late(self, committed: trio.MemoryReceiveChannel[Result]) -> None:
        """Committed Unknown(timeout) outcomes from the writer: their late responses may
        now be applied (one that came before the commit is applied at once)."""
        async for result in committed:
            assert result.carrier is not None and result.late_ref is not None
            late = self._late.outcome_committed(result.carrier, result.late_ref, result.part)
            if late is not None:  # it came before the commit
                try:
                    self._apply_late(result.part, late)
                except Exception as exc:
                    self._late_dropped(late, exc)

    def on_late(self, late: LateResponse) -> None:
        """A submit_sm_resp after its submit ended Unknown: an id goes to the writer (apply.py).

        Called from a bind's reader with what the SMSC sent: a response this
        cannot use (an id no key can be made of) is logged and dropped, the
        part keeps its Unknown outcome; it never ends the bind or the daemon."""
        try:
            part = self._late.response(late)
            if part is not None:
                self._apply_late(part, late)
        except Exception as exc:
            self._late_dropped(late, exc)

    def _late_dropped(self, late: LateResponse, exc: Exception) -> None:
        self._stats.late_dropped += 1
        _limited.error("late response not applied", key=late.carrier, carrier=late.carrier,
                       ref=late.ref, error=repr(exc), exc_info=exc)  # fmt: skip

    def _apply_late(self, part: ClaimedPart, late: LateResponse) -> None:
        runner = self._carriers.runners.get(late.carrier)
        if runner is None or late.message_id is None:
            return  # the carrier was removed meanwhile: its ids mean nothing to us now
        self._stats.late_accepted += 1
        key = runner.id_key(late.message_id)  # None: applied without a key (docs/dlr.md "Message ids")
        if key is None:
            self._count_unusable(late.carrier)
        self._writer.put(Result(part, Resolution.LATE_ACCEPT, late.carrier, late.message_id, key))
