"""What store_sends writes is what was planned, column by column, for a mixed batch.

Each message's plan columns go to the statement once per distinct outcome
(bridge/store/enqueue.py ``_outcomes``): a message must never take another's.
"""

from __future__ import annotations

import random
from decimal import Decimal

from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import prepare, store_sends
from bridge.store.routing import RouteTable
from tests.store.test_enqueue import CONFIG, GB, ID, MY, MY2, SG, req

_COLUMNS = (
    "SELECT m.public_id, c.public_id AS campaign, m.account_id, m.destination, m.country, m.state::text,"
    " m.route, m.encoding, m.segments, m.cost, m.sender_id, m.sender_ton, m.sender_npi, m.error,"
    " (SELECT count(*) FROM message_parts p WHERE p.message_id = m.id) AS parts"
    " FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
)


async def test_a_mixed_batch_stores_each_message_as_planned(db: Database) -> None:
    rng = random.Random(7)
    table = RouteTable(CONFIG)
    accounts = [await create_account(db, name, credits="100") for name in ("acme", "beta", "gamma")]
    bodies = ["Your code is 482915", "Sale! " + "x" * 200, "Ünïcode body", "y" * 500]
    numbers = [MY, MY2, SG, GB, ID, "12345", "+60 12-345 6789"]
    senders = [None, "Acme", "+60123000000", "12345"]
    sends = []
    for i in range(40):
        account = accounts[i % 3]
        to = [rng.choice(numbers) for _ in range(rng.randint(1, 6))]
        if all(n in ("12345",) for n in to):
            to.append(MY)
        request = req(to, rng.choice(bodies), sender_id=rng.choice(senders), reference=f"r{i}")
        sends.append(prepare(CONFIG, table, account.id, request, default_sender_id=None))
    await store_sends(db, sends)
    stored = {r["public_id"]: r for r in await db.fetch(_COLUMNS)}
    assert len(stored) == sum(len(s.items) for s in sends)
    for send in sends:
        for p in send.items:
            row = stored[p.public_id]
            expected = (
                send.public_id, send.account_id, p.to, p.country, p.state,
                p.route.label if p.route else None, str(p.seg.encoding) if p.seg else None,
                p.seg.segments if p.seg else 0, p.cost,
                p.sender.address if p.sender else None, p.sender.ton if p.sender else None,
                p.sender.npi if p.sender else None, p.error,
                len(p.seg.parts) if p.state == "queued" and p.seg else 0,
            )  # fmt: skip
            assert tuple(row)[1:] == expected, (p, dict(row))
    assert {r["state"] for r in stored.values()} == {"queued", "failed", "invalid"}
    assert len({(r["route"], r["encoding"], r["segments"], r["sender_id"]) for r in stored.values()}) > 4
    assert sum(r["cost"] for r in stored.values()) == sum((s.total for s in sends), Decimal(0))


async def test_each_queued_message_gets_the_parts_of_its_own_segmentation(db: Database) -> None:
    # Parts are written from their message's outcome (bridge/store/intake.py):
    # routes with other segmentation profiles, bodies of one to several parts
    # and failed or invalid numbers in between must not shift a message's texts.
    table = RouteTable(CONFIG)
    account = await create_account(db, "acme", credits="1000")
    bodies = ["Your code is 482915", "Sale! " + "x" * 200, "Ünïcode body " * 12, "y" * 300]
    sends = [
        prepare(CONFIG, table, account.id, req([MY, "12345", SG, GB, MY2, ID, SG], body, reference=f"r{i}"),
                default_sender_id="Acme")
        for i, body in enumerate(bodies)
    ]  # fmt: skip
    await store_sends(db, sends)
    rows = await db.fetch(
        "SELECT m.public_id, p.seq, p.total, p.body, p.route, p.state::text FROM message_parts p"
        " JOIN messages m ON m.id = p.message_id ORDER BY m.public_id, p.seq"
    )
    stored: dict[str, list[tuple[object, ...]]] = {}
    for r in rows:
        stored.setdefault(r["public_id"], []).append(tuple(r)[1:])
    expected = {
        p.public_id: [(seq, len(p.seg.parts), text, p.route.label if p.route else None, "queued")
                      for seq, text in enumerate(p.seg.parts, start=1)]
        for s in sends for p in s.items if p.state == "queued" and p.seg is not None
    }  # fmt: skip
    assert stored == expected
    assert {len(v) for v in expected.values()} >= {1, 2}
    assert len({(v[0][1], v[0][3]) for v in expected.values()}) > 2  # several segmentations
