"""The values the carrier API hands to the dispatcher (docs/carrier.md).

Frozen, keyword-only and typed (docs/design.md house rule 4): they are compared in
tests, logged and put in channels, never mutated. The ones made for every
message (an outcome per submit, an Inbound per receipt) are msgspec Structs:
0.07 us to build against 0.6 us for a frozen dataclass, whose __init__ sets
each field through object.__setattr__. The others are dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from bridge.smpp.pdus import DataSm, DeliverSm


class UnknownReason(enum.StrEnum):
    """Why a written submit_sm has no answer we can trust. A StrEnum, so the
    values compare equal to the contract's strings ("timeout", "disconnected")."""

    TIMEOUT = "timeout"  # no submit_sm_resp within response_timeout
    DISCONNECTED = "disconnected"  # the bind went away with the PDU outstanding
    # the submit_sm_resp came but could not be decoded (its header named the submit)
    MALFORMED = "malformed_response"


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """submit_sm_resp ESME_ROK: the SMSC took the part under ``message_id``."""

    message_id: str
    attempts: int
    # When the accepted attempt's submit_sm was written (trio clock): the part's
    # submit time, stored as message_parts.submitted_at (docs/store.md).
    written_at: float | None = None


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """A permanent error status, or the last temporary one when the retries
    (max_attempts / max_age) ran out."""

    status: int
    attempts: int


class Unknown(msgspec.Struct, frozen=True, kw_only=True):
    """The submit_sm was handed to the bind and may have reached the SMSC, but
    no answer came back: the daemon's ``on_unknown_outcome`` policy decides."""

    reason: UnknownReason
    attempts: int
    # For a timeout: the key a late response will carry (LateResponse.ref), so
    # the daemon can still apply it (docs/design.md "Reliability rules").
    ref: str | None = None


SubmitOutcome = Accepted | Rejected | Unknown


@dataclass(frozen=True, kw_only=True, slots=True)
class LateResponse:
    """A submit_sm_resp that arrived after its submit returned Unknown(TIMEOUT,
    ref=...). ``message_id`` is set when the SMSC accepted it after all."""

    carrier: str
    ref: str
    status: int
    message_id: str | None


class Inbound(msgspec.Struct, frozen=True, kw_only=True):
    """A deliver_sm or data_sm from the SMSC (receipt or MO). ``ack(status)``
    queues the *_resp on the bind it came from; sync, never blocks, a no-op
    once that bind is gone (the SMSC then redelivers)."""

    carrier: str
    pdu: DeliverSm | DataSm
    ack: Callable[[int], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class BindHealth:
    """One bind slot of a carrier."""

    slot: int
    mode: str  # "tx", "rx" or "trx" (config ``binds``)
    state: str  # "down", "connecting", or the connection's State value ("bound_trx", ...)
    bound: bool
    enquire_link_rtt: float | None  # seconds, the last enquire_link round trip seen
    window_used: int
    window_size: int
    binds: int  # successful binds so far (reconnects + 1)
    bind_failures: int  # bind refused (status logged) or unanswered
    connect_failures: int  # TCP/TLS could not be opened
    # The last response the SMSC sent on this bind (any request): when (trio clock) and
    # its round trip in seconds; None before the first one.
    last_response_at: float | None = None
    last_response_rtt: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CarrierHealth:
    """A snapshot for `status`, metrics and the router's failover."""

    carrier: str
    up: bool  # a bind of any mode is bound
    can_submit: bool  # a tx or trx bind is bound (what the router needs)
    binds: tuple[BindHealth, ...]
    throttle_rate: float  # current AIMD send rate, messages/s
    max_rate: float  # the configured tps
    throttled: int  # throttling responses seen (0x58, 0x14: policy.py)
    late_responses: int  # responses that came after their ResponseTimeout
    unknown: int  # submits resolved Unknown (timeout or disconnect)
    internal_errors: int = 0  # faults caught at a bind or a callback (logged; the bind reconnects)
