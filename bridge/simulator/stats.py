"""Counters the simulator keeps (``Simulator.stats``), for tests, the bench and the CLI."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class SimulatorStats:
    connections: int = 0  # TCP connections accepted
    binds: int = 0  # successful binds
    binds_rejected: int = 0  # bind_resp with an error status
    bound: int = 0  # binds currently up
    submits: int = 0  # submit_sm (and data_sm, submit_multi) received
    # submit_sm_resp (data_sm_resp, submit_multi_resp) written, by command_status
    resps: Counter[int] = field(default_factory=Counter)
    throttled: int = 0  # answered ESME_RTHROTTLED
    queue_full: int = 0  # answered ESME_RMSGQFUL
    disconnects: int = 0  # connections we dropped on purpose
    late_resps: int = 0  # submit_sm_resp held back (late_resp)
    unanswered: int = 0  # submit_sm never answered (no_resp)
    receipts_scheduled: int = 0  # receipts decided (one per submit that asked)
    receipts_sent: int = 0  # deliver_sm receipts written (retries included)
    receipts_acked: int = 0  # deliver_sm_resp ESME_ROK to a receipt
    receipts_nacked: int = 0  # deliver_sm_resp with an error, or no answer in time
    receipts_retried: int = 0  # receipts queued again after a nack, timeout or drop
    receipts_dropped: int = 0  # given up (queue limit or attempts exhausted)
    receipts_queued: int = 0  # now waiting for a receiver bind
    receipts_lost: int = 0  # never sent on purpose (lose_receipts)
    queries: int = 0  # query_sm received
    queries_failed: int = 0  # answered ESME_RQUERYFAIL (id unknown, or another source)
    mo_sent: int = 0
    mo_acked: int = 0
    senders_rewritten: int = 0
    probe_submits: int = 0  # submit_sm to a probe number (probes.py)
    protocol_errors: int = 0  # invalid frames the connection answered
    malformed_responses: int = 0  # strict: responses that dropped the bind

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["resps"] = {f"0x{status:02X}": n for status, n in sorted(self.resps.items())}
        return out
