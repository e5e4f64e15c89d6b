"""Parts whose submit outcome is unknown: matched to parked receipts, then the grace ends.

A part is ``unknown`` (migration 0011) when its submit_sm was written and no answer
can be trusted: the bind went away with it outstanding, its response timed out, or
it was found ``submitting`` after a crash. The SMSC may have taken it; if it did,
its receipt comes (often on a later bind) with an id we never stored, and is parked.
The message stays pending, unrefunded, for the carrier's ``unknown_outcome_grace``.
Meanwhile this pass matches parked receipts to unknown parts by what a receipt
carries besides the id:

- its ``source_addr`` is the part's destination and its ``destination_addr`` the
  part's sender (SMPP 3.4 section 4.6.1; a leading ``+`` is ignored);
- its ``submit date`` (Appendix B, the SMSC's clock in the carrier's
  ``receipt_time_zone``) is between the minute the part was claimed and the minute
  it became unknown (``unknown_at``: its submit_sm was last written in between,
  retries after a throttling answer included), one minute more each way for clock
  skew; for a part still ``submitting``, from its claim on;
- the HMAC of its ``text:`` (the first characters of the message, Appendix B) equals
  the HMAC of as many first characters of the part's own text. A receipt without
  text is matched on the other fields alone.

Candidates are the ``unknown`` parts of the receipt's carrier (or, for a part that
does not know its carrier, recovered after a crash, of a route that uses it: a part
that knows its carrier is never matched to another carrier's receipt), and the parts
``submitting`` at that moment on a route that uses the receipt's carrier (the carrier
of their current attempt is not stored yet), whose outcome is still coming. A receipt is applied
only when its one candidate is an unknown part that no other receipt of this pass
matches; the part then takes the receipt's key (``id_key``) and becomes ``submitted``,
and its parked receipts are applied as if its response had come. Its
``carrier_message_id`` stays NULL: the receipt's id is in the receipt's form, not
the one the SMSC answers a submit_sm with, so it is not sent back in a query_sm
(query.py asks only about parts with a carrier message id). A submitting
candidate defers the receipt to a later pass. More than one unknown candidate is
ambiguous: the receipt is never matched this way, it is counted
(``DaemonStats.receipts_ambiguous``) and waits in the parking for its TTL, and the
part's grace ends by the policy.

Not matched this way: a part of a message sent as one PDU (concat "payload"; its
riders would need the id too), parked rows from before migration 0011 (no
addresses stored). One pass at a time over all daemons (a transaction-level
advisory lock), since a candidate locked by another pass would make a wrong
match look unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bridge.dispatch.apply import Applied, apply_parked, take_parked
from bridge.store.db import Connection

__all__ = ["MATCH_LOCK", "Matched", "match_unknown_parts"]

# pg_try_advisory_xact_lock key: b"smppunkn" as a signed 64-bit integer.
MATCH_LOCK = int.from_bytes(b"smppunkn", "big", signed=True)

_ANY_UNKNOWN = "SELECT EXISTS (SELECT 1 FROM message_parts WHERE state = 'unknown')"

# $1/$2: (route, carrier) pairs of the configuration; $3/$4: carrier -> time zone;
# $5: routes whose messages go as one PDU. Receipts are looked at from the
# oldest unknown part's claim on (the parked_receipts_age index).
_CANDIDATES = """
WITH u AS (
    SELECT p.message_id, p.seq, p.state::text AS st, p.carrier, p.route, p.body, p.submitted_at,
           CASE WHEN p.state = 'unknown' THEN coalesce(p.unknown_at, p.submitted_at) ELSE now() END AS upto,
           ltrim(m.destination, '+') AS dest, ltrim(coalesce(m.sender_id, ''), '+') AS sender
    FROM message_parts p JOIN messages m ON m.id = p.message_id
    WHERE (p.state = 'unknown' OR p.state = 'submitting') AND p.submitted_at IS NOT NULL
      AND NOT (p.total > 1 AND p.route = ANY ($5::text[]))
), since AS (
    SELECT min(submitted_at) - interval '2 minutes' AS t FROM u WHERE st = 'unknown'
), r AS (
    SELECT r.id, r.carrier, r.id_key, r.source, r.destination,
           r.submit_date, r.text_hmac, r.text_len
    FROM parked_receipts r, since
    WHERE r.received_at >= since.t AND r.source IS NOT NULL AND r.destination IS NOT NULL
      AND r.submit_date IS NOT NULL AND r.status IS NOT NULL AND r.ambiguous_at IS NULL
), rc AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS rc(route, carrier)
), z AS (
    SELECT * FROM unnest($3::text[], $4::text[]) AS z(carrier, zone)
)
SELECT r.id, r.carrier, r.id_key, u.message_id, u.seq, u.st
FROM r JOIN z ON z.carrier = r.carrier
JOIN u ON u.dest = ltrim(r.source, '+') AND u.sender = ltrim(r.destination, '+')
     AND (u.carrier = r.carrier
          OR ((u.carrier IS NULL OR u.st = 'submitting')
              AND EXISTS (SELECT 1 FROM rc WHERE rc.route = u.route AND rc.carrier = r.carrier)))
     AND r.submit_date BETWEEN date_trunc('minute', u.submitted_at AT TIME ZONE z.zone) - interval '1 minute'
                           AND date_trunc('minute', u.upto AT TIME ZONE z.zone) + interval '1 minute'
     AND (r.text_hmac IS NULL OR r.text_hmac = receipt_text_hmac(left(u.body, r.text_len)))
