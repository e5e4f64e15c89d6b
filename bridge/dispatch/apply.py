"""One writer flush: every row of a batch in one transaction, a few statements in all.

Each statement takes arrays (``unnest``), never one row (DESIGN.md "Performance
rules"). Every UPDATE carries the state it expects in its WHERE clause, so a
duplicate response or receipt, a part recovered meanwhile by another daemon, or
a final part simply matches nothing: transitions are monotonic and idempotent
and the final-state triggers of migration 0001 are never hit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

import dlr
from bridge.dispatch.finalize import Touched, finalize_messages, note_parts
from bridge.dispatch.inbound import MoRow, ReceiptRow
from bridge.dispatch.parts import Resolution, Result
from bridge.store.db import Connection

__all__ = ["PLANNER_SETTINGS", "Applied", "apply_batch", "apply_parked"]

# The state guards compare ``state::text``: written as ``state = 'submitting'``
# they match the predicates of the partial indexes of migration 0001
# (message_parts_inflight, message_parts_claim), and with statistics taken
# before the pipeline moved the rows the planner then scanned a whole partial
# index in an outer loop around the batch (measured: 750 ms for 250 rows).
# As text they are plain filters on the primary-key lookups driven by the batch.
_ACCEPT = """
UPDATE message_parts p
SET state = 'submitted', carrier = u.c, carrier_message_id = u.cid, id_key = u.k, submitted_at = now()
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[])
     AS u(m, s, o, a, c, cid, k)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
  AND p.owner_instance = u.o AND p.attempts = u.a
RETURNING p.message_id, p.carrier, p.id_key, p.total, 'submitted' AS state, NULL::text AS err
"""

# The error a failed part gives its message (shown by GET /sms/{id}).
_PART_ERROR = "coalesce(p.receipt_stat, 'submit_error_' || p.error_code::text, 'failed')"

# Accepted and its final receipt in the same flush (receipts arrive within
# milliseconds of the submit_sm_resp): one UPDATE takes the part from
# submitting to its final state with the carrier id, instead of an UPDATE to
# submitted and a second one to the final state (each a new row version with
# its index entries). Same guard as _ACCEPT.
_ACCEPT_FINAL = """
UPDATE message_parts p
SET state = u.st::part_state, carrier = u.c, carrier_message_id = u.cid, id_key = u.k,
    submitted_at = now(), final_at = now(), receipt_stat = u.stat, error_code = u.e
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::int[])
     AS u(m, s, o, a, c, cid, k, st, stat, e)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
  AND p.owner_instance = u.o AND p.attempts = u.a
RETURNING p.message_id, p.carrier, p.id_key, p.total, p.state::text AS state, """ + _PART_ERROR + """ AS err
"""

# concat = "payload": part 1 carried the whole message; the other parts of the
# message ride along under its carrier id (one receipt then settles them all).
_RIDERS = """
UPDATE message_parts r
SET state = 'submitted', carrier = u.c, carrier_message_id = u.cid, id_key = u.k, submitted_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(m, c, cid, k)
WHERE r.message_id = u.m AND r.seq > 1 AND r.state::text = 'queued'
"""

_FAIL = """
UPDATE message_parts p
SET state = 'failed', carrier = coalesce(u.c, p.carrier), error_code = u.e, receipt_stat = u.why,
    final_at = now()
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::int[], $7::text[])
     AS u(m, s, o, a, c, e, why)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
  AND p.owner_instance = u.o AND p.attempts = u.a
RETURNING p.message_id, p.total, 'failed' AS state, """ + _PART_ERROR + """ AS err
"""

# Back to the queue. A release did not send anything, so its attempt is not counted.
_REQUEUE = """
UPDATE message_parts p
SET state = 'queued', owner_instance = NULL, carrier = coalesce(u.c, p.carrier),
    attempts = p.attempts - u.undo, next_attempt_at = now() + make_interval(secs => u.d)
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::int[], $7::float8[])
     AS u(m, s, o, a, c, undo, d)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text = 'submitting'
  AND p.owner_instance = u.o AND p.attempts = u.a
