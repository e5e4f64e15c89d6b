"""One writer flush on real PostgreSQL: a response and its receipt in the same batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest
import trio

import dlr
from bridge.dispatch.apply import apply_flush
from bridge.dispatch.claim import CLAIM_SQL
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue
from tests.dispatch.harness import MY_NUMBERS, add_webhook_url, make_config

CONFIG = make_config(1)
CARRIER = CONFIG.carriers[0]
TABLE = CARRIER.status_table()


async def _claimed(db: Database, count: int) -> list[ClaimedPart]:
    await create_account(db, "acme", credits="10")
    await add_webhook_url(db)
    await enqueue(db, CONFIG, "acme", SendRequest(to=MY_NUMBERS[:count], message="Hi"))
    owner = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
        " VALUES ('t', 'h', 1, now() + interval '1 hour') RETURNING id"
    )
    rows = await db.fetch(CLAIM_SQL, owner, 100, [CONFIG.routes[0].label], [])
    assert len(rows) == count
    return sorted(
        (
            ClaimedPart(
                message_id=r["message_id"], seq=r["seq"], total=r["total"], body=r["body"], route=r["route"],
                attempts=r["attempts"], owner=owner, destination=r["destination"], sender_id=r["sender_id"],
                sender_ton=r["sender_ton"], sender_npi=r["sender_npi"], concat_ref=r["concat_ref"],
                campaign_body=r["campaign_body"], previous_carrier=r["carrier"],
            )
            for r in rows
        ),
        key=lambda p: p.message_id,
    )  # fmt: skip


def _accepted(part: ClaimedPart, carrier_id: str) -> Result:
    key = dlr.id_key(carrier_id, CARRIER.response_id_form)
    return Result(part, Resolution.ACCEPTED, carrier="sim", carrier_message_id=carrier_id, id_key=key)


def _receipt(carrier_id: str, stat: str) -> ReceiptRow:
    text = f"id:{carrier_id} sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:{stat} err:000 text:"
    parsed = dlr.parse_receipt(text.encode(), None, 0x04)
    return ReceiptRow(
        carrier="sim", id_key=dlr.id_key(parsed.id, CARRIER.receipt_id_form),
        status=dlr.status_for(parsed.state, TABLE), stat=parsed.stat, error_code=parsed.error_code,
        receipt=parsed, raw=text.encode(),
    )  # fmt: skip


async def _flush(db: Database, results: list[Result], receipts: list[ReceiptRow]):  # type: ignore[no-untyped-def]
    return await apply_flush(db, results, receipts, [], webhooks=True, default_url="https://x.invalid/h")


async def _states(db: Database) -> list[tuple[str, str, str | None, str | None]]:
    rows = await db.fetch(
        "SELECT p.state::text AS part, m.state::text AS message, p.carrier_message_id, m.error"
        " FROM message_parts p JOIN messages m ON m.id = p.message_id ORDER BY m.id"
    )
    return [(r["part"], r["message"], r["carrier_message_id"], r["error"]) for r in rows]


async def test_response_and_receipt_in_one_flush_end_final_billed_with_outbox_rows(db: Database) -> None:
    parts = await _claimed(db, 3)
    results = [_accepted(p, f"A{i}") for i, p in enumerate(parts)]
    # Part 0: delivered; part 1: a pending receipt, then UNDELIV, then a late DELIVRD; part 2: no receipt yet.
    receipts = [_receipt("A0", "DELIVRD"), _receipt("A1", "ENROUTE"), _receipt("A1", "UNDELIV"),
                _receipt("A1", "DELIVRD")]  # fmt: skip
    applied = await _flush(db, results, receipts)
    assert (applied.accepted, applied.receipts_applied, applied.receipts_duplicate) == (3, 2, 2)
    assert applied.folded == 2  # A0's DELIVRD and A1's UNDELIV, each with its response
    assert (applied.receipts_parked, applied.sent, applied.failed) == (0, 1, 1)
    assert await _states(db) == [
        ("delivered", "delivered", "A0", None),
        ("failed", "failed", "A1", "UNDELIV"),
        ("submitted", "queued", "A2", None),
    ]
    kinds = await db.fetch("SELECT kind::text FROM ledger WHERE kind IN ('charge', 'refund') ORDER BY message_id")
    assert [r["kind"] for r in kinds] == ["charge", "refund"]
    assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 2
    assert (await reconcile(db, "acme")).ok
    # The same rows again (a retried flush whose COMMIT got through): nothing changes.
    again = await _flush(db, results, receipts)
    assert (again.accepted, again.receipts_applied, again.sent, again.failed) == (0, 0, 0, 0)
    assert await db.fetchval("SELECT count(*) FROM webhook_outbox") == 2


class _Spy:
    """The database, noting the receipts array of each apply_flush call."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.receipts: list[list[tuple[object, ...]]] = []

    async def fetchrow(self, query: str, *args: object) -> object:
        self.receipts.append(args[5])  # type: ignore[arg-type]
        return await self.db.fetchrow(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        return await self.db.execute(query, *args)


async def test_folded_receipts_leave_the_receipts_array_and_the_others_keep_their_positions(db: Database) -> None:
    """A folded receipt is sent in its accepted row only; the unmatched ones around it are
    reported (and parked) by their own positions."""
    parts = await _claimed(db, 2)
    results = [_accepted(parts[0], "F1"), _accepted(parts[1], "F2")]
    receipts = [_receipt("AA1", "DELIVRD"), _receipt("F1", "DELIVRD"), _receipt("AA2", "UNDELIV"),
                _receipt("F2", "UNDELIV"), _receipt("AA3", "DELIVRD"), _receipt("F1", "UNDELIV")]  # fmt: skip
    spy = _Spy(db)
    applied = await apply_flush(spy, results, receipts, [], webhooks=True, default_url="https://x.invalid/h")  # type: ignore[arg-type]
    (sent,) = spy.receipts
    assert [row[:2] for row in sent] == [("sim", receipts[n].id_key) for n in (0, 2, 4, 5)]
    assert (applied.folded, applied.receipts_applied, applied.receipts_duplicate, applied.receipts_parked) == (2, 2, 1, 3)
    assert await _states(db) == [("delivered", "delivered", "F1", None), ("failed", "failed", "F2", "UNDELIV")]
    parked = await db.fetch("SELECT id_key, stat FROM parked_receipts ORDER BY id")
    assert [(r["id_key"], r["stat"]) for r in parked] == [
        (receipts[0].id_key, "DELIVRD"), (receipts[2].id_key, "UNDELIV"), (receipts[4].id_key, "DELIVRD")]


async def test_submitted_at_is_when_the_submit_sm_was_written_not_the_flush(db: Database) -> None:
    """An accepted part's submitted_at is its write time (Result.written_at), however late
    the flush that stores it; folded with its receipt too. Without one: the flush's time."""
    parts = await _claimed(db, 3)
    written = trio.current_time() - 30.0
    results = [msgspec.structs.replace(_accepted(parts[0], "W0"), written_at=written),
               msgspec.structs.replace(_accepted(parts[1], "W1"), written_at=written),
               _accepted(parts[2], "W2")]  # fmt: skip
    applied = await _flush(db, results, [_receipt("W1", "DELIVRD")])
    assert (applied.accepted, applied.folded) == (3, 1)
    rows = await db.fetch(
        "SELECT extract(epoch FROM now() - submitted_at)::float8 AS ago FROM message_parts ORDER BY message_id"
    )
    ago = [r["ago"] for r in rows]
    assert 29.5 < ago[0] < 40 and 29.5 < ago[1] < 40, ago
    assert 0 <= ago[2] < 5, ago


async def test_a_fold_that_does_not_apply_is_matched_at_its_position(db: Database) -> None:
    """The part was no longer ours when its response came: the fold finds nothing, and its
    receipt, sent only in the accepted row, is matched, then parked, from there."""
    one, two = await _claimed(db, 2)
    await _flush(db, [_accepted(one, "CC1")], [])
    await db.execute("UPDATE message_parts SET attempts = attempts + 1 WHERE message_id = $1", two.message_id)
    receipts = [_receipt("CC1", "UNDELIV"), _receipt("CC2", "DELIVRD"), _receipt("CC1", "DELIVRD")]
    applied = await _flush(db, [_accepted(two, "CC2")], receipts)
    assert (applied.accepted, applied.folded, applied.receipts_applied, applied.receipts_parked) == (0, 0, 1, 1)
    assert applied.receipts_duplicate == 1
    assert await _states(db) == [("failed", "failed", "CC1", "UNDELIV"), ("submitting", "queued", None, None)]
    parked = await db.fetch("SELECT id_key, stat FROM parked_receipts")
    assert [(r["id_key"], r["stat"]) for r in parked] == [(receipts[1].id_key, "DELIVRD")]


async def test_a_receipt_parked_before_the_response_wins_over_one_in_the_batch(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    first = await _flush(db, [], [_receipt("B7", "UNDELIV")])  # it overtook its submit_sm_resp
    assert first.receipts_parked == 1
    applied = await _flush(db, [_accepted(part, "B7")], [_receipt("B7", "DELIVRD")])
    assert (applied.accepted, applied.parked_applied, applied.receipts_applied) == (1, 1, 1)
    assert await _states(db) == [("failed", "failed", "B7", "UNDELIV")]
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0


async def test_a_response_for_a_part_no_longer_ours_leaves_its_receipt_parked(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    await db.execute("UPDATE message_parts SET attempts = attempts + 1")  # recovered and claimed again elsewhere
    applied = await _flush(db, [_accepted(part, "C1")], [_receipt("C1", "DELIVRD")])
    assert (applied.accepted, applied.receipts_applied, applied.receipts_parked) == (0, 0, 1)
    assert await _states(db) == [("submitting", "queued", None, None)]


async def test_a_parked_receipt_keeps_its_status_and_one_from_an_older_release_is_left_to_the_sweeper(
    db: Database,
) -> None:
    one, two = await _claimed(db, 2)
    await _flush(db, [], [_receipt("D1", "UNDELIV")])
    parked = await db.fetchrow("SELECT status, stat, error_code FROM parked_receipts")
    assert parked is not None and (parked["status"], parked["stat"]) == ("failed", "UNDELIV")
    # Parked before migration 0008: no status column value. apply_flush cannot work one
    # out (that needs the carrier's status table), so it leaves the row; the sweeper's
    # late-match pass applies it (test_sweeper).
    await db.execute(
        "INSERT INTO parked_receipts (carrier, id_key, receipt) VALUES ('sim', $1, '{}'::jsonb)",
        dlr.id_key("D2", CARRIER.response_id_form),
    )
    applied = await _flush(db, [_accepted(one, "D1"), _accepted(two, "D2")], [])
    assert (applied.accepted, applied.parked_applied, applied.receipts_applied) == (2, 1, 1)
    assert await _states(db) == [("failed", "failed", "D1", "UNDELIV"), ("submitted", "queued", "D2", None)]
    assert await db.fetchval("SELECT count(*) FROM parked_receipts WHERE status IS NULL") == 1
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 1


async def test_two_parts_under_one_carrier_id_do_not_fold_and_the_newest_takes_the_receipt(db: Database) -> None:
    older, newer = await _claimed(db, 2)
    applied = await _flush(db, [_accepted(older, "E1"), _accepted(newer, "E1")], [_receipt("E1", "DELIVRD")])
    assert (applied.accepted, applied.receipts_applied, applied.sent) == (2, 1, 1)
    assert await _states(db) == [("submitted", "queued", "E1", None), ("delivered", "delivered", "E1", None)]


async def test_parts_are_claimed_only_under_a_live_instance_row(db: Database) -> None:
    """Migration 0009: the claim joins its owner's row instead of a foreign key checking it."""
    await create_account(db, "acme", credits="10")
    await enqueue(db, CONFIG, "acme", SendRequest(to=MY_NUMBERS[:2], message="Hi"))
    route = [CONFIG.routes[0].label]
    hour = timedelta(hours=1)
    insert = (
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until, stopped_at)"
        " VALUES ('t', 'h', 1, now() + $1, $2) RETURNING id"
    )
    stopped = await db.fetchval(insert, hour, datetime.now(UTC))
    expired = await db.fetchval(insert, -timedelta(seconds=1), None)
    live = await db.fetchval(insert, hour, None)
    for owner in (stopped, expired, live + 100):  # stopped, lease expired, no such row
        assert await db.fetch(CLAIM_SQL, owner, 100, route, []) == []
    assert await db.fetchval("SELECT count(*) FROM message_parts WHERE state = 'queued'") == 2
    assert len(await db.fetch(CLAIM_SQL, live, 100, route, [])) == 2
    assert await db.fetchval("SELECT count(*) FROM message_parts WHERE owner_instance = $1", live) == 2


async def test_an_instance_row_named_by_parts_cannot_be_deleted(db: Database) -> None:
    (part,) = await _claimed(db, 1)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("DELETE FROM daemon_instances WHERE id = $1", part.owner)
    spare = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until) VALUES ('s', 'h', 2, now()) RETURNING id"
    )
    await db.execute("DELETE FROM daemon_instances WHERE id = $1", spare)  # named by nothing: it may go


