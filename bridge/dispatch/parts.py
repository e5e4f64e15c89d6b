"""What flows through the pipeline: a claimed part and the outcome of its submit.

Both are frozen: a part or an outcome handed to another task is never changed
behind its back. They are msgspec Structs rather than frozen dataclasses
because one of each is built per message on the hot path: a frozen dataclass
of ClaimedPart's fifteen fields takes about 4 us to build (every field goes
through ``object.__setattr__``), a plain one 0.45 us, a frozen Struct 0.16 us.
"""

from __future__ import annotations

from enum import Enum

import msgspec

__all__ = ["ClaimedPart", "Resolution", "Result"]


class ClaimedPart(msgspec.Struct, frozen=True):
    """A part the claimer moved to ``submitting`` (write ahead), with what its submit_sm needs."""

    message_id: int
    seq: int
    total: int
    body: str  # this part's text exactly as enqueue split it
    route: str | None
    attempts: int  # after this claim (attempts + 1)
    owner: int  # daemon_instances.id that claimed it
    destination: str  # E.164 with '+'
    sender_id: str | None
    sender_ton: int | None
    sender_npi: int | None
    concat_ref: int | None
    campaign_body: str
    previous_carrier: str | None
    queued_for: float = 0.0  # seconds since enqueue when claimed (metrics only)


class Resolution(Enum):
    ACCEPTED = "accepted"  # submit_sm_resp ESME_ROK: the part is submitted
    REJECTED = "rejected"  # permanent error (or retries exhausted): the part fails
    RESUBMIT = "resubmit"  # unknown outcome, carrier policy "resubmit": back to the queue
    UNKNOWN_FAIL = "unknown_fail"  # unknown outcome, carrier policy "fail"
    # Unknown outcome with a grace (carrier unknown_outcome_grace > 0): the part waits
    # in state ``unknown`` for ``delay`` seconds, then the policy applies (sweeper).
    UNKNOWN = "unknown"
    RELEASE = "release"  # not sent at all (no carrier up): back to the queue, attempt not counted
    INVALID = "invalid"  # cannot be built (segmentation changed since enqueue): the part fails
    # A submit_sm_resp ESME_ROK after the submit ended Unknown (timeout): applied
    # under that attempt if the part is still where the policy left it (apply.py).
    LATE_ACCEPT = "late_accept"


class Result(msgspec.Struct, frozen=True):
    part: ClaimedPart
    resolution: Resolution
    carrier: str | None = None
    carrier_message_id: str | None = None
    id_key: str | None = None
    status: int | None = None  # command_status of a rejection
    delay: float = 0.0  # seconds before a resubmit / release may be claimed again
    reason: str | None = None
    riders: bool = False  # concat = "payload": parts 2.. of the message follow this one
    # Unknown after a timeout: the key its late response would carry (LateResponse.ref).
    late_ref: str | None = None
    # Accepted: when its submit_sm was written (trio clock; Accepted.written_at), so that
    # submitted_at is the submit's time, not the writer's flush (apply.py).
    written_at: float | None = None
