"""Which session an MO to a probe number belongs to (pure; docs/preflight.md "Matching").

Each new session gets, per network, the probe number least recently given to a
session (sessions.py), so sessions rarely share one. When they do, an MO to that
number is matched, in this order:

1. by probe number, to the sessions still waiting on it whose window (created ..
   expires) holds the MO's arrival;
2. among several, to the one whose test code the body carries, else whose
   expected body it equals (verdicts.normalise_body);
3. still several: to the oldest of them, and the result is flagged ``ambiguous``
   (the customer can tell the sessions apart by putting the test code in the text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from bridge.preflight.verdicts import body_matches

__all__ = ["CLOCK_SKEW", "Candidate", "Match", "choose"]

# Sessions are stamped by the API process's clock, MO by PostgreSQL's: an MO may
# look this much older than the session it answers.
CLOCK_SKEW = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A session waiting for an MO on one probe number."""

    session_id: UUID
    created_at: datetime
    expires_at: datetime
    test_code: str
    expected_body: str | None


@dataclass(frozen=True, slots=True)
class Match:
    session_id: UUID
    ambiguous: bool
    rule: str  # "number", "test_code", "expected_body" or "oldest"


def choose(candidates: Sequence[Candidate], body: str | None, received_at: datetime) -> Match | None:
    """The session this MO answers, or None when no session waits for it."""
    pool = [c for c in candidates if c.created_at - CLOCK_SKEW <= received_at < c.expires_at]
    if not pool:
        return None
    if len(pool) == 1:
        return Match(pool[0].session_id, False, "number")
    text = body or ""
    upper = text.upper()
    coded = [c for c in pool if c.test_code and c.test_code.upper() in upper]
    if len(coded) == 1:
        return Match(coded[0].session_id, False, "test_code")
    if coded:
        pool = coded
    bodied = [c for c in pool if c.expected_body is not None and body_matches(c.expected_body, text)]
    if len(bodied) == 1:
        return Match(bodied[0].session_id, False, "expected_body")
    if bodied:
        pool = bodied
    oldest = min(pool, key=lambda c: (c.created_at, c.session_id))
    return Match(oldest.session_id, True, "oldest")
