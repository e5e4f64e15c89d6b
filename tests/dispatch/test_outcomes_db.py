"""Migration 0011 on real PostgreSQL, one flush or one sweeper pass at a time: every
receipt state recorded, unknown outcomes pending, parked receipts without their text,
and parked receipts matched to unknown parts (or found ambiguous)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import msgspec

import dlr
from bridge.dispatch.apply import part_state
from bridge.dispatch.inbound import ReceiptRow, classify
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.dispatch.unknown import match_unknown_parts
from bridge.smpp import DeliverSm
from bridge.store.accounts import reconcile
from bridge.store.db import Database
from tests.dispatch.test_apply import CARRIER, CONFIG, TABLE, _accepted, _claimed, _flush, _states

PAIRS = [(CONFIG.routes[0].label, "sim")]
ZONES = [("sim", "UTC")]


def _deliver(carrier_id: str, stat: str, *, text: str = "Hi", to: str = "60123000000", sender: str = "Bridge",
             submitted: datetime | None = None) -> ReceiptRow:  # fmt: skip
    """A receipt as the daemon's inbound path builds it (inbound.classify)."""
    when = (submitted or datetime.now(UTC)).strftime("%y%m%d%H%M")
    body = (f"id:{carrier_id} sub:001 dlvrd:001 submit date:{when} done date:{when} stat:{stat} err:000"
            f" text:{text}")  # fmt: skip
    pdu = DeliverSm(source_addr=to, destination_addr=sender, esm_class=0x04, short_message=body.encode())
    row = classify("sim", pdu, detect=CARRIER.receipt_detect, id_form=CARRIER.receipt_id_form, table=TABLE)
    assert isinstance(row, ReceiptRow)
    return row


def _unknown(part: ClaimedPart, grace: float = 3600.0) -> Result:
    return Result(part, Resolution.UNKNOWN, "sim", delay=grace, reason="unknown_disconnected")


async def _match(db: Database):  # type: ignore[no-untyped-def]
    async with db.transaction() as tx:
        return await match_unknown_parts(
            tx, route_pairs=PAIRS, zones=ZONES, payload_routes=[], table_for=lambda _c: TABLE,
            webhooks=False, default_url=None,
        )  # fmt: skip


async def _key(db: Database) -> bytes:
    """The installation's HMAC key, recovered from its inner pad (test only)."""
    ipad: bytes = await db.fetchval("SELECT ipad FROM receipt_text_key")
    return bytes(b ^ 0x36 for b in ipad)[:32]


async def test_an_accepted_receipt_is_recorded_keeps_the_message_pending_and_a_final_one_still_applies(
    db: Database,
) -> None:
    (part,) = await _claimed(db, 1)
    applied = await _flush(db, [_accepted(part, "A1")], [_deliver("A1", "ACCEPTD")])
    assert (applied.receipts_applied, applied.receipts_duplicate, applied.sent) == (1, 0, 0)
    row = await db.fetchrow("SELECT state::text, receipt_stat, accepted_at FROM message_parts")
    assert row is not None and (row["state"], row["receipt_stat"]) == ("submitted", "ACCEPTD")
    assert row["accepted_at"] is not None
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE kind IN ('charge', 'refund')") == 0
    # An ENROUTE after it is recorded too; the ACCEPTED clock keeps running.
    await _flush(db, [], [_deliver("A1", "ENROUTE")])
    again = await db.fetchrow("SELECT receipt_stat, accepted_at FROM message_parts")
    assert again is not None and again["receipt_stat"] == "ENROUTE" and again["accepted_at"] == row["accepted_at"]
    final = await _flush(db, [], [_deliver("A1", "DELIVRD")])
    assert final.sent == 1
    assert await _states(db) == [("delivered", "delivered", "A1", None)]
    assert (await reconcile(db, "acme")).ok


