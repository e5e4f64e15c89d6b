"""Late submit_sm_resp: where a timed-out submit and its response meet (no I/O).

docs/design.md "Reliability rules": a late resp is still applied. A submit whose
response does not come within ``response_timeout`` ends Unknown (timeout) and
the carrier's policy resubmits or fails the part. If the SMSC did accept it, its
submit_sm_resp comes later with the message id, and the writer applies that id
under the attempt that wrote the PDU (apply.py), so a resubmitted part is not
sent a second time and a failed one keeps the id its receipt will carry.

The id may be applied only once the Unknown outcome is committed (before, the
part is still ``submitting`` and the id would be lost). The two events come in
either order: usually the outcome is committed first and the response comes
seconds later; but a response that comes just after the timeout can overtake
the commit, which waits up to ``writer_delay`` plus a flush. Each side is kept
here until the other arrives, by (carrier, ref); the ref names the PDU on its
bind (``session:sequence_number``), so it is never reused by this process.

Both sides are bounded, oldest dropped first: a carrier that times out
everything for a while must not grow memory. A dropped entry costs what a
missing late response costs (a second copy for "resubmit", a parked receipt
for "fail"), never a wrong state: the SQL checks the attempt.
"""

from __future__ import annotations

from collections import OrderedDict

from bridge.carrier import LateResponse
from bridge.dispatch.parts import ClaimedPart

__all__ = ["EARLY_RESPONSES_KEPT", "OUTCOMES_KEPT", "LateResponses"]

# Committed Unknown(timeout) outcomes waiting for a response. Late responses come
# within seconds and timeouts are rare: 20,000 covers a carrier that times out
# everything for a while.
OUTCOMES_KEPT = 20_000
# Responses (with an id) that came before their outcome was committed: the
# commit follows within a flush, so only a burst of timeouts fills this.
EARLY_RESPONSES_KEPT = 5_000


class LateResponses:
    """Pairs committed Unknown(timeout) outcomes with their late responses, in either order."""

    __slots__ = ("_early", "_early_kept", "_outcomes", "_outcomes_kept")

    def __init__(self, *, outcomes_kept: int = OUTCOMES_KEPT, early_kept: int = EARLY_RESPONSES_KEPT) -> None:
        self._outcomes: OrderedDict[tuple[str, str], ClaimedPart] = OrderedDict()
        self._early: OrderedDict[tuple[str, str], LateResponse] = OrderedDict()
        self._outcomes_kept = outcomes_kept
        self._early_kept = early_kept

    def outcome_committed(self, carrier: str, ref: str, part: ClaimedPart) -> LateResponse | None:
        """The Unknown outcome of ``part`` is committed: its response, if it already came."""
        key = (carrier, ref)
        early = self._early.pop(key, None)
        if early is not None:
            return early
        self._outcomes[key] = part
        if len(self._outcomes) > self._outcomes_kept:
            self._outcomes.popitem(last=False)
        return None

    def response(self, late: LateResponse) -> ClaimedPart | None:
        """A late response: the part to give its id, when its outcome is committed already.

        A refusal (or an answer without an id) has nothing to apply: the outcome
        stands and is forgotten. An accepted response whose outcome is not
        committed yet waits for ``outcome_committed``.
        """
        key = (late.carrier, late.ref)
        part = self._outcomes.pop(key, None)
        if late.status != 0 or not late.message_id:
            return None
        if part is None:
            self._early[key] = late
            if len(self._early) > self._early_kept:
                self._early.popitem(last=False)
        return part

    def __len__(self) -> int:
        return len(self._outcomes) + len(self._early)