async def test_a_claimed_row_holds_claimed_parts_fields_in_their_order(db: Database) -> None:
    """Claimer.claim builds parts by position (``ClaimedPart(*row)``)."""
    (part,) = await _claimed(db, 1)
    await db.execute("UPDATE message_parts SET state = 'queued'")
    (row,) = await db.fetch(CLAIM_SQL, part.owner, 100, [CONFIG.routes[0].label], [])
    names = ["previous_carrier" if k == "carrier" else k for k in dict(row)]
    assert names == list(ClaimedPart.__struct_fields__)
    again = ClaimedPart(*row)
    assert again.queued_for >= part.queued_for >= 0  # seconds since enqueue, at each claim
    assert msgspec.structs.replace(again, queued_for=0.0) == msgspec.structs.replace(part, attempts=2, queued_for=0.0)


def _late(part: ClaimedPart, carrier_id: str) -> Result:
    key = dlr.id_key(carrier_id, CARRIER.response_id_form)
    return Result(part, Resolution.LATE_ACCEPT, carrier="sim", carrier_message_id=carrier_id, id_key=key)


async def test_a_late_response_submits_a_part_the_queue_has_not_given_out_again(db: Database) -> None:
    """Policy "resubmit": the timed-out part is queued again; its late id lands instead of a second send."""
    waiting, reclaimed = await _claimed(db, 2)
    requeue = [Result(p, Resolution.RESUBMIT, "sim", delay=60.0, reason="unknown_timeout") for p in (waiting, reclaimed)]
    await _flush(db, requeue, [])
    # A receipt for the late id overtook its response: parked until the id lands.
    assert (await _flush(db, [], [_receipt("L1", "DELIVRD")])).receipts_parked == 1
    await db.execute("UPDATE message_parts SET attempts = attempts + 1 WHERE message_id = $1", reclaimed.message_id)
    applied = await _flush(db, [_late(waiting, "L1"), _late(reclaimed, "L2")], [])
    assert (applied.late_applied, applied.parked_applied, applied.sent) == (1, 1, 1)
    assert await _states(db) == [("delivered", "delivered", "L1", None), ("queued", "queued", None, None)]
    assert await db.fetchval("SELECT count(*) FROM parked_receipts") == 0
    assert (await reconcile(db, "acme")).ok