async def test_an_unknown_outcome_waits_pending_unrefunded_and_a_late_response_submits_it(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    applied = await _flush(db, [_unknown(part)], [])
    assert (applied.unknown, applied.rejected, applied.requeued, applied.failed) == (1, 0, 0, 0)
    assert await _states(db) == [("unknown", "queued", None, None)]
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 0
    grace = await db.fetchval("SELECT next_attempt_at - now() > interval '59 minutes' FROM message_parts")
    assert grace
    late = Result(part, Resolution.LATE_ACCEPT, "sim", "L9", dlr.id_key("L9", CARRIER.response_id_form))
    assert (await _flush(db, [late], [_deliver("L9", "DELIVRD")])).late_applied == 1
    assert await _states(db) == [("delivered", "delivered", "L9", None)]
    assert (await reconcile(db, "acme")).ok


async def test_a_parked_receipt_keeps_an_hmac_of_its_text_never_the_text(db: Database) -> None:
    otp = "Your code is 482913"
    applied = await _flush(db, [], [_deliver("P1", "DELIVRD", text=otp)])
    assert applied.receipts_parked == 1
    row = await db.fetchrow("SELECT * FROM parked_receipts")
    assert row is not None
    assert "482913" not in row["receipt"] and b"482913" not in (row["raw"] or b"")
    assert row["raw"].endswith(b"text:") and row["text_len"] == len(otp)
    assert bytes(row["text_hmac"]) == hmac.new(await _key(db), otp.encode(), hashlib.sha256).digest()
    assert (row["source"], row["destination"], row["status"]) == ("60123000000", "Bridge", "delivered")
    assert abs((datetime.now(UTC).replace(tzinfo=None) - row["submit_date"]).total_seconds()) < 120
    assert row["submit_date"].second == 0


async def test_a_parked_receipt_is_matched_to_the_one_unknown_part_it_fits(db: Database) -> None:
    parts = await _claimed(db, 2)  # +60123000000 and +60123000001, "Hi" from "Bridge"
    await _flush(db, [_unknown(p) for p in parts], [])
    # Receipts for both, and one whose text differs (another message): parked, no id known.
    receipts = [_deliver("X0", "DELIVRD"), _deliver("X1", "UNDELIV", to="60123000001"),
                _deliver("X2", "DELIVRD", text="Something else", to="60123000001")]  # fmt: skip
    assert (await _flush(db, [], receipts)).receipts_parked == 3
    matched = await _match(db)
    assert (matched.parts, matched.ambiguous) == (2, 0)
    assert matched.applied is not None and (matched.applied.sent, matched.applied.failed) == (1, 1)
    # The part takes the receipt's key, not its id (not the SMSC's response form: query.py must not send it).
    assert await _states(db) == [("delivered", "delivered", None, None), ("failed", "failed", None, "UNDELIV")]
    keys = await db.fetch("SELECT id_key FROM message_parts ORDER BY message_id")
    assert [r["id_key"] for r in keys] == [dlr.id_key("X0", CARRIER.receipt_id_form), dlr.id_key("X1", CARRIER.receipt_id_form)]
    left = await db.fetch("SELECT receipt ->> 'id' AS id FROM parked_receipts")
    assert [r["id"] for r in left] == ["X2"]
    assert (await reconcile(db, "acme")).ok


async def test_a_parked_receipt_that_fits_two_unknown_parts_is_counted_and_not_applied(db: Database) -> None:
    parts = await _claimed(db, 2)
    await db.execute(  # both messages to one number, same sender, same text, same minute
        "UPDATE messages SET destination = '+60123000000'"
    )
    await _flush(db, [_unknown(p) for p in parts], [])
    await _flush(db, [], [_deliver("Y0", "DELIVRD"), _deliver("Y1", "DELIVRD")])
    matched = await _match(db)
    assert (matched.parts, matched.ambiguous, matched.applied) == (0, 2, None)
    assert await _states(db) == [("unknown", "queued", None, None)] * 2
    assert await db.fetchval("SELECT count(*) FROM parked_receipts WHERE ambiguous_at IS NOT NULL") == 2
    assert (await _match(db)).ambiguous == 0  # counted once, never matched again


async def test_a_receipt_is_not_matched_while_a_fitting_part_is_still_being_submitted(db: Database) -> None:
    unknown, submitting = await _claimed(db, 2)
    await db.execute("UPDATE messages SET destination = '+60123000000'")
    await _flush(db, [_unknown(unknown)], [])
    await _flush(db, [], [_deliver("Z0", "DELIVRD")])
    matched = await _match(db)
    assert (matched.parts, matched.ambiguous) == (0, 0)  # deferred: the other one may be its part
    state = await db.fetchval("SELECT state::text FROM message_parts WHERE message_id = $1", submitting.message_id)
    assert state == "submitting"


async def test_a_receipt_from_another_minute_or_sender_does_not_match(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    await _flush(db, [_unknown(part)], [])
    old = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    await _flush(db, [], [_deliver("W0", "DELIVRD", submitted=old), _deliver("W1", "DELIVRD", sender="Other")])
    matched = await _match(db)
    assert (matched.parts, matched.ambiguous) == (0, 0)
    assert await _states(db) == [("unknown", "queued", None, None)]


def test_a_pending_receipt_row_is_accepted_by_its_state_however_it_was_built() -> None:
    """A row built outside inbound.classify (e.g. from a query_sm answer) carries its parsed receipt."""
    parsed = dlr.Receipt(id="Q1", state=dlr.MessageState.ACCEPTED, stat="ACCEPTD")
    row = ReceiptRow(carrier="sim", id_key="q1", status=dlr.status_for(parsed.state, TABLE), stat="ACCEPTD",
                     error_code=None, receipt=parsed, raw=b"")  # fmt: skip
    assert part_state(row) == "accepted"
    enroute = dlr.Receipt(id="Q1", state=dlr.MessageState.ENROUTE, stat="ENROUTE")
    assert part_state(msgspec.structs.replace(row, receipt=enroute)) == "pending"
    assert part_state(_deliver("Q2", "ACCEPTD")) == "accepted" and part_state(_deliver("Q2", "DELIVRD")) == "delivered"
