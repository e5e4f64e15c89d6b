"""Enqueue: seed 000 ``POST /sms/send`` semantics, validated, priced, reserved, stored.

One call is one campaign of 1..100 recipients. Per number:

- valid when ``phonenumbers.is_valid_number`` accepts it with a leading '+'
  (the seed's "E.164 validation"); an invalid number is stored as ``invalid``,
  never sent, never charged;
- routed (``RouteTable``: longest prefix, country, default) and segmented
  with *that route's* segmentation profile, so the parts billed are the parts
  sent; a valid number without a route (or rate, or within the profile's
  max_parts) is stored as ``failed`` and not charged;
- priced: segments x rate(country), exact Decimal.

Then one transaction: insert the campaign, messages, parts and ledger
reservations with one statement each (unnest arrays), allocate concatenation
references, reserve the total (a guarded UPDATE: insufficient balance raises
and the transaction changes nothing), and ``pg_notify('smpp_bridge_queued',
...)``, which PostgreSQL delivers only when the transaction commits (NOTIFY
semantics), so a claimer never wakes up for rows it cannot see yet.

The reservation is the transaction's last write on purpose: it locks the
account row until the commit, and the daemon's writer needs that row to settle
every flush (``settle_messages``). Taken first, it was held while thousands of
rows were inserted, and a busy account's flushes waited for it past the
writer's ``db_timeout`` (docs/store.md "Enqueue and the account row (and a cold start)"). A
balance that is visibly too small is refused before the transaction starts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from bridge.store.accounts import AccountNotFound, get_account
from bridge.store.executor import Executor
from bridge.store.models import PublicStatus, Recipient, SendResult, Totals, new_public_id
from bridge.store.plan import (
    MAX_RECIPIENTS,
    EnqueueError,
    MessageType,
    Planned,
    SendRequest,
    classify_type,
    parse_number,
    plan,
)
from bridge.store.reasons import describe
from bridge.store.routing import RouteTable
from config.schema import Config

__all__ = [
    "MAX_RECIPIENTS",
    "NOTIFY_CHANNEL",
    "EnqueueError",
    "SendRequest",
    "classify_type",
    "enqueue",
    "enqueue_many",
    "parse_number",
]

# LISTEN on this channel to wake up when parts are queued; the payload is the
# campaign id of the first send in the batch (a hint, not a contract).
NOTIFY_CHANNEL = "smpp_bridge_queued"

# --- the transaction -------------------------------------------------------------------

_INSERT_CAMPAIGNS = """
INSERT INTO campaigns (public_id, account_id, reference, type, body, sender_id,
                       accepted, failed, invalid, estimated_cost, api_key_id)
SELECT p, $1, r, t::message_type, b, s, a, f, i, c, $11
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::int[], $8::int[], $9::int[], $10::numeric[]) AS u(p, r, t, b, s, a, f, i, c)
RETURNING id, public_id
"""

_INSERT_MESSAGES = """
INSERT INTO messages (public_id, campaign_id, account_id, destination, country, state, route,
                      encoding, segments, cost, sender_id, sender_ton, sender_npi, concat_ref,
                      error, final_at)
SELECT p, ca, $1, d, c, s::message_state, r, e, n, co, si, st, sn, cr, er,
       CASE WHEN s = 'queued' THEN NULL ELSE now() END
FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::int[], $10::numeric[], $11::text[], $12::int[], $13::int[], $14::int[], $15::text[])
     AS t(p, ca, d, c, s, r, e, n, co, si, st, sn, cr, er)
