"""One writer flush: every row of a batch applied by one SQL call, ``apply_flush``.

The SQL function runs, in this order: accepted outcomes (folded with their final
receipt when both are in the batch), riders, failures, requeues, unknown outcomes,
late responses, parked receipts of the keys that landed, receipt matching, and
``finalize_messages``. Sent on a pool connection outside a transaction it commits
on its own: one round trip from the daemon's one thread per flush.

Its arguments are one array per kind of row, each of a composite type whose fields
are named as here (``flush_accepted``, ``flush_failed``, ``flush_requeued``,
``flush_unknown``, ``flush_late``, ``flush_receipt``), never one row per call
(docs/design.md "Performance rules"). Every UPDATE carries the state it expects in its
WHERE clause, so a duplicate response or receipt, a part recovered meanwhile by
another daemon, or a final part simply matches nothing: transitions are monotonic
and idempotent and the final-state triggers are never hit.

Receipts whose id is not known yet come back from the call; they are parked here
(with their parsed form as JSON, built only for them) before they are
acknowledged. The writer keeps their keys busy until then, so a response for one
of them waits and finds it parked (writer.py ``_cut``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import trio

import dlr
from bridge.dispatch.inbound import RECEIPT_TEXT_PREFIX, MoRow, ReceiptRow
from bridge.dispatch.parts import Resolution, Result
from bridge.store.db import Connection, Database

__all__ = ["Applied", "Parked", "apply_flush", "apply_parked", "take_parked"]

# One array of a composite type per kind of row (the types flush_accepted ...
# flush_receipt of the SQL function); each tuple below lists its type's fields in
# their order. asyncpg learns the types' layout once per connection.
_APPLY = """
SELECT * FROM apply_flush(
    $1::flush_accepted[], $2::flush_failed[], $3::flush_requeued[], $4::flush_unknown[],
    $5::flush_late[], $6::flush_receipt[], $7::boolean, $8::text)
"""

# The free text is passed, never stored: its HMAC (receipt_text_hmac, migration 0011)
# and length are, for matching a part whose outcome is unknown; a receipt back from
# the parking brings its stored HMAC instead. Only its first RECEIPT_TEXT_PREFIX
# characters count (ReceiptRow.text already cuts it; cut again here so that no row
# can overflow text_len, a smallint): the HMAC and the length are of that prefix.
_PARK = f"""
INSERT INTO parked_receipts (carrier, id_key, receipt, raw, status, stat, error_code, source,
    destination, submit_date, text_hmac, text_len)
SELECT c, k, j, raw, st, stat, e, src, dst, sd,
       coalesce(h, CASE WHEN t <> '' THEN receipt_text_hmac(left(t, {RECEIPT_TEXT_PREFIX})) END),
       coalesce(tl, least(length(nullif(t, '')), {RECEIPT_TEXT_PREFIX}))
FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bytea[], $5::text[], $6::text[], $7::int[],
    $8::text[], $9::text[], $10::timestamp[], $11::text[], $12::bytea[], $13::smallint[])
    AS u(c, k, j, raw, st, stat, e, src, dst, sd, t, h, tl)
