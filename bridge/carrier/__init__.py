"""smpp-bridge: carrier binds on trio (docs/carrier.md).

``Carrier`` (pool.py) keeps N binds (session.py) to one SMSC, shares one TPS
token bucket with AIMD (throttle.py) between them, retries by status
(policy.py) and backs off (backoff.py).
"""

from bridge.carrier.backoff import Backoff, BackoffPolicy
from bridge.carrier.errors import BindLost, BindRefused, CarrierClosed, NotWritten, TimedOut
from bridge.carrier.policy import Action, RetryPolicy, parse_overrides
from bridge.carrier.pool import Carrier
from bridge.carrier.session import Session
from bridge.carrier.throttle import Throttle
from bridge.carrier.types import (
    Accepted,
    BindHealth,
    CarrierHealth,
    Inbound,
    LateResponse,
    Rejected,
    SubmitOutcome,
    Unknown,
    UnknownReason,
)

__all__ = [
    "Accepted",
    "Action",
    "Backoff",
    "BackoffPolicy",
    "BindHealth",
    "BindLost",
    "BindRefused",
    "Carrier",
    "CarrierClosed",
    "CarrierHealth",
    "Inbound",
    "LateResponse",
    "NotWritten",
    "Rejected",
    "RetryPolicy",
    "Session",
    "SubmitOutcome",
    "Throttle",
    "TimedOut",
    "Unknown",
    "UnknownReason",
    "parse_overrides",
]
