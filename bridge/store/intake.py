"""The intake statement (``store_sends``) and the arguments it takes.

What a statement costs the API process is mostly asyncpg's encoding of its
array parameters: every element of a list passes two abstract-base-class
checks in Python before it is encoded. So the statement takes per message only
what differs from one message to the next (its public id and destination, and
a concatenation reference when the batch has a multipart message); everything
else comes once per send, once per outcome, or as runs:

- a message's campaign is counted from each send's totals (its messages are
  consecutive);
- its plan columns (country, state, route, encoding, segments, cost, sender,
  error) are those of its outcome (``plan_outcomes``), given as runs of
  equal outcomes, so a 100-recipient send to one route and country is one run;
- its parts are those of its outcome's segmentation: the statement writes
  parts 1..n of every queued message from the texts of its outcome, passed
  once per segmentation, instead of one array element per part and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bridge.store.plan import Planned, plan_outcomes

if TYPE_CHECKING:
    from bridge.store.enqueue import PlannedSend

__all__ = ["STORE", "runs", "store_arguments"]

# No joins: the ids of the new campaigns and messages are drawn from their
# sequences first (``ci``, ``mi``), a message names its campaign by position
# (a subscript of an array built once per statement, an InitPlan), and a part
# is generated from its message's row (a set-returning function in the select
# list, not a lateral function scan per message). A
# statement prepared once and run with batches of 1 to 6,400 recipients keeps
# a plan that is linear in them whatever the planner guesses (joins on the
# inserted rows were planned as nested loops, quadratic in the batch). The
# ledger rows come from the messages themselves (queued and priced), and each
# account's reservation is the sum of its ledger rows: the money cannot
# disagree with the rows. The sub-selects of the last line run in order, the
# accounts UPDATE after every insert (and it needs all of ``l``).
STORE = """
WITH ci AS (
    SELECT nextval('campaigns_id_seq') AS id, u.*
    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::int[], $8::int[], $9::int[], $10::numeric[], $11::bigint[])
         WITH ORDINALITY AS u(p, a, r, t, b, s, ac, f, i, co, k, ord)
), c AS (
    INSERT INTO campaigns (id, public_id, account_id, reference, type, body, sender_id,
                           accepted, failed, invalid, estimated_cost, api_key_id)
    OVERRIDING SYSTEM VALUE
    SELECT id, p, a, r, t::message_type, b, s, ac, f, i, co, k FROM ci
    RETURNING 1
), x AS (
    -- each message's send ($15: the position of each send's first message) and
    -- its outcome ($16 at the run of $17 it falls in, a position in $18-$29):
    -- binary searches (width_bucket). OFFSET 0 keeps the sub-select whole, so
    -- that each is worked out once per message.
    SELECT u.p, u.d, ($14::int[])[u.ord] AS cr, width_bucket(u.ord, $15::int[]) AS camp,
           ($16::int[])[width_bucket(u.ord, $17::int[])] AS o
    FROM unnest($12::text[], $13::text[]) WITH ORDINALITY AS u(p, d, ord)
    OFFSET 0
), mi AS (
    SELECT nextval('messages_id_seq') AS id,
           (SELECT array_agg(id ORDER BY ord) FROM ci)[x.camp] AS campaign_id,
           (SELECT array_agg(a ORDER BY ord) FROM ci)[x.camp] AS account_id,
           x.p, x.d, ($18::text[])[x.o] AS co, ($19::text[])[x.o] AS s,
           ($20::text[])[x.o] AS r, ($21::text[])[x.o] AS e, ($22::int[])[x.o] AS n,
           ($23::numeric[])[x.o] AS cost, ($24::text[])[x.o] AS si, ($25::int[])[x.o] AS st,
           ($26::int[])[x.o] AS sn, x.cr, ($27::text[])[x.o] AS er,
           ($28::int[])[x.o] AS po, ($29::int[])[x.o] AS pn
    FROM x
), m AS (
    INSERT INTO messages (id, public_id, campaign_id, account_id, destination, country, state, route,
                          encoding, segments, cost, sender_id, sender_ton, sender_npi, concat_ref,
                          error, final_at)
    SELECT id, p, campaign_id, account_id, d, co, s::message_state, r, e, n, cost, si, st, sn, cr, er,
           CASE WHEN s = 'queued' THEN NULL ELSE now() END
    FROM mi
    RETURNING 1
), p AS (
    -- parts 1..pn of a queued message: its outcome's texts, $30[po + 1 .. po + pn]
    INSERT INTO message_parts (message_id, seq, total, body, route)
    SELECT id, seq, pn, ($30::text[])[po + seq], r
    FROM (SELECT mi.id, mi.pn, mi.po, mi.r, generate_series(1, mi.pn) AS seq FROM mi WHERE mi.s = 'queued') g
    RETURNING 1
), l AS (
    INSERT INTO ledger (account_id, message_id, kind, amount)
    SELECT account_id, id, 'reservation', cost FROM mi WHERE s = 'queued' AND cost > 0
    RETURNING account_id, amount
), locked AS (
    SELECT id FROM accounts WHERE id IN (SELECT account_id FROM l) ORDER BY id FOR NO KEY UPDATE
), a AS (
    UPDATE accounts SET committed = committed + s.total
    FROM (SELECT account_id, sum(amount) AS total FROM l GROUP BY account_id) s
    JOIN locked ON locked.id = s.account_id
    WHERE accounts.id = s.account_id
    RETURNING accounts.id
), n AS (
    SELECT pg_notify($31, $32) WHERE $33
)
SELECT (SELECT count(*) FROM c) AS campaigns, (SELECT count(*) FROM m) AS messages,
       (SELECT count(*) FROM p) AS parts, (SELECT count(*) FROM a) AS accounts,
       (SELECT count(*) FROM n) AS notified
