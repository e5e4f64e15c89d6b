"""Enqueue, get_message and balance: seed 000 semantics on a real PostgreSQL."""

from __future__ import annotations

import random
from decimal import Decimal

import msgspec
import pytest
import trio

import segmenter
from bridge.store.accounts import Outcome, balance, create_account, reconcile, settle
from bridge.store.db import Database, open_connection
from bridge.store.enqueue import NOTIFY_CHANNEL, EnqueueError, SendRequest, enqueue, enqueue_many
from bridge.store.models import to_json
from bridge.store.queries import get_message
from config.load import parse_config

CONFIG = parse_config(
    """
[[carriers]]
name = "a"
host = "127.0.0.1"
system_id = "a"
[carriers.source]
default_sender_id = "CarrierA"
[carriers.segmentation]
concat = "udh8"
max_parts = 4

[[carriers]]
name = "b"
host = "127.0.0.1"
system_id = "b"
[carriers.segmentation]
concat = "udh8"
max_parts = 4

[[carriers]]
name = "c"
host = "127.0.0.1"
system_id = "c"
[carriers.source]
default_sender_id = "+6598765432"
allow_alphanumeric = false
[carriers.segmentation]
concat = "sar"

[[routes]]
prefix = "601"
carriers = [{ carrier = "a" }]
failover = ["b"]

[[routes]]
country = "SG"
carriers = [{ carrier = "c" }]

[[routes]]
country = "ID"
carriers = [{ carrier = "a" }]

[rates.countries]
MY = "0.0500"
SG = "0.1200"
""",
    source="test.toml",
)

MY, MY2, SG, GB, ID = "+60123456789", "+60198765432", "+6591234567", "+447400123456", "+6281234567890"
OTP = "Your verification code is 482915"


def req(to: str | list[str] | None, message: str | None = OTP, **kw: object) -> SendRequest:
    return SendRequest(to=to, message=message, **kw)  # type: ignore[arg-type]