RETURNING id, public_id
"""

_INSERT_PARTS = """
INSERT INTO message_parts (message_id, seq, total, body, route)
SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[])
"""

_RESERVE_LEDGER = """
INSERT INTO ledger (account_id, message_id, kind, amount)
SELECT $1, m, 'reservation', a FROM unnest($2::bigint[], $3::numeric[]) AS t(m, a)
"""

# References per destination (see migration 0001 concat_refs): returns the
# value after allocating n, so this call's references are new-n .. new-1.
_ALLOCATE_REFS = """
INSERT INTO concat_refs AS c (destination, next_ref)
SELECT d, n % 65536 FROM unnest($1::text[], $2::int[]) AS t(d, n)
ON CONFLICT (destination) DO UPDATE SET next_ref = (c.next_ref + excluded.next_ref) % 65536
RETURNING destination, next_ref
"""


async def _allocate_refs(tx: Executor, items: list[Planned]) -> dict[str, int]:
    """Concatenation reference per multipart message (by public id)."""
    multipart = [p for p in items if p.seg is not None and p.seg.segments > 1]
    if not multipart:
        return {}
    counts = Counter(p.to for p in multipart)
    destinations = sorted(counts)  # a fixed order: concurrent enqueues cannot deadlock
    rows = await tx.fetch(_ALLOCATE_REFS, destinations, [counts[d] for d in destinations])
    following = {row["destination"]: row["next_ref"] for row in rows}
    refs: dict[str, int] = {}
    used: Counter[str] = Counter()
    for p in multipart:
        refs[p.public_id] = (following[p.to] - counts[p.to] + used[p.to]) % 65536
        used[p.to] += 1
    return refs


async def enqueue(
    db: Executor,
    config: Config,
    account: str | int,
    request: SendRequest,
    *,
    routes: RouteTable | None = None,
    api_key_id: int | None = None,
) -> SendResult:
    """Validate, price, reserve and queue one send; returns the seed's 201 body.

    Raises ``EnqueueError`` with the seed's code; on any error nothing is stored.
    """
    (result,) = await enqueue_many(db, config, account, [request], routes=routes, api_key_id=api_key_id)
    return result


async def enqueue_many(
    db: Executor,
    config: Config,
    account: str | int,
    requests: Sequence[SendRequest],
    *,
    routes: RouteTable | None = None,
    api_key_id: int | None = None,
    max_recipients: int = MAX_RECIPIENTS,
) -> list[SendResult]:
    """Several sends of one account in one transaction (bulk loading, benchmarks).

    All or nothing: if any request is invalid, or the balance cannot cover
    them all, ``EnqueueError`` is raised and nothing is stored. The statement
    count does not grow with the batch (unnest arrays). ``db`` is either
    executor (trio or asyncio, ``bridge.store.executor``); a connection inside
    a transaction makes this call a savepoint of it. ``api_key_id`` is stored
    on the campaigns (the key of an API send); ``max_recipients`` is its
    per-call limit (the seed's 100 by default).
    """
    table = routes if routes is not None else RouteTable(config)
    try:
        found = await get_account(db, account)
    except AccountNotFound:
        raise EnqueueError("not_found", f"Unknown account {account!r}.") from None
    sends = [
        _Send(r, *plan(r, config, table, found.default_sender_id, max_recipients=max_recipients))
        for r in requests
    ]
    if not sends:
        return []
    total = sum((s.total for s in sends), Decimal(0))
    items = [p for s in sends for p in s.items]

    short = EnqueueError("insufficient_balance", f"This send costs {total} MYR; the balance cannot cover it.")
    if total > found.balance:
        raise short  # as read just now; the guarded UPDATE below is what counts
    async with db.transaction() as tx:
        rows = await tx.fetch(
            _INSERT_CAMPAIGNS, found.id, [s.public_id for s in sends],
            [s.request.reference for s in sends], [s.kind for s in sends],
            [s.request.message for s in sends], [s.request.sender_id for s in sends],
            [s.counts["queued"] for s in sends], [s.counts["failed"] for s in sends],
            [s.counts["invalid"] for s in sends], [s.total for s in sends], api_key_id,
        )  # fmt: skip
        campaign_ids = {row["public_id"]: row["id"] for row in rows}
        campaign_of = [campaign_ids[s.public_id] for s in sends for _ in s.items]
        refs = await _allocate_refs(tx, items)
        rows = await tx.fetch(
            _INSERT_MESSAGES, found.id,
            [p.public_id for p in items], campaign_of, [p.to for p in items],
            [p.country for p in items], [p.state for p in items],
            [p.route.label if p.route else None for p in items],
            [str(p.seg.encoding) if p.seg else None for p in items],
            [p.seg.segments if p.seg else 0 for p in items], [p.cost for p in items],
            [p.sender.address if p.sender else None for p in items],
            [p.sender.ton if p.sender else None for p in items],
            [p.sender.npi if p.sender else None for p in items],
            [refs.get(p.public_id) for p in items], [p.error for p in items],
        )  # fmt: skip
        ids = {row["public_id"]: row["id"] for row in rows}
        queued = [p for p in items if p.state == "queued" and p.seg is not None]
        if queued:
            part_rows = [
                (ids[p.public_id], seq, len(p.seg.parts), text, p.route.label if p.route else None)
                for p in queued if p.seg is not None
                for seq, text in enumerate(p.seg.parts, start=1)
            ]  # fmt: skip
            await tx.execute(_INSERT_PARTS, *(list(column) for column in zip(*part_rows, strict=True)))
            charged = [p for p in queued if p.cost > 0]
            if charged:
                await tx.execute(
                    _RESERVE_LEDGER, found.id,
                    [ids[p.public_id] for p in charged], [p.cost for p in charged],
                )  # fmt: skip
        if total > 0:  # last: the account row stays locked from here to the commit only
            left = await tx.fetchval(
                "UPDATE accounts SET reserved = reserved + $2"
                " WHERE id = $1 AND credits - charged - reserved >= $2"
                " RETURNING credits - charged - reserved",
                found.id, total,
            )  # fmt: skip
            if left is None:
                raise short  # the transaction rolls back: nothing of this call is stored
        if queued:
            # Delivered by PostgreSQL only when this transaction commits.
            await tx.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, sends[0].public_id)
    return [s.result() for s in sends]


_STATUS = {"queued": PublicStatus.PENDING, "failed": PublicStatus.FAILED, "invalid": PublicStatus.INVALID}


class _Send:
    """One request's plan and the response it becomes."""

    __slots__ = ("counts", "items", "kind", "public_id", "request", "total")

    def __init__(self, request: SendRequest, kind: MessageType, items: list[Planned]) -> None:
        self.request = request
        self.kind = kind
        self.items = items
        self.public_id = new_public_id("camp")
        self.total = sum((p.cost for p in items), Decimal(0))
        self.counts = Counter(p.state for p in items)

    def result(self) -> SendResult:
        return SendResult(
            ok=True,
            campaign_id=self.public_id,
            reference=self.request.reference,
            totals=Totals(
                accepted=self.counts["queued"], failed=self.counts["failed"], invalid=self.counts["invalid"]
            ),
            estimated_cost=self.total,
            currency="MYR",
            recipients=tuple(
                Recipient(
                    id=p.public_id, to=p.to, status=_STATUS[p.state], carrier_ref=None,
                    cost=p.cost, country=p.country, error=p.error, reason=describe(p.error, p.detail),
                )
                for p in self.items
            ),
        )
