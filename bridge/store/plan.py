"""Enqueue's pure half: validate a seed 000 send, route, segment, price, pick senders.

No I/O here: ``plan`` turns a ``SendRequest`` into one ``Planned`` row per
recipient (queued / failed / invalid, with route, segmentation, cost and
sender), or raises ``EnqueueError`` with the seed's code. ``enqueue`` then
stores the rows in one transaction.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

import msgspec
import phonenumbers

import segmenter
from bridge.store import e164
from bridge.store.models import new_public_ids
from bridge.store.routing import RouteTable
from bridge.store.senders import InvalidSender, Sender, classify_sender
from config.schema import Classify, Config, Route

__all__ = [
    "MAX_RECIPIENTS",
    "EnqueueError",
    "MessageType",
    "Number",
    "Planned",
    "SendRequest",
    "classify_type",
    "parse_number",
    "plan",
    "plan_outcomes",
]

MAX_RECIPIENTS = 100  # seed 000 "Rate limits": 100 recipients per /sms/send call

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
        "invalid_message": 400,
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


# About 10 us a number on the development machine (parse, validate, region): over
# half of planning a 100-recipient call. Customers send to the same numbers
# again (OTPs, lists), and a Number is immutable, so each distinct input is
# parsed once per process while it stays among the most recent 32,768.
@functools.lru_cache(maxsize=32768)
def parse_number(raw: str) -> Number | None:
    """A valid number in E.164 form with its country, or None (seed: invalid)."""
    text = raw.strip()
    candidate = text if text.startswith("+") else "+" + text
    try:
        parsed = e164.parse(candidate)  # phonenumbers.parse(candidate, None), faster for "+digits"
    except phonenumbers.NumberParseException:
        return None
    # is_valid_number is is_valid_number_for_region(n, region_code_for_number(n)):
    # the region is looked up once for both (no region: not valid, as there).
    region = phonenumbers.region_code_for_number(parsed)
    if region is None or not phonenumbers.is_valid_number_for_region(parsed, region):
        return None
    return Number(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), region)


@functools.lru_cache(maxsize=8)
def _otp_code(low: int, high: int) -> re.Pattern[str]:
    """A run of ``low`` to ``high`` digits, not part of a longer run."""
    return re.compile(rf"(?<!\d)\d{{{low},{high}}}(?!\d)")


def classify_type(body: str, rules: Classify) -> MessageType:
    """Seed 000: digit codes + short bodies -> otp; promo vocabulary -> marketing; else transactional."""
    if len(body) <= rules.otp_max_length and _otp_code(*rules.otp_code_digits).search(body):
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
class Planned:
    public_id: str
    to: str
    country: str | None
    state: str  # queued | failed | invalid
    error: str | None = None  # a code: bridge/store/reasons.py
    detail: str | None = None  # for this send's answer only (not stored)
    route: Route | None = None
    seg: segmenter.Segmentation | None = None
    cost: Decimal = Decimal(0)
    sender: Sender | None = None


def _recipients(request: SendRequest, max_recipients: int = MAX_RECIPIENTS) -> list[str]:
    if request.message is None or not request.message.strip():
        raise EnqueueError("missing_message", "The message body is empty.")
    try:
        segmenter.check_body(request.message)  # the one rule (segmenter/body.py)
    except segmenter.ForbiddenCharacter as exc:
        raise EnqueueError("invalid_message", f"The message has {exc}.") from None
    to = request.to
    numbers = [to] if isinstance(to, str) else list(to or [])
    numbers = [n for n in numbers if n and n.strip()]
    if not numbers:
        raise EnqueueError("missing_to", "No recipient phone number(s) provided.")
    if len(numbers) > max_recipients:
        raise EnqueueError(
            "too_many_recipients", f"{len(numbers)} recipients; at most {max_recipients} per call."
        )
    return numbers


def _sender_for(
    request: SendRequest, account_default: str | None, table: RouteTable, route: Route, config: Config
) -> str | None:
    # The request's, else the account's default, then the carrier's
    # (first carrier of the route with one), then the global default.
    if request.sender_id and request.sender_id.strip():
        return request.sender_id
    if account_default:
        return account_default
    for carrier in table.carriers(route):
        if carrier.source.default_sender_id:
            return carrier.source.default_sender_id
    return config.senders.default


# state, error, detail, route, seg, cost, sender: a Planned row's fields after its number.
_Outcome = tuple[
    str, str | None, str | None, Route | None, segmenter.Segmentation | None, Decimal, Sender | None
]
_FREE = Decimal(0)


def _outcome(
    request: SendRequest, config: Config, table: RouteTable, body: str, route: Route | None,
    country: str | None, account_default_sender: str | None,
    segmentations: dict[object, segmenter.Segmentation | None], senders: dict[str, Sender],
) -> _Outcome:  # fmt: skip
    """A valid number's fate on ``route`` in ``country``: queued and priced, or failed and why."""
    rate = config.rates.rate_for(country)
    if route is None or rate is None:
        detail = f"country {country}" if country else None
        return "failed", "no_route" if route is None else "no_rate", detail, None, None, _FREE, None
    profile = table.profile(route)
    if profile not in segmentations:
        try:
            segmentations[profile] = segmenter.segment_for(body, profile)
        except segmenter.MessageTooLong:
            segmentations[profile] = None
    seg = segmentations[profile]
    if seg is None or seg.segments > profile.max_parts:
        needs = f"{seg.segments} {seg.encoding} parts" if seg else f"over {segmenter.core.MAX_PARTS} parts"
        detail = f"needs {needs}; route {route.label} allows {profile.max_parts}"
        return "failed", "too_long", detail, None, None, _FREE, None
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
        detail = f"sender id {sender_id!r}, route {route.label}"
        return "failed", f"sender_{sender.kind}_not_allowed", detail, None, None, _FREE, None
    return "queued", None, None, route, seg, segmenter.price(seg, rate), sender