async def _count(db: Database, table: str) -> int:
    value: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def test_single_otp_has_the_seed_shape(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    result = await enqueue(db, CONFIG, "acme", req(MY, reference="order-9821"))
    body = msgspec.json.decode(to_json(result))
    assert set(body) == {"ok", "campaignId", "reference", "totals", "estimatedCost", "currency", "recipients"}
    assert body["ok"] is True and body["currency"] == "MYR" and body["reference"] == "order-9821"
    assert body["campaignId"].startswith("camp_")
    assert body["totals"] == {"accepted": 1, "failed": 0, "invalid": 0}
    assert body["estimatedCost"] == 0.05
    (recipient,) = body["recipients"]
    assert set(recipient) == {"id", "to", "status", "carrierRef", "cost", "country"}
    assert recipient["id"].startswith("msg_")
    assert (recipient["to"], recipient["status"], recipient["carrierRef"], recipient["cost"], recipient["country"]) == (
        MY, "pending", None, 0.05, "MY",
    )  # fmt: skip
    assert await db.fetchval("SELECT type::text FROM campaigns") == "otp"
    assert (await balance(db, "acme")).balance == Decimal("9.9500")

    view = await get_message(db, recipient["id"])
    assert view is not None
    shape = msgspec.json.decode(to_json(view))
    assert set(shape) == {"id", "campaignId", "to", "message", "status", "carrierRef", "cost",
                          "country", "charged", "createdAt"}  # fmt: skip
    assert shape["message"] == OTP and shape["status"] == "pending" and shape["charged"] is False
    assert shape["campaignId"] == body["campaignId"]
    assert shape["createdAt"].endswith("Z") and len(shape["createdAt"]) == 24
    # Sender: the carrier's default, alphanumeric -> TON 5 / NPI 0.
    row = await db.fetchrow("SELECT sender_id, sender_ton, sender_npi, segments FROM messages")
    assert row is not None
    assert tuple(row) == ("CarrierA", 5, 0, 1)


async def test_mixed_recipients_invalid_and_unroutable_are_free(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    result = await enqueue(db, CONFIG, "acme", req([MY, "12345", GB, SG, "+60 12-345 6789", ID]))
    statuses = [(r.to, r.status, r.cost, r.country) for r in result.recipients]
    assert statuses == [
        (MY, "pending", Decimal("0.0500"), "MY"),
        ("12345", "invalid", Decimal(0), None),
        (GB, "failed", Decimal(0), "GB"),  # no route
        (SG, "pending", Decimal("0.1200"), "SG"),
        (MY, "pending", Decimal("0.0500"), "MY"),  # spaces and dashes are fine
        (ID, "failed", Decimal(0), "ID"),  # a route but no rate
    ]
    assert result.totals.accepted == 3 and result.totals.failed == 2 and result.totals.invalid == 1
    assert result.estimated_cost == Decimal("0.2200")
    errors = dict(await db.fetch("SELECT destination, error FROM messages WHERE error IS NOT NULL"))
    assert errors == {"12345": "invalid_number", GB: "no_route", ID: "no_rate"}
    # Nothing reserved, no parts for invalid / failed; reservations equal the costs.
    assert await db.fetchval(
        "SELECT count(*) FROM ledger l JOIN messages m ON m.id = l.message_id WHERE m.state <> 'queued'"
    ) == 0
    assert await db.fetchval("SELECT sum(amount) FROM ledger WHERE kind = 'reservation'") == Decimal("0.2200")
    assert await _count(db, "message_parts") == 3
    invalid = await get_message(db, result.recipients[1].id)
    assert invalid is not None and invalid.status == "invalid" and invalid.cost == 0
    assert (await reconcile(db, "acme")).ok


async def test_long_messages_are_billed_per_part_of_the_route_profile(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    text = "a" * 152 + "€" + "a" * 152  # 3 segments with 8-bit references, not 2
    result = await enqueue(db, CONFIG, "acme", req([MY, SG], text, sender_id="60111111111"))
    my, sg = result.recipients
    expected_my = segmenter.segment_for(text, CONFIG.carrier("a").segmentation)
    expected_sg = segmenter.segment_for(text, CONFIG.carrier("c").segmentation)
    assert my.cost == segmenter.price(expected_my, Decimal("0.05")) == Decimal("0.05") * expected_my.segments
    assert sg.cost == segmenter.price(expected_sg, Decimal("0.12"))
    assert expected_my.segments == 3
    rows = await db.fetch(
        "SELECT m.destination, p.seq, p.total, p.body FROM message_parts p"
        " JOIN messages m ON m.id = p.message_id ORDER BY m.destination, p.seq"
    )
    bodies: dict[str, list[str]] = {}
    for row in rows:
        bodies.setdefault(row["destination"], []).append(row["body"])
        assert row["total"] == len(expected_my.parts if row["destination"] == MY else expected_sg.parts)
    assert bodies[MY] == list(expected_my.parts) and "".join(bodies[SG]) == text
    # Numeric sender: international, stored without '+', TON 1 / NPI 1.
    assert set(await db.fetch("SELECT sender_id, sender_ton, sender_npi FROM messages")) == {
        ("60111111111", 1, 1)
    }  # fmt: skip


async def test_concat_references_differ_per_message_to_one_destination(db: Database) -> None:
    await create_account(db, "acme", credits="100")
    long_text = "b" * 200
    await enqueue(db, CONFIG, "acme", req([MY, MY, MY2], long_text))
    await enqueue(db, CONFIG, "acme", req([MY], long_text))
    await enqueue(db, CONFIG, "acme", req([MY], "short"))
    rows = await db.fetch("SELECT destination, concat_ref FROM messages ORDER BY id")
    my_refs = [r["concat_ref"] for r in rows if r["destination"] == MY]
    assert my_refs[:3] == [0, 1, 2] and my_refs[3] is None  # single-part: no reference
    assert [r["concat_ref"] for r in rows if r["destination"] == MY2] == [0]


async def test_too_long_for_the_route_fails_that_recipient_only(db: Database) -> None:
    await create_account(db, "acme", credits="100")
    text = "c" * (153 * 5)  # 5 parts: above carrier a's max_parts = 4, fine for c (255)
    result = await enqueue(db, CONFIG, "acme", req([MY, SG], text))
    assert [r.status for r in result.recipients] == ["failed", "pending"]
    assert await db.fetchval("SELECT error FROM messages WHERE destination = $1", MY) == "too_long"


async def test_insufficient_balance_changes_nothing(db: Database) -> None:
    await create_account(db, "poor", credits="0.0999")
    await enqueue(db, CONFIG, "poor", req(MY))  # 0.05 fits
    before = {t: await _count(db, t) for t in ("campaigns", "messages", "message_parts", "ledger")}
    async with db.listen(NOTIFY_CHANNEL) as channel:
        with pytest.raises(EnqueueError) as info:
            await enqueue(db, CONFIG, "poor", req([MY, MY2]))  # 0.10 > 0.0499
        assert info.value.code == "insufficient_balance" and info.value.http_status == 402
        with trio.move_on_after(0.3):
            await channel.receive()
            pytest.fail("a failed enqueue must not notify")
    assert {t: await _count(db, t) for t in before} == before
    assert (await balance(db, "poor")).balance == Decimal("0.0499")
    assert await db.fetchval("SELECT count(*) FROM concat_refs") == 0


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (req(MY, None), "missing_message"),
        (req(MY, ""), "missing_message"),
        (req(MY, "   "), "missing_message"),
        (req(None), "missing_to"),
        (req([]), "missing_to"),
        (req(["", " "]), "missing_to"),
        (req([MY] * 101), "too_many_recipients"),
        (req(["123", "+999", "abc"]), "no_valid_recipients"),
        (req(MY, sender_id="this-is-far-too-long"), "invalid_sender_id"),
        (req(MY, sender_id="Promo€"), "invalid_sender_id"),
    ],
)
async def test_bad_requests_raise_seed_codes_and_store_nothing(
    db: Database, request_: SendRequest, code: str
) -> None:
    await create_account(db, "acme", credits="10")
    with pytest.raises(EnqueueError) as info:
        await enqueue(db, CONFIG, "acme", request_)
    assert info.value.code == code
    assert await _count(db, "messages") == 0 and await _count(db, "campaigns") == 0


async def test_hundred_recipients_is_the_limit(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    result = await enqueue(db, CONFIG, "acme", req([MY] * 100))
    assert result.totals.accepted == 100 and result.estimated_cost == Decimal("5.0000")
    assert (await balance(db, "acme")).balance == Decimal("5.0000")


async def test_sender_resolution_and_carrier_rules(db: Database) -> None:
    no_defaults = msgspec.structs.replace(
        CONFIG,
        carriers=[msgspec.structs.replace(c, source=msgspec.structs.replace(c.source, default_sender_id=None))
                  for c in CONFIG.carriers],
    )  # fmt: skip
    await create_account(db, "plain", credits="10")
    with pytest.raises(EnqueueError) as info:
        await enqueue(db, no_defaults, "plain", req(MY))
    assert info.value.code == "missing_sender_id"
    await create_account(db, "branded", credits="10", default_sender_id="Brand")
    result = await enqueue(db, no_defaults, "branded", req([MY, SG]))
    # carrier c refuses alphanumeric senders: that recipient fails, unbilled.
    assert [r.status for r in result.recipients] == ["pending", "failed"]
    assert await db.fetchval("SELECT error FROM messages WHERE destination = $1", SG) == (
        "sender_alphanumeric_not_allowed"
    )
    result = await enqueue(db, no_defaults, "branded", req([SG], sender_id="72888"))
    assert result.recipients[0].status == "pending"
    row = await db.fetchrow(
        "SELECT sender_id, sender_ton, sender_npi FROM messages WHERE campaign_id = "
        "(SELECT id FROM campaigns WHERE public_id = $1)", result.campaign_id,
    )  # fmt: skip
    assert row is not None and tuple(row) == ("72888", 3, 0)


async def test_unknown_account_and_message(db: Database) -> None:
    with pytest.raises(EnqueueError) as info:
        await enqueue(db, CONFIG, "ghost", req(MY))
    assert info.value.code == "not_found"
    assert await get_message(db, "msg_nope") is None
    one = await create_account(db, "one", credits="1")
    two = await create_account(db, "two", credits="1")
    sent = await enqueue(db, CONFIG, "one", req(MY))
    assert await get_message(db, sent.recipients[0].id, account_id=one.id) is not None
    assert await get_message(db, sent.recipients[0].id, account_id=two.id) is None


async def test_notify_after_commit(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    async with db.listen(NOTIFY_CHANNEL) as channel:
        result = await enqueue(db, CONFIG, "acme", req(MY))
        with trio.fail_after(5):
            assert await channel.receive() == result.campaign_id


async def test_billing_reconciles_exactly_after_many_mixed_sends(db: Database) -> None:
    rng = random.Random(6)
    await create_account(db, "bulk", credits="1000")
    pool = [MY, MY2, SG, GB, ID, "12345", "+60123", "+6591234568"]
    texts = [OTP, "Your parcel ships today", "d" * 200, "Ünïcødé ✓ " * 10, "SALE: 50% off"]
    message_ids: list[int] = []
    for _ in range(40):
        to = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        try:
            await enqueue(db, CONFIG, "bulk", req(to, rng.choice(texts)))
        except EnqueueError as exc:
            assert exc.code == "no_valid_recipients"
    message_ids = [r["id"] for r in await db.fetch("SELECT id FROM messages WHERE state = 'queued'")]
    assert message_ids
    # Settle a random part: charges, refunds, duplicates, and ids without a reservation.
    outcomes = [(m, rng.choice([Outcome.CHARGE, Outcome.REFUND])) for m in message_ids if rng.random() < 0.7]
    unpriced = [r["id"] for r in await db.fetch("SELECT id FROM messages WHERE state <> 'queued'")]
    async with db.transaction() as tx:
        settled = await settle(tx, outcomes + [(m, Outcome.CHARGE) for m in unpriced])
    assert settled == len(outcomes)
    async with db.transaction() as tx:  # a duplicate receipt later: nothing moves
        flipped = [(m, Outcome.REFUND if o is Outcome.CHARGE else Outcome.CHARGE) for m, o in outcomes]
        assert await settle(tx, outcomes + flipped) == 0
    check = await reconcile(db, "bulk")
    assert check.ok, check
    assert check.reservations == check.charges + check.refunds + check.open
    costs = dict(await db.fetch("SELECT id, cost FROM messages"))
    charged = {m for m, o in outcomes if o is Outcome.CHARGE}
    assert check.charges == sum((costs[m] for m in charged), Decimal(0))
    assert check.open == sum((costs[m] for m in message_ids if m not in dict(outcomes)), Decimal(0))
    assert (await balance(db, "bulk")).balance == Decimal(1000) - check.charges - check.open
    # get_message shows the charge.
    some = next(iter(charged))
    public = await db.fetchval("SELECT public_id FROM messages WHERE id = $1", some)
    view = await get_message(db, public)
    assert view is not None and view.charged


async def test_concurrent_enqueues_never_overdraw(db: Database) -> None:
    await create_account(db, "race", credits="1.00")  # room for exactly 20 OTPs to MY
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await enqueue(db, CONFIG, "race", req(MY))
            outcomes.append("ok")
        except EnqueueError as exc:
            outcomes.append(exc.code)

    async with trio.open_nursery() as nursery:
        for _ in range(30):
            nursery.start_soon(one)
    assert outcomes.count("ok") == 20 and outcomes.count("insufficient_balance") == 10
    assert (await balance(db, "race")).balance == 0
    assert (await reconcile(db, "race")).ok


async def test_explicit_type_wins_and_marketing_is_detected(db: Database) -> None:
    await create_account(db, "acme", credits="10")
    await enqueue(db, CONFIG, "acme", req(MY, "Big SALE this weekend only"))
    await enqueue(db, CONFIG, "acme", req(MY, OTP, type="transactional"))
    types = [r["type"] for r in await db.fetch("SELECT type::text FROM campaigns ORDER BY id")]
    assert types == ["marketing", "transactional"]


async def test_enqueue_many_is_one_atomic_batch(db: Database) -> None:
    await create_account(db, "bulk", credits="0.30")
    results = await enqueue_many(
        db, CONFIG, "bulk", [req(MY, reference="r1"), req([MY2, SG]), req(["12345", MY])]
    )
    assert [r.reference for r in results] == ["r1", None, None]
    assert [r.estimated_cost for r in results] == [Decimal("0.05"), Decimal("0.17"), Decimal("0.05")]
    assert len({r.campaign_id for r in results}) == 3
    for result in results:
        for recipient in result.recipients:
            view = await get_message(db, recipient.id)
            assert view is not None and view.campaign_id == result.campaign_id
    assert (await balance(db, "bulk")).balance == Decimal("0.0300")
    before = await _count(db, "messages")
    for batch in ([req(MY)] * 2, [req(MY, reference="ok"), req(MY, None)]):
        with pytest.raises(EnqueueError):
            await enqueue_many(db, CONFIG, "bulk", batch)
    assert await _count(db, "messages") == before
    assert (await reconcile(db, "bulk")).ok



async def _until_one_waits_on_a_lock(db: Database) -> None:
    with trio.fail_after(10):
        while True:
            waiting = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await trio.sleep(0.01)  # a backend's wait is not an event we can await


async def test_enqueue_locks_the_account_row_only_at_its_end(db: Database, pg_dsn: str) -> None:
    """The daemon's writer refunds on the account row (charges since migration 0028 go
    to account_charges): an enqueue must not hold that row while it inserts (it did,
    and a busy account's flushes then waited past the writer's db_timeout)."""
    await create_account(db, "busy", credits="10")
    account = await db.fetchval("SELECT id FROM accounts WHERE name = 'busy'")
    sent: list[object] = []
    async with open_connection(pg_dsn) as blocker, open_connection(pg_dsn) as settler:
        await blocker.execute("BEGIN")
        # An INSERT INTO campaigns waits for this: the enqueue stops inside its transaction.
        await blocker.execute("LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE")
        async with trio.open_nursery() as nursery:

            async def send() -> None:
                sent.append(await enqueue(db, CONFIG, "busy", req([MY, MY2])))

            nursery.start_soon(send)
            await _until_one_waits_on_a_lock(db)
            await settler.execute("BEGIN")
            await settler.execute("SET LOCAL lock_timeout = '200ms'")
            # What settle_messages takes for a refund: LockNotAvailableError if the enqueue held it.
            await settler.fetch("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account)
            await settler.execute("COMMIT")
            await blocker.execute("COMMIT")
    assert len(sent) == 1
    assert (await balance(db, "busy")).balance == Decimal("9.9000")
    assert (await reconcile(db, "busy")).ok


async def test_a_balance_taken_meanwhile_refuses_the_send_and_stores_nothing(db: Database, pg_dsn: str) -> None:
    """The balance read before the transaction is a hint; the guarded UPDATE at its end decides."""
    await create_account(db, "thin", credits="0.10")
    before = {t: await _count(db, t) for t in ("campaigns", "messages", "message_parts", "ledger")}
    codes: list[str] = []
    async with open_connection(pg_dsn) as blocker:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE")
        async with trio.open_nursery() as nursery:

            async def send() -> None:
                with pytest.raises(EnqueueError) as info:
                    await enqueue(db, CONFIG, "thin", req([MY, MY2]))  # 0.10: fits as read
                codes.append(info.value.code)

            nursery.start_soon(send)
            await _until_one_waits_on_a_lock(db)
            # another send's reservation commits first
            await db.execute("UPDATE accounts SET committed = committed + 0.05 WHERE name = 'thin'")
            await blocker.execute("COMMIT")
    assert codes == ["insufficient_balance"]
    assert {t: await _count(db, t) for t in before} == before
    assert await db.fetchval("SELECT count(*) FROM concat_refs") == 0
