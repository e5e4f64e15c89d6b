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

Then one transaction: reserve the total (a guarded UPDATE: insufficient
balance raises and changes nothing), insert the campaign, messages, parts and
ledger reservations with one statement each (unnest arrays), allocate
concatenation references, and ``pg_notify('smpp_bridge_queued', ...)``, which
PostgreSQL delivers only when the transaction commits (NOTIFY semantics), so a
claimer never wakes up for rows it cannot see yet.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

import msgspec
import phonenumbers

import segmenter
from bridge.store.accounts import AccountNotFound, get_account
from bridge.store.db import Connection, Database
from bridge.store.models import (
    PublicStatus,
    Recipient,
    SendResult,
    Totals,
    new_public_id,
)
from bridge.store.routing import RouteTable
from bridge.store.senders import InvalidSender, Sender, classify_sender
from config.schema import Classify, Config, Route

__all__ = [
    "NOTIFY_CHANNEL",
    "EnqueueError",
    "SendRequest",
    "classify_type",
    "enqueue",
    "parse_number",
]

MAX_RECIPIENTS = 100  # seed 000 "Rate limits": 100 recipients per /sms/send call
NOTIFY_CHANNEL = "smpp_bridge_queued"

MessageType = Literal["otp", "marketing", "transactional"]


class SendRequest(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The POST /sms/send body (decode with ``msgspec.json.decode(body, type=SendRequest)``)."""

    to: str | list[str] | None = None
    message: str | None = None
    sender_id: str | None = None
    reference: str | None = None
    type: MessageType | None = None


class EnqueueError(Exception):
    """A request the seed answers with an error body: ``{"error": code, "message": ...}``."""

    HTTP_STATUS: ClassVar[dict[str, int]] = {
        "missing_message": 400,
        "missing_to": 400,
        "no_valid_recipients": 400,
        "invalid_sender_id": 400,
        "missing_sender_id": 400,
        "not_found": 404,
        "insufficient_balance": 402,
        "too_many_recipients": 413,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return self.HTTP_STATUS[self.code]


# --- pure steps ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    e164: str  # "+60123456789"
    country: str | None


def parse_number(raw: str) -> Number | None:
    """A valid number in E.164 form with its country, or None (seed: invalid)."""
    text = raw.strip()
    candidate = text if text.startswith("+") else "+" + text
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return Number(
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(parsed),
    )


def classify_type(body: str, rules: Classify) -> MessageType:
    """Seed 000: digit codes + short bodies -> otp; promo vocabulary -> marketing; else transactional."""
    low, high = rules.otp_code_digits
    if len(body) <= rules.otp_max_length and re.search(rf"(?<!\d)\d{{{low},{high}}}(?!\d)", body):
        return "otp"
    folded = body.casefold()
    for word in rules.promotional_words:
        w = word.casefold()
        # Whole words for plain words ("sale" not in "wholesale"); phrases
        # with symbols ("% off") as substrings.
        if (re.search(rf"\b{re.escape(w)}\b", folded) if w.isalnum() else w in folded):
            return "marketing"
    return "transactional"


@dataclass(slots=True)
class _Planned:
    public_id: str
    to: str
    country: str | None
    state: str  # queued | failed | invalid
    error: str | None = None
    route: Route | None = None
    seg: segmenter.Segmentation | None = None
    cost: Decimal = Decimal(0)
    sender: Sender | None = None


def _recipients(request: SendRequest) -> list[str]:
    if request.message is None or not request.message.strip():
        raise EnqueueError("missing_message", "The message body is empty.")
    to = request.to
    numbers = [to] if isinstance(to, str) else list(to or [])
    numbers = [n for n in numbers if n and n.strip()]
    if not numbers:
        raise EnqueueError("missing_to", "No recipient phone number(s) provided.")
    if len(numbers) > MAX_RECIPIENTS:
        raise EnqueueError(
            "too_many_recipients", f"{len(numbers)} recipients; at most {MAX_RECIPIENTS} per call."
        )
    return numbers


def _sender_for(
    request: SendRequest, account_default: str | None, table: RouteTable, route: Route, config: Config
) -> str | None:
    # Issue 6: the request's, else the account's default, then the carrier's
    # (first carrier of the route with one), then the global default.
    if request.sender_id and request.sender_id.strip():
        return request.sender_id
    if account_default:
        return account_default
    for carrier in table.carriers(route):
        if carrier.source.default_sender_id:
            return carrier.source.default_sender_id
    return config.senders.default


def plan(
    request: SendRequest, config: Config, table: RouteTable, account_default_sender: str | None
) -> tuple[MessageType, list[_Planned]]:
    """Everything but the database: validation, routing, segmentation, prices, senders."""
    numbers = _recipients(request)
    body = request.message or ""
    planned: list[_Planned] = []
    segmentations: dict[object, segmenter.Segmentation | None] = {}
    senders: dict[str, Sender] = {}
    for raw in numbers:
        number = parse_number(raw)
        if number is None:
            planned.append(_Planned(new_public_id("msg"), raw.strip(), None, "invalid", "invalid_number"))
            continue
        item = _Planned(new_public_id("msg"), number.e164, number.country, "queued")
        planned.append(item)
        route = table.lookup(number.e164[1:], number.country)
        rate = config.rates.rate_for(number.country)
        if route is None or rate is None:
            item.state, item.error = "failed", "no_route" if route is None else "no_rate"
            continue
        profile = table.profile(route)
        if profile not in segmentations:
            try:
                segmentations[profile] = segmenter.segment_for(body, profile)
            except segmenter.MessageTooLong:
                segmentations[profile] = None
        seg = segmentations[profile]
        if seg is None or seg.segments > profile.max_parts:
            item.state, item.error = "failed", "too_long"
            continue
        sender_id = _sender_for(request, account_default_sender, table, route, config)
        if sender_id is None:
            raise EnqueueError(
                "missing_sender_id",
                "No sender id: none in the request, the account, the carrier or the configuration.",
            )
        if sender_id not in senders:
            try:
                senders[sender_id] = classify_sender(sender_id)
            except InvalidSender as exc:
                raise EnqueueError("invalid_sender_id", str(exc)) from None
        sender = senders[sender_id]
        if not all(sender.allowed_by(c.source) for c in table.carriers(route)):
            item.state, item.error = "failed", f"sender_{sender.kind}_not_allowed"
            continue
        item.route, item.seg, item.sender = route, seg, sender
        item.cost = segmenter.price(seg, rate)
    if all(p.state == "invalid" for p in planned):
        raise EnqueueError("no_valid_recipients", "All numbers failed E.164 validation.")
    kind = request.type or classify_type(body, config.classify)
    return kind, planned


# --- the transaction -------------------------------------------------------------------

_INSERT_MESSAGES = """
INSERT INTO messages (public_id, campaign_id, account_id, destination, country, state, route,
                      encoding, segments, cost, sender_id, sender_ton, sender_npi, concat_ref,
                      error, final_at)
SELECT p, $1, $2, d, c, s::message_state, r, e, n, co, si, st, sn, cr, er,
       CASE WHEN s = 'queued' THEN NULL ELSE now() END
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[],
            $10::numeric[], $11::text[], $12::int[], $13::int[], $14::int[], $15::text[])
     AS t(p, d, c, s, r, e, n, co, si, st, sn, cr, er)
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