"""

# Receipt keys -> the newest part under that key (carriers reuse ids over
# months: docs/store.md). No lock here; the UPDATE below re-checks the state.
_MATCH = """
SELECT k.i, p.message_id, p.seq
FROM unnest($1::text[], $2::text[], $3::int[]) AS k(c, key, i)
CROSS JOIN LATERAL (
    SELECT q.message_id, q.seq FROM message_parts q
    WHERE q.carrier = k.c AND q.id_key = k.key
      AND q.message_id = (SELECT max(r.message_id) FROM message_parts r
                          WHERE r.carrier = k.c AND r.id_key = k.key)
) p
"""

_RECEIPT_FINAL = """
UPDATE message_parts p
SET state = u.st::part_state, receipt_stat = u.stat, error_code = u.e, final_at = now()
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::int[]) AS u(m, s, st, stat, e)
WHERE p.message_id = u.m AND p.seq = u.s AND p.state::text IN ('submitting', 'submitted')
RETURNING p.message_id, p.total, p.state::text AS state, """ + _PART_ERROR + """ AS err
"""

_PARK = """
INSERT INTO parked_receipts (carrier, id_key, receipt, raw)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bytea[])
"""

_UNPARK = """
DELETE FROM parked_receipts r USING unnest($1::text[], $2::text[]) AS k(c, key)
WHERE r.carrier = k.c AND r.id_key = k.key
RETURNING r.id, r.carrier, r.id_key, r.receipt, r.raw
"""

_MO = """
INSERT INTO inbound_messages (carrier, source, source_ton, source_npi, destination, dest_ton,
    dest_npi, esm_class, data_coding, body, raw, concat_ref, concat_seq, concat_total)
SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::smallint[], $5::text[],
    $6::smallint[], $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::bytea[],
    $12::int[], $13::smallint[], $14::smallint[])