"""


def runs(values: Sequence[int]) -> tuple[list[int], list[int]]:
    """``values`` as runs of equal values: (the values, the position of each run's first, from 1)."""
    heads: list[int] = []
    starts: list[int] = []
    last = None
    for i, v in enumerate(values, start=1):
        if v != last:
            heads.append(v)
            starts.append(i)
            last = v
    return heads, starts


def store_arguments(
    sends: Sequence[PlannedSend], items: list[Planned], refs: dict[str, int], channel: str
) -> tuple[Any, ...]:
    """The arguments of ``STORE`` for ``sends`` (whose messages are ``items``, in order)."""
    outcome_of, outcomes = plan_outcomes(items)
    heads, starts = runs(outcome_of)
    firsts, first_message = [], 1  # each send's first message
    for s in sends:
        firsts.append(first_message)
        first_message += len(s.items)
    texts: list[str] = []
    first: dict[tuple[str, ...], int] = {}  # a segmentation's texts -> their offset in ``texts``
    offsets, counts = [], []
    for p in outcomes:
        seg = p.seg if p.state == "queued" else None
        if seg is None:
            offsets.append(0)
            counts.append(0)
            continue
        if seg.parts not in first:
            first[seg.parts] = len(texts)
            texts.extend(seg.parts)
        offsets.append(first[seg.parts])
        counts.append(len(seg.parts))
    queued = any(p.state == "queued" and p.seg is not None for p in outcomes)
    return (
        [s.public_id for s in sends], [s.account_id for s in sends],
        [s.request.reference for s in sends], [s.kind for s in sends],
        [s.request.message for s in sends], [s.request.sender_id for s in sends],
        [s.counts["queued"] for s in sends], [s.counts["failed"] for s in sends],
        [s.counts["invalid"] for s in sends], [s.total for s in sends], [s.api_key_id for s in sends],
        [p.public_id for p in items], [p.to for p in items],
        [refs.get(p.public_id) for p in items] if refs else [],
        firsts, heads, starts,
        [p.country for p in outcomes], [p.state for p in outcomes],
        [p.route.label if p.route else None for p in outcomes],
        [str(p.seg.encoding) if p.seg else None for p in outcomes],
        [p.seg.segments if p.seg else 0 for p in outcomes], [p.cost for p in outcomes],
        [p.sender.address if p.sender else None for p in outcomes],
        [p.sender.ton if p.sender else None for p in outcomes],
        [p.sender.npi if p.sender else None for p in outcomes],
        [p.error for p in outcomes], offsets, counts, texts,
        channel, sends[0].public_id, queued,
    )  # fmt: skip
