"""submit_sm from a claimed part, and the bounded submitters of each carrier.

The payload bytes come from the segmenter (docs/design.md "Data flow"): the
campaign body is segmented again with the route's profile, which gives exactly
the parts enqueue stored and billed; the part's ``PartPayload`` is taken from
that (cached per body and profile, so a campaign's body is segmented once). A part whose
text no longer matches (the profile changed since enqueue) is failed rather
than sent differently from what was billed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
import trio

import dlr
import segmenter
from bridge.carrier import (
    Accepted,
    Carrier,
    CarrierClosed,
    Rejected,
    SubmitOutcome,
    Unknown,
    UnknownReason,
)
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.dispatch.rules import CarrierRules
from bridge.logs import LogLimiter
from bridge.smpp import SubmitSm
from bridge.store.columns import int4
from config.schema import Carrier as CarrierConfig

__all__ = ["CarrierRunner", "PayloadCache", "build_submit_sm", "relative_validity"]

log = structlog.get_logger("bridge.dispatch.submit")
# Lines a carrier's responses can trigger for every part, per carrier.
limited = LogLimiter(log)

# SMPP 3.4 section 5.2.17: registered_delivery bits 1-0 = 01, an SMSC delivery
# receipt on final outcome, success or failure.
REGISTERED_DELIVERY_FINAL = 0x01
# SMPP 3.4 section 5.2.5 / 5.2.6: destinations go out international, E.164.
TON_INTERNATIONAL, NPI_ISDN = 1, 1


def relative_validity(seconds: float) -> str:
    """SMPP 3.4 section 7.1.1.2: relative time "YYMMDDhhmmss000R" (here only days and less)."""
    total = max(1, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    years, days = divmod(days, 365)
    months, days = divmod(days, 30)
    if years > 99:
        years, months, days, hours, minutes, secs = 99, 11, 29, 23, 59, 59
    return f"{years:02d}{months:02d}{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


class PayloadCache:
    """Segmentations per (campaign body, profile), multi-part payloads per message; both bounded.

    A campaign's recipients share one body, so a body is segmented once per
    profile however many messages it has; a one-part message's payload (no
    concatenation header, so no reference) is shared too. Parts of a longer
    message carry its concatenation reference: their payloads are built once
    per message, until its last part is taken.
    """

    def __init__(self, size: int = 20_000, bodies: int = 1_024) -> None:
        self._size = size
        self._bodies_size = bodies
        self._bodies: OrderedDict[tuple[str, segmenter.Profile], tuple[segmenter.Segmentation | None, segmenter.PartPayload | None]] = OrderedDict()
        self._cache: OrderedDict[tuple[int, segmenter.Profile], tuple[segmenter.PartPayload, ...]] = OrderedDict()

    def _segmentation(
        self, body: str, profile: segmenter.Profile
    ) -> tuple[segmenter.Segmentation | None, segmenter.PartPayload | None]:
        key = (body, profile)
        found = self._bodies.get(key)
        if found is None:
            try:
                seg = segmenter.segment_for(body, profile)
                found = (seg, seg.payloads(0, profile)[0] if seg.segments == 1 else None)
            except (ValueError, segmenter.MessageTooLong):
                found = (None, None)  # cannot be built with this profile: never sent, failed
            self._bodies[key] = found
            if len(self._bodies) > self._bodies_size:
                self._bodies.popitem(last=False)
        return found

    def payload(self, part: ClaimedPart, profile: segmenter.Profile) -> segmenter.PartPayload | None:
        found = self._bodies.get((part.campaign_body, profile))  # the common case without a call
        seg, single = found if found is not None else self._segmentation(part.campaign_body, profile)
        if seg is None or len(seg.parts) != part.total or seg.parts[part.seq - 1] != part.body:
            return None  # not what was billed: never send something else
        if single is not None:
            return single
        key = (part.message_id, profile)
        payloads = self._cache.get(key)
        if payloads is None:
            # concat_refs allocates 16-bit references for every profile; an
            # 8-bit reference (TS 23.040 9.2.3.24.1) takes the low octet, which
            # still differs between consecutive messages to one handset.
            ref = (part.concat_ref or 0) % (1 << seg.reference_bits)
            payloads = seg.payloads(ref, profile)
            self._cache[key] = payloads
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        if profile.concat is segmenter.Concat.PAYLOAD and len(payloads) == 1 and part.seq == 1:
            self._cache.pop(key, None)
            return payloads[0]  # the whole message in one PDU; parts 2.. ride along (apply.py)
        if len(payloads) != part.total:
            return None
        if part.seq == part.total:
            self._cache.pop(key, None)
        return payloads[part.seq - 1]


def build_submit_sm(part: ClaimedPart, payload: segmenter.PartPayload, cfg: CarrierConfig) -> SubmitSm:
    source = cfg.source
    return SubmitSm(
        source_addr_ton=source.force_ton if source.force_ton is not None else (part.sender_ton or 0),
        source_addr_npi=source.force_npi if source.force_npi is not None else (part.sender_npi or 0),
        source_addr=part.sender_id or "",
        dest_addr_ton=TON_INTERNATIONAL,
        dest_addr_npi=NPI_ISDN,
        destination_addr=part.destination.lstrip("+"),
        esm_class=payload.esm_class,
        registered_delivery=REGISTERED_DELIVERY_FINAL,
        validity_period=relative_validity(cfg.validity_period.seconds) if cfg.validity_period else "",
        data_coding=payload.data_coding,
        short_message=payload.short_message,
        tlvs=payload.tlvs,
    )


@dataclass(slots=True)
class CarrierRunner:
    """One running Carrier, its rules, the slots it holds, and its submit queue."""

    rules: CarrierRules
    carrier: Carrier
    slots: list[int]
    send: trio.MemorySendChannel[tuple[ClaimedPart, SubmitSm]]
    receive: trio.MemoryReceiveChannel[tuple[ClaimedPart, SubmitSm]]
    cancel: trio.CancelScope
    submitting: int = 0
    # Parts in the submit queue (``send``), kept here: the channel's statistics()
    # builds an object per call, 0.9 us for every part dispatched.
    queued: int = 0
    # at most one line a minute per kind of odd id (a carrier answers every submit alike)
    id_warnings: LogLimiter = field(
        default_factory=lambda: LogLimiter(log, burst=1, interval=60.0, clock=trio.current_time)
    )

    def enqueue(self, part: ClaimedPart, pdu: SubmitSm) -> None:
        """Queue a part for the submitters (raises as ``send_nowait`` does)."""
        self.send.send_nowait((part, pdu))
        self.queued += 1

    @property
    def name(self) -> str:
        return self.rules.config.name

    @property
    def capacity(self) -> int:
        """Window places of the binds here that may submit (tx, trx); 0 with rx binds only."""
        return len(self.carrier.submit_slots) * self.rules.config.window

    def id_key(self, message_id: str) -> str | None:
        """The key a response's message id is stored under, or None (docs/dlr.md "Message ids").

        The rule is dlr.response_key: an id of another form than the carrier's
        ``response_id_form`` is its own key, an id that cannot have one (empty,
        longer than dlr.MAX_ID_LENGTH) gives None and the part is stored without
        a key. Either is logged with the carrier, at most once a minute; never
        an exception (the caller may be a bind's reader or a submitter task).
        """
        form = self.rules.config.response_id_form
        try:
            return dlr.id_key(message_id, form)
        except dlr.MessageIdError:
            key = dlr.response_key(message_id, form)
        self.id_warnings.warning(
            "response id has no key: no receipt can match the part" if key is None
            else "response id not of the configured form: kept as its own key",
            carrier=self.name, response_id_form=str(form), id=message_id[:80], length=len(message_id),
        )  # fmt: skip
        return key

    def resolve(self, part: ClaimedPart, outcome: SubmitOutcome) -> Result:
        cfg = self.rules.config
        name = cfg.name
        riders = part.total > 1 and cfg.segmentation.concat is segmenter.Concat.PAYLOAD
        if type(outcome) is Accepted:
            try:  # self.id_key's common case, without its call
                key: str | None = dlr.id_key(outcome.message_id, cfg.response_id_form)
            except dlr.MessageIdError:
                key = self.id_key(outcome.message_id)
            carrier = self.carrier
            if key is not None and carrier is not None:  # (None: a runner in a unit test)
                carrier.metrics.on_accepted(key)
            return Result(part, Resolution.ACCEPTED, name, outcome.message_id, key, riders=riders,
                          written_at=outcome.written_at)  # fmt: skip
        if isinstance(outcome, Rejected):
            return Result(part, Resolution.REJECTED, name, status=int4(outcome.status),
                          reason=f"submit_error_0x{outcome.status:02X}")  # fmt: skip
        assert isinstance(outcome, Unknown)
        # A late response can still give the part its id (Dispatcher.on_late), except
        # to a message sent as one PDU: its riders would need the id too.
        late_ref = None if riders else outcome.ref
        grace = cfg.unknown_outcome_grace.seconds
        if grace > 0:  # the policy waits: a late response or a receipt may settle it (docs/outcomes.md)
            return Result(part, Resolution.UNKNOWN, name, delay=grace, reason=f"unknown_{outcome.reason}",
                          late_ref=late_ref)  # fmt: skip
        if cfg.on_unknown_outcome == "resubmit" and part.attempts < cfg.max_attempts:
            return Result(part, Resolution.RESUBMIT, name, delay=min(10.0, 0.25 * part.attempts),
                          reason=f"unknown_{outcome.reason}", late_ref=late_ref)  # fmt: skip
        return Result(part, Resolution.UNKNOWN_FAIL, name, reason="unknown_outcome", late_ref=late_ref)

    def resolve_or_unknown(self, part: ClaimedPart, outcome: SubmitOutcome) -> Result:
        """``resolve``, or, when that raises on what the SMSC sent, the carrier's
        unknown-outcome policy: a part is never left without a result (the
        submitting task, a bind's reader, must not die of it either)."""
        try:
            return self.resolve(part, outcome)
        except Exception as exc:
            return self._unresolved(part, outcome, exc)

    def _unresolved(self, part: ClaimedPart, outcome: SubmitOutcome, exc: Exception) -> Result:
        limited.error("cannot resolve a submit outcome; taken as unknown", key=self.name,
                      carrier=self.name, outcome=type(outcome).__name__, error=repr(exc),
                      exc_info=exc)  # fmt: skip
        attempts = max(1, outcome.attempts)
        return self.resolve(part, Unknown(reason=UnknownReason.DISCONNECTED, attempts=attempts))

    def submit_nowait(
        self,
        part: ClaimedPart,
        pdu: SubmitSm,
        deliver: Callable[[Result], None],
        may_submit: Callable[[float], bool],
        now: float,
    ) -> bool:
        """Write ``pdu`` now (``now``: the trio clock), without a submitter task, if nothing has to wait.

        Most parts go this way: a place in a bind's window and a TPS token are
        free, and the outcome comes back through a callback from the bind's
        reader (Carrier.submit_nowait). Measured with py-spy, a submitter task
        per part (a channel receive, then a wake-up per response) was a sixth of
        the daemon's CPU. False: the part goes to the queue and a submitter, as
        do all parts while some are queued (so that they keep their order).
        """
        if self.queued or not may_submit(now):
            return False

        def done(outcome: SubmitOutcome | None) -> None:
            if outcome is None:  # the carrier stopped before a retry was written
                deliver(Result(part, Resolution.RELEASE, self.name, delay=0.0, reason="carrier_closed"))
                return
            try:  # resolve_or_unknown, one call less per part
                result = self.resolve(part, outcome)
            except Exception as exc:
                result = self._unresolved(part, outcome, exc)
            deliver(result)

        return self.carrier.submit_nowait(pdu, done, now)  # True: written (the caller counts it)

    async def submitter(
        self,
        deliver: Callable[[Result], None],
        on_submit: Callable[[], None],
        may_submit: Callable[[], bool],
    ) -> None:
        async for part, pdu in self.receive:
            self.queued -= 1
            if not may_submit():
                # Our lease may have lapsed: another daemon may be recovering this
                # part right now. Do not write it; the release is applied only if
                # the part is still ours (writer WHERE owner_instance = ...).
                deliver(Result(part, Resolution.RELEASE, self.name, delay=0.0, reason="lease_lapsed"))
                continue
            self.submitting += 1
            try:
                on_submit()
                outcome = await self.carrier.submit(pdu)
            except CarrierClosed:
                # Not written (CarrierClosed: requeue it): back to the queue, attempt not counted.
                deliver(Result(part, Resolution.RELEASE, self.name, delay=0.0, reason="carrier_closed"))
                continue
            except Exception:
                # A fault in the carrier layer: whether the PDU went out is not
                # known, so the carrier's unknown-outcome policy decides.
                log.exception("submit failed unexpectedly", carrier=self.name)
                outcome = Unknown(reason=UnknownReason.DISCONNECTED, attempts=1)
            finally:
                self.submitting -= 1
            deliver(self.resolve_or_unknown(part, outcome))
