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

Then one statement (``store_sends``), whatever the number of sends and of
accounts: data-modifying CTEs insert the campaigns, messages, parts and ledger
reservations (``bridge.store.intake``: unnest arrays), add each account's total to its ``committed``
(accounts locked in id order first, as ``settle_messages`` locks them for refunds) and
``pg_notify('smpp_bridge_queued', ...)``, which PostgreSQL delivers only when
the transaction commits (NOTIFY semantics), so a claimer never wakes up for
rows it cannot see yet. Outside a transaction that statement *is* the
transaction: one round trip, one commit. An account that cannot cover its
total violates ``accounts_no_overdraft`` (migration 0001) and the statement
stores nothing (``BalanceShort``). Multipart messages first allocate their
concatenation references in the same transaction.

The reservation is the statement's last write on purpose: it sums the ledger
rows just inserted, so the account rows are locked only once every row is in,
until the commit; the daemon's writer needs those rows to refund
(``settle_messages``; charges go to ``account_charges``, migration 0028). Taken first, the lock was held while thousands of rows
were inserted, and a busy account's flushes waited for it past the writer's
``db_timeout`` (docs/store.md "Enqueue and the account row (and a cold start)").
``enqueue_many`` refuses a balance that is visibly too small before it writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

import asyncpg

from bridge.store.accounts import AccountNotFound, get_account
from bridge.store.executor import Executor
from bridge.store.intake import STORE, store_arguments
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
    "BalanceShort",
    "EnqueueError",
    "PlannedSend",
    "SendRequest",
    "classify_type",
    "enqueue",
    "enqueue_many",
    "parse_number",
    "prepare",
    "short_of",
    "store_sends",
]

# LISTEN on this channel to wake up when parts are queued; the payload is the
# campaign id of the first send in the batch (a hint, not a contract).
NOTIFY_CHANNEL = "smpp_bridge_queued"

# --- the statement -------------------------------------------------------------------

# References per destination (see migration 0001 concat_refs): returns the
# value after allocating n, so this call's references are new-n .. new-1.
_ALLOCATE_REFS = """
INSERT INTO concat_refs AS c (destination, next_ref)
SELECT d, n % 65536 FROM unnest($1::text[], $2::int[]) AS t(d, n)
ON CONFLICT (destination) DO UPDATE SET next_ref = (c.next_ref + excluded.next_ref) % 65536
RETURNING destination, next_ref
"""

_NO_OVERDRAFT = "accounts_no_overdraft"


class BalanceShort(Exception):
    """An account of the sends could not cover its total: nothing was stored."""


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


async def store_sends(db: Executor, sends: Sequence[PlannedSend]) -> None:
    """Store planned sends of any accounts, reserve their money, notify: all or nothing.

    On a pool (or a connection outside a transaction) this is one statement
    and its own transaction, unless a message has several parts (then the
    references are allocated first, in one transaction with it). Inside a
    transaction, a failure aborts that transaction: wrap the call in a
    savepoint (``transaction()``) to carry on after it. Raises ``BalanceShort``
    when an account cannot cover its share.
    """
    if not sends:
        return
    items = [p for s in sends for p in s.items]
    try:
        if any(p.seg is not None and p.seg.segments > 1 for p in items):
            async with db.transaction() as tx:
                await _store(tx, sends, items, await _allocate_refs(tx, items))
        else:
            await _store(db, sends, items, {})
    except asyncpg.CheckViolationError as exc:
        if getattr(exc, "constraint_name", None) == _NO_OVERDRAFT:
            raise BalanceShort(sorted({s.account_id for s in sends})) from None
        raise


async def _store(db: Executor, sends: Sequence[PlannedSend], items: list[Planned], refs: dict[str, int]) -> None:
    await db.fetchrow(STORE, *store_arguments(sends, items, refs, NOTIFY_CHANNEL))


# --- the calls -----------------------------------------------------------------------


def prepare(
    config: Config,
    table: RouteTable,
    account_id: int,
    request: SendRequest,
    *,
    default_sender_id: str | None,
    api_key_id: int | None = None,
    max_recipients: int = MAX_RECIPIENTS,
) -> PlannedSend:
    """Everything before the database for one send (``plan``); raises its ``EnqueueError``."""
    kind, items = plan(request, config, table, default_sender_id, max_recipients=max_recipients)
    return PlannedSend(account_id, api_key_id, request, kind, items)


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
    (result,) = await enqueue_many(
        db, config, account, [request], routes=routes, api_key_id=api_key_id
    )
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
    default = found.default_sender_id
    sends = [
        prepare(
            config,
            table,
            found.id,
            r,
            default_sender_id=default,
            api_key_id=api_key_id,
            max_recipients=max_recipients,
        )
        for r in requests
    ]
    if not sends:
        return []
    total = sum((s.total for s in sends), Decimal(0))
    if total > found.balance:
        raise short_of(total)  # as read just now; the reservation in the statement is what counts
    try:
        async with db.transaction() as tx:
            await store_sends(tx, sends)
    except BalanceShort:
        raise short_of(
            total
        ) from None  # the transaction rolled back: nothing of this call is stored
    return [s.result() for s in sends]


def short_of(total: Decimal) -> EnqueueError:
    return EnqueueError(
        "insufficient_balance", f"This send costs {total} MYR; the balance cannot cover it."
    )


_STATUS = {
    "queued": PublicStatus.PENDING,
    "failed": PublicStatus.FAILED,
    "invalid": PublicStatus.INVALID,
}


class PlannedSend:
    """One request's plan, for one account (and API key), and the response it becomes."""

    __slots__ = (
        "account_id",
        "api_key_id",
        "counts",
        "items",
        "kind",
        "public_id",
        "request",
        "total",
    )

    def __init__(
        self,
        account_id: int,
        api_key_id: int | None,
        request: SendRequest,
        kind: MessageType,
        items: list[Planned],
    ) -> None:
        self.account_id = account_id
        self.api_key_id = api_key_id
        self.request = request
        self.kind = kind
        self.items = items
        self.public_id = new_public_id("camp")
        self.total = sum((p.cost for p in items), Decimal(0))
        self.counts = dict.fromkeys(("queued", "failed", "invalid"), 0)  # a Counter is slower
        for p in items:
            self.counts[p.state] += 1

    def result(self) -> SendResult:
        return SendResult(
            ok=True,
            campaign_id=self.public_id,
            reference=self.request.reference,
            totals=Totals(
                accepted=self.counts["queued"],
                failed=self.counts["failed"],
                invalid=self.counts["invalid"],
            ),
            estimated_cost=self.total,
            currency="MYR",
            recipients=tuple(
                Recipient(
                    id=p.public_id,
                    to=p.to,
                    status=_STATUS[p.state],
                    carrier_ref=None,
                    cost=p.cost,
                    country=p.country,
                    error=p.error,
                    reason=describe(p.error, p.detail),
                )
                for p in self.items
            ),
        )
