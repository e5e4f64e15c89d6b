"""Parking and matching at their edges, on real PostgreSQL, one flush or pass at a time:
an unbounded receipt text, rows without a key, parked rows kept in place, another
carrier's receipt, a submit written long after its claim, and the counters."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import msgspec
import trio

from bridge.dispatch.apply import apply_parked, take_parked
from bridge.dispatch.inbound import RECEIPT_TEXT_PREFIX, ReceiptRow, classify
from bridge.dispatch.parts import Resolution, Result
from bridge.dispatch.query import _CANDIDATES as QUERY_CANDIDATES
from bridge.dispatch.running import RunningCarriers
from bridge.dispatch.stats import DaemonStats
from bridge.dispatch.sweeper import Sweeper
from bridge.dispatch.unknown import match_unknown_parts
from bridge.smpp import DeliverSm
from bridge.store.db import Database
from config.schema import Config
from tests.dispatch.harness import make_config
from tests.dispatch.test_apply import CARRIER, CONFIG, TABLE, _accepted, _claimed, _flush, _states
from tests.dispatch.test_outcomes_db import PAIRS, ZONES, _deliver, _key, _match, _unknown
from tests.dispatch.test_query_unit import _NoInstances

ROUTE = CONFIG.routes[0].label


async def test_a_receipt_text_of_40000_characters_is_parked_by_its_first_characters(db: Database) -> None:
    """A message_payload receipt (up to 65,535 octets) with an unknown id: parked, never a
    failed flush (parked_receipts.text_len is a smallint)."""
    text = "Your code is 482913 " + "x" * 39_980
    when = datetime.now(UTC).strftime("%y%m%d%H%M")
    body = f"id:L1 sub:001 dlvrd:001 submit date:{when} done date:{when} stat:DELIVRD err:000 text:{text}"
    pdu = DeliverSm(source_addr="60123000000", destination_addr="Bridge", esm_class=0x04,
                    tlvs=((0x0424, body.encode()),))  # fmt: skip
    row = classify("sim", pdu, detect=CARRIER.receipt_detect, id_form=CARRIER.receipt_id_form, table=TABLE)
    assert isinstance(row, ReceiptRow) and len(row.receipt.text) == 40_000  # type: ignore[union-attr]
    applied = await _flush(db, [], [row])
    assert applied.receipts_parked == 1
    parked = await db.fetchrow("SELECT text_len, text_hmac FROM parked_receipts")
    assert parked is not None and parked["text_len"] == RECEIPT_TEXT_PREFIX == 255
    prefix = text[:RECEIPT_TEXT_PREFIX].encode()
    assert bytes(parked["text_hmac"]) == hmac.new(await _key(db), prefix, hashlib.sha256).digest()
    # Back from the parking (the sweeper's path) it keeps its HMAC and length: parked again unchanged.
    async with db.transaction() as tx:
        taken = await take_parked(tx, [("sim", row.id_key)], lambda _c: TABLE)
        assert [p.row.text_len for p in taken] == [255]


async def test_a_receipt_row_without_a_key_is_counted_and_never_parked(db: Database) -> None:
    """No producer can make parking fail: parked_receipts.id_key is NOT NULL."""
    (part,) = await _claimed(db, 1)
    keyless = msgspec.structs.replace(_deliver("N1", "DELIVRD"), id_key=None)  # type: ignore[arg-type]
    applied = await _flush(db, [_accepted(part, "A1")], [keyless, _deliver("N2", "DELIVRD")])
    assert (applied.accepted, applied.without_key, applied.receipts_parked) == (1, 1, 1)
    assert applied.parked_by == {"sim": 1}
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 1


async def test_query_sm_leaves_out_parts_without_a_key_and_parts_with_an_accepted_receipt(db: Database) -> None:
    parts = await _claimed(db, 3)
    # An empty message_id: stored as "", with no key (dlr.response_key).
    empty = Result(parts[0], Resolution.ACCEPTED, carrier="sim", carrier_message_id="", id_key=None)
    await _flush(db, [empty, _accepted(parts[1], "Q1"), _accepted(parts[2], "Q2")], [_deliver("Q2", "ACCEPTD")])
    await db.execute("UPDATE message_parts SET submitted_at = now() - interval '1 hour'")
    owner = parts[0].owner
    rows = await db.fetch(QUERY_CANDIDATES, "sim", 60.0, None, 0, 0, [owner], 100)
    assert [r["carrier_message_id"] for r in rows] == ["Q1"]


async def test_parked_receipts_taken_and_not_matched_stay_in_place_with_their_age_and_ambiguity(
    db: Database,
) -> None:
    """take_parked + apply_parked (the sweeper's late-match pass and unknown.py): a row that
    matches nothing is not deleted and inserted again (a new received_at would restart its
    TTL; a lost ambiguous_at would make an ambiguous receipt matchable again)."""
    (part,) = await _claimed(db, 1)
    await _flush(db, [_accepted(part, "K1")], [])
    await _flush(db, [], [_deliver("K0", "DELIVRD"), _deliver("K0", "ENROUTE")])
    await db.execute("UPDATE parked_receipts SET received_at = now() - interval '3 days', ambiguous_at = now()")
    before = await db.fetch("SELECT id, received_at, ambiguous_at FROM parked_receipts ORDER BY id")
    await _flush(db, [], [_deliver("K1", "DELIVRD")])  # a key that exists: applied, not parked
    async with db.transaction() as tx:
        taken = await take_parked(tx, [("sim", "k0")], lambda _c: TABLE)
        assert len(taken) == 2
        out = await apply_parked(tx, taken, webhooks=False, default_url=None)
    assert (out.parked_applied, out.receipts_parked, out.receipts_applied) == (0, 0, 0)
    after = await db.fetch("SELECT id, received_at, ambiguous_at FROM parked_receipts ORDER BY id")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


async def test_a_receipt_from_another_carrier_of_the_route_never_settles_a_part_that_knows_its_carrier(
    db: Database,
) -> None:
    pairs, zones = [*PAIRS, (ROUTE, "other")], [*ZONES, ("other", "UTC")]
    parts = await _claimed(db, 2)
    await _flush(db, [_unknown(p) for p in parts], [])  # both sent via "sim"
    other = msgspec.structs.replace(_deliver("B0", "DELIVRD"), carrier="other")  # fits part 0 but for the carrier
    await _flush(db, [], [other])

    async def match():  # type: ignore[no-untyped-def]
        async with db.transaction() as tx:
            return await match_unknown_parts(
                tx, route_pairs=pairs, zones=zones, payload_routes=[], table_for=lambda _c: TABLE,
                webhooks=False, default_url=None,
            )  # fmt: skip

    matched = await match()
    assert (matched.parts, matched.ambiguous) == (0, 0)
    assert await _states(db) == [("unknown", "queued", None, None)] * 2
    # A part that does not know its carrier (recovered after a crash) is matched on its route.
    await db.execute("UPDATE message_parts SET carrier = NULL WHERE message_id = $1", parts[0].message_id)
    matched = await match()
    assert (matched.parts, matched.ambiguous) == (1, 0)
    assert (await _states(db))[0][:2] == ("delivered", "delivered")


async def test_a_submit_written_long_after_its_claim_is_matched_by_when_it_became_unknown(db: Database) -> None:
    """A part throttled (0x58 / 0x14) is written up to max_age after its claim: the
    receipt's submit date is compared with the span from the claim to unknown_at."""
    parts = await _claimed(db, 2)
    await db.execute("UPDATE message_parts SET submitted_at = now() - interval '9 minutes'")
    await _flush(db, [_unknown(p) for p in parts], [])
    assert await db.fetchval("SELECT bool_and(unknown_at > now() - interval '1 minute') FROM message_parts")
    later = datetime.now(UTC) + timedelta(minutes=3)  # after the part became unknown: not its receipt
    await _flush(db, [], [_deliver("T0", "DELIVRD"), _deliver("T1", "DELIVRD", to="60123000001", submitted=later)])
    matched = await _match(db)
    assert (matched.parts, matched.ambiguous) == (1, 0)
    assert [s[0] for s in await _states(db)] == ["delivered", "unknown"]


async def test_unknown_counts_only_parts_that_became_unknown(db: Database) -> None:
    parts = await _claimed(db, 2)
    await db.execute("UPDATE messages SET state = 'failed' WHERE id = $1", parts[0].message_id)
    applied = await _flush(db, [_unknown(p) for p in parts], [])
    assert applied.unknown == 1  # the other one was cancelled (migration 0010's trigger)
    rows = await db.fetch("SELECT state::text, receipt_stat FROM message_parts ORDER BY message_id")
    assert [tuple(r) for r in rows] == [("failed", "cancelled"), ("unknown", None)]


def _sweeper(db: Database, stats: DaemonStats, config: Config) -> Sweeper:
    return Sweeper(db, stats=stats, carriers=RunningCarriers(config), instances=_NoInstances(),
                   interval=3600.0, db_timeout=10.0)  # fmt: skip


async def test_grace_ended_counts_as_resubmitted_only_parts_queued_again(db: Database) -> None:
    """GRACE_ENDED under "resubmit": the sweeper's RETURNING gives the state stored, so a
    part of a message that failed meanwhile is cancelled (CANCELLED_ON_RETURN), not counted
    as resubmitted, and not claimed again."""
    config = make_config(1, carrier='on_unknown_outcome = "resubmit"')
    parts = await _claimed(db, 2)
    await _flush(db, [_unknown(p, grace=0.001) for p in parts], [])
    await db.execute("UPDATE messages SET state = 'failed' WHERE id = $1", parts[0].message_id)
    await trio.sleep(0.01)
    stats = DaemonStats()
    assert await _sweeper(db, stats, config).unknown_grace_ended() == 2
    assert (stats.unknown_expired, stats.resubmitted, stats.failed) == (2, 1, 0)
    rows = await db.fetch("SELECT state::text, receipt_stat, final_at IS NOT NULL FROM message_parts ORDER BY message_id")
    assert [tuple(r) for r in rows] == [("failed", "cancelled", True), ("queued", None, False)]


async def test_the_sweeper_counts_parked_receipts_taken_and_receipts_applied_apart(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    await _flush(db, [_unknown(part)], [])
    await _flush(db, [], [_deliver("S0", "DELIVRD"), _deliver("S0", "DELIVRD")])  # the SMSC sent it twice
    stats = DaemonStats()
    assert await _sweeper(db, stats, CONFIG).match_unknown() == 1
    assert (stats.unknown_matched, stats.parked_applied, stats.receipts_applied, stats.sent) == (1, 2, 1, 1)
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