async def _allocate_refs(tx: Connection, items: list[_Planned]) -> dict[str, int]:
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
    db: Database,
    config: Config,
    account: str | int,
    request: SendRequest,
    *,
    routes: RouteTable | None = None,
) -> SendResult:
    """Validate, price, reserve and queue one send; returns the seed's 201 body.

    Raises ``EnqueueError`` with the seed's code; on any error nothing is stored.
    """
    table = routes if routes is not None else RouteTable(config)
    try:
        found = await get_account(db, account)
    except AccountNotFound:
        raise EnqueueError("not_found", f"Unknown account {account!r}.") from None
    kind, items = plan(request, config, table, found.default_sender_id)
    total = sum((p.cost for p in items), Decimal(0))
    campaign_public = new_public_id("camp")
    counts = Counter(p.state for p in items)

    async with db.transaction() as tx:
        if total > 0:
            left = await tx.fetchval(
                "UPDATE accounts SET reserved = reserved + $2"
                " WHERE id = $1 AND credits - charged - reserved >= $2"
                " RETURNING credits - charged - reserved",
                found.id, total,
            )  # fmt: skip
            if left is None:
                raise EnqueueError(
                    "insufficient_balance", f"This send costs {total} MYR; the balance cannot cover it."
                )
        campaign_id = await tx.fetchval(
            "INSERT INTO campaigns (public_id, account_id, reference, type, body, sender_id,"
            " accepted, failed, invalid, estimated_cost)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            campaign_public, found.id, request.reference, kind, request.message,
            request.sender_id, counts["queued"], counts["failed"], counts["invalid"], total,
        )  # fmt: skip
        refs = await _allocate_refs(tx, items)
        rows = await tx.fetch(
            _INSERT_MESSAGES, campaign_id, found.id,
            [p.public_id for p in items], [p.to for p in items], [p.country for p in items],
            [p.state for p in items], [p.route.label if p.route else None for p in items],
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
            await tx.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, campaign_public)

    status = {"queued": PublicStatus.PENDING, "failed": PublicStatus.FAILED, "invalid": PublicStatus.INVALID}
    return SendResult(
        ok=True,
        campaign_id=campaign_public,
        reference=request.reference,
        totals=Totals(accepted=counts["queued"], failed=counts["failed"], invalid=counts["invalid"]),
        estimated_cost=total,
        currency="MYR",
        recipients=tuple(
            Recipient(
                id=p.public_id, to=p.to, status=status[p.state], carrier_ref=None,
                cost=p.cost, country=p.country,
            )
            for p in items
        ),
    )