"""

# asyncpg prepares every statement; after five runs PostgreSQL may switch to a
# generic plan that cannot see how long the unnest arrays are, and for the
# 7-array join of _ACCEPT it then picked a plan that burned ~150 ms of CPU per
# 500-row batch (measured; a few ms with a custom plan). The writer's
# transactions therefore ask for custom plans, and steer away from whole-table
# scans: every statement here looks a batch of keys up through an index, while
# estimates on freshly loaded tables (not analyzed yet) made the planner scan
# messages / message_parts in full for each flush. Good plans also need current
# statistics: see Daemon._analyze and docs/pipeline.md "Performance".
PLANNER_SETTINGS = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),"
    " set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),"
    " set_config('enable_material', 'off', true)"
)

_FINAL_PART_STATE = {dlr.Status.SENT: "delivered", dlr.Status.FAILED: "failed"}


@dataclass(slots=True)
class Applied:
    accepted: int = 0
    rejected: int = 0
    requeued: int = 0
    receipts_applied: int = 0
    receipts_parked: int = 0
    receipts_duplicate: int = 0
    parked_applied: int = 0
    mo: int = 0
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _cols(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    return [[r[i] for r in rows] for i in range(width)]


async def apply_results(
    tx: Connection, results: Sequence[Result], out: Applied, touched: Touched
) -> list[tuple[str, str]]:
    """Submit outcomes; returns the (carrier, id_key) that just landed."""
    accepted, failed, requeue = [], [], []
    for r in results:
        p = r.part
        if r.resolution is Resolution.ACCEPTED:
            accepted.append((p.message_id, p.seq, p.owner, p.attempts, r.carrier, r.carrier_message_id, r.id_key))
        elif r.resolution in (Resolution.REJECTED, Resolution.UNKNOWN_FAIL, Resolution.INVALID):
            failed.append((p.message_id, p.seq, p.owner, p.attempts, r.carrier, r.status, r.reason))
        else:
            undo = 1 if r.resolution is Resolution.RELEASE else 0
            requeue.append((p.message_id, p.seq, p.owner, p.attempts, r.carrier, undo, r.delay))
    landed: list[tuple[str, str]] = []
    if accepted:
        rows = await tx.fetch(_ACCEPT, *_cols(accepted, 7))
        out.accepted += len(rows)
        note_parts(touched, rows)
        landed = [(row["carrier"], row["id_key"]) for row in rows]
        riders = [r for r in results if r.riders and r.resolution is Resolution.ACCEPTED]
        if riders:
            await tx.execute(
                _RIDERS, [r.part.message_id for r in riders], [r.carrier for r in riders],
                [r.carrier_message_id for r in riders], [r.id_key for r in riders],
            )  # fmt: skip
    if failed:
        rows = await tx.fetch(_FAIL, *_cols(failed, 7))
        out.rejected += len(rows)
        note_parts(touched, rows)
    if requeue:
        await tx.execute(_REQUEUE, *_cols(requeue, 7))
        out.requeued += len(requeue)
    return landed


async def apply_accepted_with_receipts(
    tx: Connection,
    results: Sequence[Result],
    receipts: Sequence[ReceiptRow],
    out: Applied,
    touched: Touched,
    table_for: Callable[[str], dlr.StatusTable | None],
) -> tuple[list[Result], list[ReceiptRow]]:
    """Accepted parts whose final receipt is in the same batch: one UPDATE for both (_ACCEPT_FINAL).

    Returns the outcomes and receipts left for the ordinary path. A key with a
    receipt parked earlier is left to it, so the first receipt still wins; the
    parked receipts taken out here come back first among the receipts left.
    """
    first_final: dict[tuple[str, str], ReceiptRow] = {}
    for receipt in receipts:
        if receipt.status in _FINAL_PART_STATE:
            first_final.setdefault((receipt.carrier, receipt.id_key), receipt)
    if not first_final:
        return list(results), list(receipts)
    candidates: dict[tuple[str, str], Result] = {}
    shared: set[tuple[str, str]] = set()  # one carrier id for two parts: left to _MATCH
    for r in results:
        if r.resolution is Resolution.ACCEPTED and not r.riders and r.carrier and r.id_key:
            key = (r.carrier, r.id_key)
            if key in candidates:
                shared.add(key)
            elif key in first_final:
                candidates[key] = r
    for key in shared:
        candidates.pop(key, None)
    if not candidates:
        return list(results), list(receipts)
    parked = await _unpark(tx, list(candidates), table_for)
    out.parked_applied += len(parked)
    for receipt in parked:
        candidates.pop((receipt.carrier, receipt.id_key), None)
    done: set[tuple[str, str]] = set()
    if candidates:
        rows_in = []
        for key, r in candidates.items():
            p, receipt = r.part, first_final[key]
            rows_in.append((
                p.message_id, p.seq, p.owner, p.attempts, r.carrier, r.carrier_message_id, r.id_key,
                _FINAL_PART_STATE[receipt.status], receipt.stat, receipt.error_code,
            ))  # fmt: skip
        rows = await tx.fetch(_ACCEPT_FINAL, *_cols(rows_in, 10))
        note_parts(touched, rows)
        done = {(row["carrier"], row["id_key"]) for row in rows}
        out.accepted += len(rows)
        out.receipts_applied += len(rows)
    folded = {id(candidates[key]) for key in done}
    results_left = [r for r in results if id(r) not in folded]
    receipts_left = list(parked)
    for receipt in receipts:
        key = (receipt.carrier, receipt.id_key)
        if key not in done:
            receipts_left.append(receipt)
        elif receipt is not first_final[key]:
            out.receipts_duplicate += 1  # pending, or a later receipt of a part already final
    return results_left, receipts_left


async def apply_receipts(
    tx: Connection, receipts: Sequence[ReceiptRow], out: Applied, touched: Touched, *, park: bool = True
) -> list[ReceiptRow]:
    """Match receipts on (carrier, id_key); final ones move their part; unknown ids are parked."""
    if not receipts:
        return []
    rows = await tx.fetch(
        _MATCH, [r.carrier for r in receipts], [r.id_key for r in receipts], list(range(len(receipts)))
    )
    matched: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        matched.setdefault(row["i"], []).append((row["message_id"], row["seq"]))
    finals: dict[tuple[int, int], ReceiptRow] = {}
    unmatched: list[ReceiptRow] = []
    for i, receipt in enumerate(receipts):
        targets = matched.get(i)
        if targets is None:
            unmatched.append(receipt)
        elif receipt.status in _FINAL_PART_STATE and targets[0] not in finals:
            for target in targets:  # one part, or a payload message's part 1 and its riders
                finals[target] = receipt  # the first final receipt of a part in a batch wins
        else:
            out.receipts_duplicate += 1  # pending receipt, or a duplicate in this batch
    if finals:
        items = list(finals.items())
        updated = await tx.fetch(
            _RECEIPT_FINAL,
            [k[0] for k, _ in items], [k[1] for k, _ in items],
            [_FINAL_PART_STATE[r.status] for _, r in items], [r.stat for _, r in items],
            [r.error_code for _, r in items],
        )  # fmt: skip
        note_parts(touched, updated)
        applied = {row["message_id"] for row in updated}
        receipts_applied = len({id(r) for (m, _), r in items if m in applied})
        out.receipts_applied += receipts_applied
        out.receipts_duplicate += len({id(r) for _, r in items}) - receipts_applied
    if unmatched and park:
        await tx.execute(
            _PARK,
            [r.carrier for r in unmatched], [r.id_key for r in unmatched],
            [r.receipt_json() for r in unmatched], [r.raw for r in unmatched],
        )  # fmt: skip
        out.receipts_parked += len(unmatched)
    return unmatched


def receipt_from_parked(
    carrier: str, key: str, receipt: dict[str, object], raw: bytes | None,
    table_for: Callable[[str], dlr.StatusTable | None],
) -> ReceiptRow:
    parsed = msgspec.convert(receipt, dlr.Receipt)
    table = table_for(carrier)
    status = dlr.Status.PENDING if parsed.intermediate else dlr.status_for(parsed.state, table)
    return ReceiptRow(
        carrier=carrier, id_key=key, status=status, stat=parsed.stat or parsed.state.name,
        error_code=parsed.error_code, receipt=receipt, raw=raw or b"",
    )  # fmt: skip


async def _unpark(
    tx: Connection, keys: Sequence[tuple[str, str]], table_for: Callable[[str], dlr.StatusTable | None]
) -> list[ReceiptRow]:
    """Take the parked receipts of ``keys`` out of the parking, in arrival order."""
    if not keys:
        return []
    rows = await tx.fetch(_UNPARK, [k[0] for k in keys], [k[1] for k in keys])
    rows = sorted(rows, key=lambda row: row["id"])
    return [
        receipt_from_parked(row["carrier"], row["id_key"], row["receipt"], row["raw"], table_for)
        for row in rows
    ]


async def apply_parked(
    tx: Connection,
    keys: Sequence[tuple[str, str]],
    out: Applied,
    table_for: Callable[[str], dlr.StatusTable | None],
    touched: Touched | None = None,
) -> Touched:
    """Parked receipts whose id just landed: take them out of the parking and apply them."""
    touched = {} if touched is None else touched
    receipts = await _unpark(tx, keys, table_for)
    if receipts:
        await apply_receipts(tx, receipts, out, touched, park=True)
        out.parked_applied += len(receipts)
    return touched


async def apply_mo(tx: Connection, mos: Sequence[MoRow], out: Applied) -> None:
    if not mos:
        return
    await tx.execute(
        _MO,
        [m.carrier for m in mos], [m.source for m in mos], [m.source_ton for m in mos],
        [m.source_npi for m in mos], [m.destination for m in mos], [m.dest_ton for m in mos],
        [m.dest_npi for m in mos], [m.esm_class for m in mos], [m.data_coding for m in mos],
        [m.body for m in mos], [m.raw for m in mos], [m.concat_ref for m in mos],
        [m.concat_seq for m in mos], [m.concat_total for m in mos],
    )  # fmt: skip
    out.mo += len(mos)


async def apply_batch(
    tx: Connection,
    results: Sequence[Result],
    receipts: Sequence[ReceiptRow],
    mos: Sequence[MoRow],
    *,
    table_for: Callable[[str], dlr.StatusTable | None],
    webhooks: bool,
    default_url: str | None,
) -> Applied:
    """The whole flush, inside ``tx``: outcomes, parked receipts, receipts, messages, money, MO."""
    await tx.execute(PLANNER_SETTINGS)
    out = Applied()
    touched: Touched = {}
    results, receipts = await apply_accepted_with_receipts(tx, results, receipts, out, touched, table_for)
    landed = await apply_results(tx, results, out, touched)
    await apply_parked(tx, landed, out, table_for, touched)
    await apply_receipts(tx, receipts, out, touched)
    await apply_mo(tx, mos, out)
    out.sent, out.failed = await finalize_messages(
        tx, touched, webhooks=webhooks, default_url=default_url
    )
    return out