"""

# Parked receipts of some keys, locked and left in place: only those that match are
# deleted (apply_parked), so one that does not keeps its received_at (its TTL) and
# its ambiguous_at. Rows another transaction holds are skipped (a later pass).
_TAKE = """
SELECT r.id, r.carrier, r.id_key, r.receipt, r.raw, r.source, r.destination, r.text_hmac, r.text_len
FROM parked_receipts r, unnest($1::text[], $2::text[]) AS k(c, key)
WHERE r.carrier = k.c AND r.id_key = k.key
ORDER BY r.id
FOR UPDATE OF r SKIP LOCKED
"""

_DELETE_PARKED = "DELETE FROM parked_receipts WHERE id = ANY ($1::bigint[])"

# MO to an SMS Preflight probe number (preflight_numbers) is also copied, in the same
# statement, into preflight_inbox for the preflight matcher, which the NOTIFY wakes
# (bridge/preflight/matcher.py); with no probe numbers the join finds nothing.
_MO = """
WITH stored AS (
    INSERT INTO inbound_messages (carrier, source, source_ton, source_npi, destination, dest_ton,
        dest_npi, esm_class, data_coding, body, raw, concat_ref, concat_seq, concat_total)
    SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::smallint[], $5::text[],
        $6::smallint[], $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::bytea[],
        $12::int[], $13::smallint[], $14::smallint[])
    RETURNING id, carrier, source, source_ton, destination, esm_class, data_coding, raw, concat_ref,
        concat_seq, concat_total, received_at
), probes AS (
    INSERT INTO preflight_inbox (inbound_id, carrier, source, source_ton, digits, esm_class, data_coding,
        raw, concat_ref, concat_seq, concat_total, received_at)
    SELECT s.id, s.carrier, s.source, s.source_ton, n.digits, s.esm_class, s.data_coding, s.raw,
        s.concat_ref, s.concat_seq, s.concat_total, s.received_at
    FROM stored s JOIN preflight_numbers n ON n.digits = ltrim(s.destination, '+')
    RETURNING 1
)
SELECT pg_notify('smpp_bridge_preflight', '') FROM (SELECT 1 FROM probes LIMIT 1) AS any_probe
"""

# What a receipt does to its part, as flush_receipt.part_state / parked_receipts.status
# ("accepted": pending, and starts the part's accepted_timeout; migration 0011).
_PART_STATE = {dlr.Status.SENT: "delivered", dlr.Status.FAILED: "failed", dlr.Status.PENDING: "pending"}


def part_state(receipt: ReceiptRow) -> str:
    """The receipt's part_state: a pending one is "accepted" when its state is ACCEPTED (the
    flag inbound.classify sets, or the parsed receipt's state: rows built elsewhere)."""
    status = receipt.status
    if status is not dlr.Status.PENDING:
        return _PART_STATE[status]
    parsed = receipt.receipt
    if receipt.accepted or (
        isinstance(parsed, dlr.Receipt) and parsed.state is dlr.MessageState.ACCEPTED and not parsed.intermediate
    ):
        return "accepted"
    return "pending"
_FAILED_RESOLUTIONS = frozenset({Resolution.REJECTED, Resolution.UNKNOWN_FAIL, Resolution.INVALID})
_ACCEPTED = Resolution.ACCEPTED


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
    sent: int = 0  # messages that became sent (charged)
    failed: int = 0  # messages that became failed (refunded)
    late_applied: int = 0  # late responses that gave their part its carrier id
    unknown: int = 0  # parts that entered the state unknown
    folded: int = 0  # of receipts_applied, receipts applied with their response in one UPDATE
    without_key: int = 0  # unmatched receipts with no key: counted, never parked (park)
    # Per carrier, for DaemonStats.by_carrier: built only from the rows parked / stored.
    parked_by: dict[str, int] = field(default_factory=dict)
    mo_by: dict[str, int] = field(default_factory=dict)


