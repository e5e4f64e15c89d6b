"""Counters of one daemon (``Daemon.stats()``): plain integers, read by the service and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DaemonStats"]


@dataclass(slots=True)
class DaemonStats:
    """What the pipeline did since start. Counters only grow; ``carriers`` is a snapshot."""

    claimed: int = 0  # parts moved queued -> submitting (write ahead)
    submitted: int = 0  # submit_sm handed to a carrier
    accepted: int = 0  # submit_sm_resp OK, carrier id committed
    rejected: int = 0  # permanent submit error (part failed)
    unknown: int = 0  # outcome unknown after the write (policy applied)
    resubmitted: int = 0  # unknown outcomes put back in the queue
    late_accepted: int = 0  # submit_sm_resp OK after a timeout, handed to the writer
    late_applied: int = 0  # of those, parts that took the id (see apply_flush, migration 0009)
    unknown_matched: int = 0  # unknown parts settled by a parked receipt matched by its fields
    unknown_expired: int = 0  # unknown parts whose grace ended: on_unknown_outcome applied
    receipts_ambiguous: int = 0  # parked receipts that matched several unknown parts: not applied
    released: int = 0  # claimed but no carrier up: back to the queue untouched
    receipts: int = 0  # receipts received
    receipts_applied: int = 0  # matched a part and moved it
    receipts_parked: int = 0  # id not known yet: parked
    receipts_duplicate: int = 0  # matched a part already final: no change
    receipts_malformed: int = 0  # deliver_sm flagged as a receipt that could not be parsed
    parked_applied: int = 0  # parked receipts applied when their id landed
    unmatched: int = 0  # parked receipts moved to unmatched_receipts after the TTL
    mo: int = 0  # mobile-originated messages stored
    sent: int = 0  # messages that became sent (charged)
    failed: int = 0  # messages that became failed (refunded)
    swept: int = 0  # parts resolved by the receipt timeout
    recovered: int = 0  # 'submitting' parts of dead instances resolved
    nacked_db_down: int = 0  # receipts / MO answered ESME_RX_T_APPN while the database was down
    writer_flushes: int = 0
    writer_errors: int = 0
    db_up: bool = True
    instance_id: int | None = None
    carriers: dict[str, Any] = field(default_factory=dict)  # name -> CarrierHealth