"""

# The part takes the receipt's key, not its id (see the module docstring); under
# the guard, a late response or the grace that got there first wins.
_ADOPT = """
UPDATE message_parts p
SET state = 'submitted', carrier = u.c, id_key = u.k
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) AS u(m, s, c, k)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state = 'unknown'
RETURNING u.c, u.k
"""

_AMBIGUOUS = """
UPDATE parked_receipts SET ambiguous_at = now() WHERE id = ANY ($1::bigint[]) AND ambiguous_at IS NULL
"""


@dataclass(slots=True)
class Matched:
    parts: int = 0  # unknown parts that took a receipt's id
    ambiguous: int = 0  # parked receipts marked ambiguous now
    applied: Applied | None = None  # what applying their parked receipts did


Key = tuple[str, str]
Part = tuple[int, int]


async def match_unknown_parts(
    tx: Connection,
    *,
    route_pairs: Sequence[tuple[str, str]],
    zones: Sequence[tuple[str, str]],
    payload_routes: Sequence[str],
    table_for: Callable[[str], object],
    webhooks: bool,
    default_url: str | None,
) -> Matched:
    """One pass inside ``tx`` (see the module docstring)."""
    out = Matched()
    if not await tx.fetchval(_ANY_UNKNOWN):
        return out
    if not await tx.fetchval("SELECT pg_try_advisory_xact_lock($1)", MATCH_LOCK):
        return out  # another daemon's pass is running
    rows = await tx.fetch(
        _CANDIDATES,
        [r for r, _ in route_pairs], [c for _, c in route_pairs],
        [c for c, _ in zones], [z for _, z in zones], list(payload_routes),
    )  # fmt: skip
    if not rows:
        return out
    parts_of: dict[Key, set[Part]] = defaultdict(set)
    keys_of: dict[Part, set[Key]] = defaultdict(set)
    rows_of: dict[Key, list[int]] = defaultdict(list)
    submitting: set[Part] = set()
    for row in rows:
        key, part = (row["carrier"], row["id_key"]), (row["message_id"], row["seq"])
        parts_of[key].add(part)
        keys_of[part].add(key)
        rows_of[key].append(row["id"])
        if row["st"] == "submitting":
            submitting.add(part)
    adopt: list[tuple[Part, Key]] = []
    ambiguous: list[int] = []
    for key, parts in parts_of.items():
        if parts & submitting:
            continue  # its part may be the one still being submitted: a later pass decides
        if len(parts) == 1:
            (part,) = parts
            if len(keys_of[part]) == 1:
                adopt.append((part, key))
                continue
        ambiguous.extend(rows_of[key])
    if ambiguous:
        tag = await tx.execute(_AMBIGUOUS, sorted(set(ambiguous)))
        out.ambiguous = int(tag.split()[-1])
    if adopt:
        landed = await tx.fetch(
            _ADOPT,
            [p[0] for p, _ in adopt], [p[1] for p, _ in adopt], [k[0] for _, k in adopt],
            [k[1] for _, k in adopt],
        )  # fmt: skip
        keys = sorted({(r["c"], r["k"]) for r in landed})
        out.parts = len(landed)
        taken = await take_parked(tx, keys, table_for)  # type: ignore[arg-type]
        out.applied = await apply_parked(tx, taken, webhooks=webhooks, default_url=default_url)
    return out