async def test_a_late_response_gives_a_part_failed_for_it_its_id_and_it_stays_failed(db: Database) -> None:
    """Policy "fail": refunded already (a final state); the id lets its receipt be recognised."""
    (part,) = await _claimed(db, 1)
    await _flush(db, [Result(part, Resolution.UNKNOWN_FAIL, "sim", reason="unknown_outcome")], [])
    applied = await _flush(db, [_late(part, "M1")], [_receipt("M1", "DELIVRD")])
    assert (applied.late_applied, applied.receipts_duplicate, applied.receipts_parked) == (1, 1, 0)
    assert await _states(db) == [("failed", "failed", "M1", "unknown_outcome")]
    again = await _flush(db, [_late(part, "M2")], [])  # a second late id changes nothing
    assert again.late_applied == 0
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 1
    assert (await reconcile(db, "acme")).ok


@pytest.mark.parametrize("resolution", [Resolution.RESUBMIT, Resolution.RELEASE])
async def test_a_part_in_flight_when_its_message_failed_is_cancelled_not_requeued(
    db: Database, resolution: Resolution
) -> None:
    """Migration 0010: part 1 fails while part 2 is at the carrier; part 2's Unknown does not queue it again."""
    await create_account(db, "acme", credits="10")
    await enqueue(db, CONFIG, "acme", SendRequest(to=MY_NUMBERS[:1], message="x" * 300))
    owner = await db.fetchval(
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
        " VALUES ('t', 'h', 1, now() + interval '1 hour') RETURNING id"
    )
    first, second = sorted(
        (ClaimedPart(*row) for row in await db.fetch(CLAIM_SQL, owner, 100, [CONFIG.routes[0].label], [])),
        key=lambda p: p.seq,
    )
    failed = await _flush(db, [_accepted(first, "F1")], [_receipt("F1", "UNDELIV")])
    assert failed.failed == 1
    requeue = await _flush(db, [Result(second, resolution, "sim", delay=0.0, reason="unknown_timeout")], [])
    assert requeue.requeued == 1
    parts = await db.fetch("SELECT seq, state::text, receipt_stat FROM message_parts ORDER BY seq")
    assert [tuple(r) for r in parts] == [(1, "failed", "UNDELIV"), (2, "failed", "cancelled")]
    assert await db.fetch(CLAIM_SQL, owner, 100, [CONFIG.routes[0].label], []) == []
    assert (await reconcile(db, "acme")).ok


async def test_a_requeued_part_of_a_message_still_pending_goes_back_to_the_queue(db: Database) -> None:
    """The trigger of migration 0010 leaves every other requeue alone."""
    (part,) = await _claimed(db, 1)
    await _flush(db, [Result(part, Resolution.RESUBMIT, "sim", delay=0.0, reason="unknown_timeout")], [])
    assert await _states(db) == [("queued", "queued", None, None)]