def plan(
    request: SendRequest, config: Config, table: RouteTable, account_default_sender: str | None,
    *, max_recipients: int = MAX_RECIPIENTS,
) -> tuple[MessageType, list[Planned]]:
    """Everything but the database: validation, routing, segmentation, prices, senders.

    ``max_recipients``: the seed's 100 per call, or an API key's own limit.
    """
    numbers = _recipients(request, max_recipients)
    body = request.message or ""
    planned: list[Planned] = []
    # What follows the route lookup depends on the route and the country only
    # (profile, segments, rate, sender, the carriers' sender rules, price): it
    # is worked out once per pair, at the first number that has it, so errors
    # are raised at the same number as when each number was worked out alone.
    outcomes: dict[tuple[int, str | None], _Outcome] = {}
    segmentations: dict[object, segmenter.Segmentation | None] = {}
    senders: dict[str, Sender] = {}
    for raw, public_id in zip(numbers, new_public_ids("msg", len(numbers)), strict=True):
        number = parse_number(raw)
        if number is None:
            planned.append(Planned(public_id, raw.strip(), None, "invalid", "invalid_number"))
            continue
        route = table.lookup(number.e164[1:], number.country)
        key = (id(route), number.country)
        outcome = outcomes.get(key)
        if outcome is None:
            outcome = outcomes[key] = _outcome(
                request, config, table, body, route, number.country, account_default_sender, segmentations, senders
            )
        planned.append(Planned(public_id, number.e164, number.country, *outcome))
    if all(p.state == "invalid" for p in planned):
        raise EnqueueError("no_valid_recipients", "All numbers failed E.164 validation.")
    kind = request.type or classify_type(body, config.classify)
    return kind, planned


def plan_outcomes(items: list[Planned]) -> tuple[list[int], list[Planned]]:
    """Each message's outcome (a position from 1) and one message of each outcome.

    The columns a message takes from its plan (country, state, route, encoding,
    segments, cost, sender, error) and its parts' texts are the same for every number of a send with
    the same route and country (``plan``), and mostly across the sends of a
    batch: the enqueue statement takes them once per outcome, not once per
    message. asyncpg checks every element of an array parameter against
    abstract base classes in Python (a call each), so ten such columns of 100
    messages cost the API process more than planning them.
    """
    positions: dict[tuple[object, ...], int] = {}
    outcomes: list[Planned] = []
    outcome_of = []
    for p in items:
        seg, sender = p.seg, p.sender  # routes are the configuration's objects
        key = (
            p.state, p.error, p.country, p.cost, id(p.route),
            (seg.segments, seg.encoding, seg.parts) if seg else None,  # the parts are the outcome's
            (sender.address, sender.ton, sender.npi) if sender else None,
        )  # fmt: skip
        position = positions.get(key)
        if position is None:
            outcomes.append(p)
            position = positions[key] = len(outcomes)
        outcome_of.append(position)
    return outcome_of, outcomes