def _per_carrier(rows: Sequence[ReceiptRow] | Sequence[MoRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row.carrier] = out.get(row.carrier, 0) + 1
    return out


_NO_FOLD = (None, None, None, None)


def _folds(results: Sequence[Result], receipts: Sequence[ReceiptRow]) -> list[tuple[int | None, str | None, str | None, int | None]]:
    """For each accepted outcome, its key's first final receipt to fold: (1-based position, part state, stat, error).

    One UPDATE then takes the part from submitting to its final state. Not for a
    key shared by two accepted parts of the batch (left to matching, which takes
    the newest), nor for riders (their receipt settles the whole message). A
    folded receipt travels in its accepted row only, not in the receipts array
    (``_receipt_rows``): should the fold not apply, ``apply_flush`` matches it from
    that row at its position.
    """
    first_final: dict[tuple[str, str], int] = {}
    pending = dlr.Status.PENDING
    for i, receipt in enumerate(receipts):
        if receipt.status is not pending:
            first_final.setdefault((receipt.carrier, receipt.id_key), i)
    positions: list[int | None] = [None] * len(results)
    if first_final:
        seen: dict[tuple[str, str], int] = {}
        for n, r in enumerate(results):
            if not (r.carrier and r.id_key) or r.riders:
                continue
            key = (r.carrier, r.id_key)
            found = first_final.get(key)
            if found is None:
                continue
            if key in seen:  # one carrier id for two parts: neither folds
                positions[seen[key]] = None
            else:
                seen[key] = n
                positions[n] = found
    folds: list[tuple[int | None, str | None, str | None, int | None]] = []
    for position in positions:
        if position is None:
            folds.append(_NO_FOLD)
        else:
            receipt = receipts[position]
            folds.append((position + 1, _PART_STATE[receipt.status], receipt.stat, receipt.error_code))
    return folds


def _receipt_rows(receipts: Sequence[ReceiptRow], folded: set[int]) -> list[tuple[str, str, str, str | None, int | None]]:
    """The receipts array without the folded receipts (their 1-based positions ``folded``).

    Each row of that array is a composite that asyncpg encodes in Python; a folded
    receipt is in its accepted row already. The others keep their order, and
    ``apply_flush`` gives them back their positions (unmatched ones are reported by
    position in ``receipts``).
    """
    return [
        (r.carrier, r.id_key, part_state(r), r.stat, r.error_code)
        for n, r in enumerate(receipts, 1)
        if n not in folded
    ]


async def apply_flush(
    conn: Database | Connection,
    results: Sequence[Result],
    receipts: Sequence[ReceiptRow],
    mos: Sequence[MoRow],
    *,
    webhooks: bool,
    default_url: str | None,
) -> Applied:
    """The whole flush: outcomes, parked receipts, receipts, messages, money; then parking and MO.

    On a ``Database`` each statement commits on its own: the call, the parking of
    unknown receipts, the MO rows. A failure in between leaves what committed
    (all of it idempotent to apply again) and raises; the writer then answers the
    receipts and MO with a temporary error and retries the outcomes.
    """
    out, unmatched = await _apply(conn, results, receipts, webhooks=webhooks, default_url=default_url)
    if unmatched:
        await park(conn, [receipts[i] for i in unmatched], out)
    if mos:
        await apply_mo(conn, mos, out)
    return out


async def _apply(
    conn: Database | Connection,
    results: Sequence[Result],
    receipts: Sequence[ReceiptRow],
    *,
    webhooks: bool,
    default_url: str | None,
) -> tuple[Applied, list[int]]:
    """The apply_flush call; what it did, and the positions of the receipts that matched no part."""
    out = Applied()
    unmatched: list[int] = []
    if results or receipts:
        # One pass over the outcomes (mostly accepted ones), not one per kind.
        accepted: list[Result] = []
        failed: list[Result] = []
        requeue: list[Result] = []
        late: list[Result] = []
        unknown: list[Result] = []
        kinds = {Resolution.RESUBMIT: requeue, Resolution.RELEASE: requeue,
                 Resolution.LATE_ACCEPT: late, Resolution.UNKNOWN: unknown,
                 **dict.fromkeys(_FAILED_RESOLUTIONS, failed)}  # fmt: skip
        ignored: list[Result] = []
        for r in results:
            if r.resolution is _ACCEPTED:  # no hash of the enum (a Python call) for most
                accepted.append(r)
            else:
                kinds.get(r.resolution, ignored).append(r)
        folds = _folds(accepted, receipts)
        folded = {fold[0] for fold in folds if fold[0] is not None}
        # Seconds since each accepted submit_sm was written, just before the call: the
        # function stores now() minus that (the submit's time, migration 0023).
        clock = trio.current_time()
        row = await conn.fetchrow(
            _APPLY,
            [(r.part.message_id, r.part.seq, r.part.owner, r.part.attempts, r.carrier, r.carrier_message_id,
              r.id_key, r.riders, *fold, None if r.written_at is None else max(0.0, clock - r.written_at))
             for r, fold in zip(accepted, folds, strict=True)],
            [(r.part.message_id, r.part.seq, r.part.owner, r.part.attempts, r.carrier, r.status, r.reason)
             for r in failed],
            [(r.part.message_id, r.part.seq, r.part.owner, r.part.attempts, r.carrier,
              r.resolution is Resolution.RELEASE, r.delay) for r in requeue],
            [(r.part.message_id, r.part.seq, r.part.owner, r.part.attempts, r.carrier, r.delay) for r in unknown],
            [(r.part.message_id, r.part.seq, r.part.attempts, r.carrier, r.carrier_message_id, r.id_key)
             for r in late],
            _receipt_rows(receipts, folded) if folded else
            [(r.carrier, r.id_key, part_state(r), r.stat, r.error_code) for r in receipts],
            webhooks, default_url,
        )  # fmt: skip
        assert row is not None
        out.accepted, out.rejected, out.requeued = row[0], row[1], row[2]
        out.receipts_applied, out.receipts_duplicate, out.parked_applied = row[3], row[4], row[5]
        out.sent, out.failed, out.late_applied, out.unknown = row[6], row[7], row[9], row[10]
        out.folded = row[11]
        unmatched = [i - 1 for i in row[8]]
    return out, unmatched


async def park(conn: Database | Connection, receipts: Sequence[ReceiptRow], out: Applied | None = None) -> None:
    """Receipts whose id is not known yet: kept until it lands (or the TTL moves them on).

    A row without a key (a query_sm answer for a part stored without one, or any other
    producer's mistake) can never match: it is counted in ``out.without_key`` and not
    parked, so that it cannot make the flush fail (``parked_receipts.id_key`` is NOT
    NULL) and the SMSC's receipts be refused over and over.
    """
    keyed = [r for r in receipts if r.id_key]
    if out is not None:
        out.without_key += len(receipts) - len(keyed)
        out.receipts_parked += len(keyed)
        for name, n in _per_carrier(keyed).items():
            out.parked_by[name] = out.parked_by.get(name, 0) + n
    if not keyed:
        return
    receipts = keyed
    await conn.execute(
        _PARK,
        [r.carrier for r in receipts], [r.id_key for r in receipts],
        [r.receipt_json() for r in receipts], [r.raw_for_parking() for r in receipts],
        [part_state(r) for r in receipts], [r.stat for r in receipts],
        [r.error_code for r in receipts], [_nul_free(r.source) for r in receipts],
        [_nul_free(r.destination) for r in receipts], [r.submit_minute() for r in receipts],
        [r.text() for r in receipts], [r.text_hmac for r in receipts], [r.text_len for r in receipts],
    )  # fmt: skip


def _nul_free(value: str) -> str | None:
    return value.replace("\x00", "") or None


def receipt_from_parked(
    carrier: str, key: str, receipt: dict[str, object], raw: bytes | None,
    table_for: Callable[[str], dlr.StatusTable | None],
    fields: tuple[str | None, str | None, bytes | None, int | None] = (None, None, None, None),
) -> ReceiptRow:
    """A parked receipt as a row again; ``fields``: its source, destination, text HMAC and length."""
    parsed = msgspec.convert(receipt, dlr.Receipt)
    table = table_for(carrier)
    status = dlr.Status.PENDING if parsed.intermediate else dlr.status_for(parsed.state, table)
    source, destination, text_hmac, text_len = fields
    return ReceiptRow(
        carrier=carrier, id_key=key, status=status, stat=parsed.stat or parsed.state.name,
        error_code=parsed.error_code, receipt=receipt, raw=raw or b"",
        accepted=status is dlr.Status.PENDING and parsed.state is dlr.MessageState.ACCEPTED
        and not parsed.intermediate,
        source=source or "", destination=destination or "", text_hmac=text_hmac, text_len=text_len,
    )  # fmt: skip


async def take_parked(
    tx: Connection, keys: Sequence[tuple[str, str]], table_for: Callable[[str], dlr.StatusTable | None]
) -> list[Parked]:
    """The parked receipts of ``keys``, in arrival order, locked in ``tx`` and left in place.

    Their status is worked out again from the stored receipt with the carrier's
    current table (rows parked by releases before migration 0008 have no
    stored status). ``apply_parked`` applies them and deletes those that matched.
    """
    if not keys:
        return []
    rows = await tx.fetch(_TAKE, [k[0] for k in keys], [k[1] for k in keys])
    return [
        Parked(row["id"], receipt_from_parked(
            row["carrier"], row["id_key"], row["receipt"], row["raw"], table_for,
            (row["source"], row["destination"], row["text_hmac"], row["text_len"]),
        ))
        for row in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Parked:
    """A parked receipt taken by ``take_parked``: its row id and its receipt."""

    id: int
    row: ReceiptRow


async def apply_parked(tx: Connection, taken: Sequence[Parked], *, webhooks: bool, default_url: str | None) -> Applied:
    """Apply receipts taken from the parking (``apply_flush`` without parking again);
    those that matched a part are deleted (``parked_applied``), the others stay as
    they were, their received_at and ambiguous_at unchanged."""
    out, unmatched = await _apply(tx, [], [p.row for p in taken], webhooks=webhooks, default_url=default_url)
    left = set(unmatched)
    done = [p.id for n, p in enumerate(taken) if n not in left]
    if done:
        await tx.execute(_DELETE_PARKED, done)
    out.parked_applied += len(done)
    return out


async def apply_mo(conn: Database | Connection, mos: Sequence[MoRow], out: Applied) -> None:
    await conn.execute(
        _MO,
        [m.carrier for m in mos], [m.source for m in mos], [m.source_ton for m in mos],
        [m.source_npi for m in mos], [m.destination for m in mos], [m.dest_ton for m in mos],
        [m.dest_npi for m in mos], [m.esm_class for m in mos], [m.data_coding for m in mos],
        [m.body for m in mos], [m.raw for m in mos], [m.concat_ref for m in mos],
        [m.concat_seq for m in mos], [m.concat_total for m in mos],
    )  # fmt: skip
    out.mo += len(mos)
    for name, n in _per_carrier(mos).items():
        out.mo_by[name] = out.mo_by.get(name, 0) + n
