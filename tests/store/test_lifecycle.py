"""The lifecycle table (bridge/store/lifecycle.py) walked against a real database.

For every part event, from every part state, with every target it names: the
statement the code runs for that event moves the part exactly as the table says,
and leaves a part in a state the table does not list for it as it is. Then the
rules outside the events: CANCELLED_ON_RETURN, final states, retired message
states, and FINALIZE from every message state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest

import dlr
from bridge.dispatch import query, sweeper, unknown
from bridge.dispatch.apply import apply_flush
from bridge.dispatch.claim import CLAIM_SQL
from bridge.dispatch.finalize import finalize_messages
from bridge.dispatch.inbound import ReceiptRow
from bridge.dispatch.parts import ClaimedPart, Resolution, Result
from bridge.store.db import Database
from bridge.store.lifecycle import (
    CANCELLED_ON_RETURN,
    FINAL_MESSAGE_STATES,
    FINAL_PART_STATES,
    MESSAGE_LIFECYCLE,
    PART_LIFECYCLE,
    RETIRED_MESSAGE_STATES,
    MessageEvent,
    MessageState,
    PartEvent,
    PartState,
    part_moves,
)
from tests.store.pg import _new_name


@dataclass(frozen=True, slots=True)
class Scene:
    """One message whose part ``seq`` is the one walked; its own carrier and route."""

    message_id: int
    seq: int
    carrier: str
    key: str
    live: int  # a live instance row
    dead: int  # a stopped one


async def _instances(db: Database) -> tuple[int, int]:
    insert = (
        "INSERT INTO daemon_instances (name, hostname, pid, lease_until, stopped_at)"
        " VALUES ('t', 'h', 1, now() + $1::text::interval, $2) RETURNING id"
    )
    live = await db.fetchval(insert, "1 hour", None)
    dead = await db.fetchval("INSERT INTO daemon_instances (name, hostname, pid, lease_until, stopped_at)"
                             " VALUES ('t', 'h', 2, now() - interval '1 hour', now()) RETURNING id")  # fmt: skip
    return live, dead


async def _scene(
    db: Database, state: str, *, message_state: str = "queued", first: str | None = None, **columns: object
) -> Scene:
    """A message of one part in ``state`` (or of two: part 1 in ``first``, part 2 walked), every
    guard but the state's satisfied: due, submitted and accepted long ago, claimed by a live
    instance under attempt 1, with a key. ``columns`` override the walked part's columns."""
    live, dead = await _instances(db)
    account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ($1, 10) RETURNING id", _new_name())
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ($1, $2, 'otp', 'x') RETURNING id",
        _new_name(), account,
    )  # fmt: skip
    total = 1 if first is None else 2
    message = await db.fetchval(
        "INSERT INTO messages (public_id, campaign_id, account_id, destination, state, segments, cost)"
        " VALUES ($1, $2, $3, '+60123456789', $4, $5, 0) RETURNING id",
        _new_name(), campaign, account, message_state, total,
    )  # fmt: skip
    carrier, key = f"c{message}", f"K{message}"
    part = {
        "state": state, "route": f"r{message}", "carrier": carrier, "id_key": key, "attempts": 1,
        "owner_instance": live, "next_attempt_at": "-1 hour", "submitted_at": "-3 days",
    }  # fmt: skip
    part.update(columns)
    parts = [(1, part)] if first is None else [(1, {**part, "state": first, "id_key": f"P{message}"}), (2, part)]
    for seq, values in parts:
        names = ", ".join(values)
        placeholders = ", ".join(
            f"now() + ${i}::text::interval" if name.endswith("_at") else f"${i}" for i, name in enumerate(values, 4)
        )
        await db.execute(
            f"INSERT INTO message_parts (message_id, seq, total, body, {names})"
            f" VALUES ($1, $2, $3, 'x', {placeholders})",
            message, seq, total, *[None if v is None else str(v) if k.endswith("_at") else v
                                   for k, v in values.items()],
        )  # fmt: skip
    return Scene(message, 1 if first is None else 2, carrier, key, live, dead)


async def _state(db: Database, scene: Scene) -> tuple[str, str | None]:
    state, receipt_stat, _ = await _row(db, scene)
    return state, receipt_stat


async def _row(db: Database, scene: Scene) -> tuple[str, str | None, str]:
    """The walked part's state, receipt_stat, and xmin (a new one: the row was updated)."""
    row = await db.fetchrow(
        "SELECT state::text, receipt_stat, xmin::text FROM message_parts WHERE message_id = $1 AND seq = $2",
        scene.message_id, scene.seq,
    )  # fmt: skip
    assert row is not None
    return row[0], row[1], row[2]


def _claimed(scene: Scene, seq: int | None = None) -> ClaimedPart:
    return ClaimedPart(
        message_id=scene.message_id, seq=seq or scene.seq, total=1, body="x", route=f"r{scene.message_id}",
        attempts=1, owner=scene.live, destination="+60123456789", sender_id=None, sender_ton=None,
        sender_npi=None, concat_ref=None, campaign_body="x", previous_carrier=None,
    )  # fmt: skip


def _receipt(scene: Scene, status: dlr.Status, *, accepted: bool = False) -> ReceiptRow:
    return ReceiptRow(
        carrier=scene.carrier, id_key=scene.key, status=status, stat="ACCEPTD" if accepted else "X",
        error_code=None, receipt={}, raw=b"", accepted=accepted,
    )  # fmt: skip


_STATUS_OF_TARGET = {PartState.DELIVERED: dlr.Status.SENT, PartState.FAILED: dlr.Status.FAILED}


async def _flush(db: Database, results: list[Result], receipts: list[ReceiptRow]) -> None:
    await apply_flush(db, results, receipts, [], webhooks=False, default_url=None)


def _result(scene: Scene, resolution: Resolution, **kw: object) -> Result:
    return Result(part=_claimed(scene), resolution=resolution, carrier=scene.carrier, **kw)  # type: ignore[arg-type]


async def _recover(db: Database, scene: Scene, target: str, expected: str, candidates: list[asyncpg.Record]) -> None:
    mine = [r for r in candidates if (r["message_id"], r["seq"]) == (scene.message_id, scene.seq)]
    if mine:
        await db.execute(sweeper._RECOVER, [scene.message_id], [scene.seq], [target], [0.0], expected)


# How each event is performed: the statements the code runs for it (the scene
# makes every other guard true). ``target`` picks among the event's outcomes.
Driver = Callable[[Database, Scene, str], Awaitable[None]]


async def _claim(db: Database, s: Scene, _t: str) -> None:
    await db.fetch(CLAIM_SQL, s.live, 10, [f"r{s.message_id}"], [])


async def _accept(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [_result(s, Resolution.ACCEPTED, carrier_message_id="A", id_key=s.key)], [])


async def _ride(db: Database, s: Scene, _t: str) -> None:
    part1 = Result(part=_claimed(s, 1), resolution=Resolution.ACCEPTED, carrier=s.carrier,
                   carrier_message_id="A", id_key=f"P{s.message_id}", riders=True)  # fmt: skip
    await _flush(db, [part1], [])


async def _reject(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [_result(s, Resolution.REJECTED, status=8, reason="submit_error_8")], [])


async def _requeue(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [_result(s, Resolution.RESUBMIT)], [])


async def _unknown(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [_result(s, Resolution.UNKNOWN, delay=60.0)], [])


async def _grace_ended(db: Database, s: Scene, target: str) -> None:
    await _recover(db, s, target, "unknown", await db.fetch(sweeper._GRACE_ENDED, 100_000))


async def _recover_dead(db: Database, s: Scene, target: str) -> None:
    dead = [r[0] for r in await db.fetch(sweeper._DEAD, [s.live])]
    await _recover(db, s, target, "submitting", await db.fetch(sweeper._ORPHANS, dead, 100_000))


async def _late(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [_result(s, Resolution.LATE_ACCEPT, carrier_message_id="L", id_key=s.key)], [])


async def _receipt_final(db: Database, s: Scene, target: str) -> None:
    await _flush(db, [], [_receipt(s, _STATUS_OF_TARGET[PartState(target)])])


async def _receipt_not_final(db: Database, s: Scene, _t: str) -> None:
    await _flush(db, [], [_receipt(s, dlr.Status.PENDING, accepted=True)])


async def _query_answer(db: Database, s: Scene, target: str) -> None:
    rows = await db.fetch(query._CANDIDATES, s.carrier, 0.0, None, None, None, [s.live], 100)
    if any(r["message_id"] == s.message_id for r in rows):
        await _receipt_final(db, s, target)


async def _adopt(db: Database, s: Scene, _t: str) -> None:
    await db.fetch(unknown._ADOPT, [s.message_id], [s.seq], [s.carrier], [s.key])


async def _receipt_timeout(db: Database, s: Scene, target: str) -> None:
    await db.fetch(sweeper._TIMEOUTS, [s.carrier], [60.0], [target], 1000, 60.0)


async def _accepted_timeout(db: Database, s: Scene, target: str) -> None:
    await db.fetch(sweeper._ACCEPTED_TIMEOUTS, [s.carrier], [60.0], [target], 1000, 60.0)


async def _cancel(db: Database, s: Scene, _t: str) -> None:
    async with db.transaction() as tx:
        await finalize_messages(tx, [s.message_id], webhooks=False)


DRIVERS: dict[PartEvent, Driver] = {
    PartEvent.CLAIM: _claim, PartEvent.ACCEPT: _accept, PartEvent.RIDE: _ride, PartEvent.REJECT: _reject,
    PartEvent.REQUEUE: _requeue, PartEvent.UNKNOWN_OUTCOME: _unknown, PartEvent.GRACE_ENDED: _grace_ended,
    PartEvent.RECOVER: _recover_dead, PartEvent.LATE_RESPONSE: _late, PartEvent.RECEIPT: _receipt_final,
    PartEvent.RECEIPT_NOT_FINAL: _receipt_not_final, PartEvent.QUERY_ANSWER: _query_answer,
    PartEvent.ADOPT: _adopt, PartEvent.RECEIPT_TIMEOUT: _receipt_timeout,
    PartEvent.ACCEPTED_TIMEOUT: _accepted_timeout, PartEvent.CANCEL: _cancel,
}  # fmt: skip

# Columns a guard needs besides the state (the scene's defaults satisfy the others).
SETUP: dict[PartEvent, dict[str, object]] = {
    PartEvent.RIDE: {"first": "submitting"},
    PartEvent.RECOVER: {"owner": "dead"},
    PartEvent.LATE_RESPONSE: {"receipt_stat": "unknown_outcome", "carrier_message_id": None},
    PartEvent.QUERY_ANSWER: {"carrier_message_id": "Q"},
    PartEvent.ACCEPTED_TIMEOUT: {"accepted_at": "-3 days"},
    PartEvent.CANCEL: {"first": "failed"},
}


async def _setup(db: Database, event: PartEvent, state: str, message_state: str = "queued") -> Scene:
    setup = dict(SETUP.get(event, {}))
    first = setup.pop("first", None)
    owner = setup.pop("owner", None)
    scene = await _scene(db, state, message_state=message_state, first=first, **setup)  # type: ignore[arg-type]
    if owner == "dead":
        await db.execute("UPDATE message_parts SET owner_instance = $2 WHERE message_id = $1",
                         scene.message_id, scene.dead)  # fmt: skip
    return scene


def test_every_event_has_a_driver() -> None:
    assert set(DRIVERS) == set(PartEvent) == set(PART_LIFECYCLE)


@pytest.mark.parametrize("event", list(PartEvent))
async def test_part_event_moves_exactly_as_the_table_says(db: Database, event: PartEvent) -> None:
    rule = PART_LIFECYCLE[event]
    outcomes = sorted(set().union(*rule.moves.values()))
    seen: list[str] = []
    for state in PartState:
        for target in outcomes:
            scene = await _setup(db, event, state)
            _, _, before = await _row(db, scene)
            await DRIVERS[event](db, scene, target)
            got, _, after = await _row(db, scene)
            moves = part_moves(state, event)
            if moves:
                # The driver asks for ``target``; an event with one outcome per state ignores it.
                want = target if target in moves else next(iter(moves)) if len(moves) == 1 else None
                if want is None:
                    continue  # this outcome is not one of this state's
                assert got == want, f"{event}: {state} -> {got}, the table says {want}"
                assert after != before, f"{event}: the move {state} -> {want} did not update the part"
                seen.append(f"{state}->{got}")
            else:
                # Left as it is: not even rewritten (a move to the same state is a move).
                assert (got, after) == (state, before), f"{event} touched a part in {state}: not in the table"
    assert seen, f"{event}: no move happened"


@pytest.mark.parametrize(
    ("event", "target"),
    [(e, t) for e, r in PART_LIFECYCLE.items() for m in r.moves.values() for t in m if t in CANCELLED_ON_RETURN.into],
)
async def test_a_return_of_a_failed_messages_part_is_a_cancel(db: Database, event: PartEvent, target: str) -> None:
    [source] = [s for s, m in PART_LIFECYCLE[event].moves.items() if target in m]
    scene = await _setup(db, event, source, message_state="failed")
    await DRIVERS[event](db, scene, target)
    assert await _state(db, scene) == (CANCELLED_ON_RETURN.becomes, "cancelled")


async def test_final_states_are_final(db: Database) -> None:
    for final in FINAL_PART_STATES:
        scene = await _scene(db, final)
        await db.execute("UPDATE message_parts SET state = $2 WHERE message_id = $1", scene.message_id, final)
        for other in set(PartState) - {final}:
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="is final"):
                await db.execute("UPDATE message_parts SET state = $2 WHERE message_id = $1", scene.message_id, other)
    for final in FINAL_MESSAGE_STATES:
        scene = await _scene(db, "failed", message_state=final)
        for other in set(MessageState) - {final}:
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="is final"):
                await db.execute("UPDATE messages SET state = $2 WHERE id = $1", scene.message_id, other)


async def test_retired_message_states_are_refused(db: Database) -> None:
    scene = await _scene(db, "queued")
    for retired in sorted(RETIRED_MESSAGE_STATES):
        assert retired not in set(MessageState)
        with pytest.raises(asyncpg.CheckViolationError, match="messages_state_not_retired"):
            await db.execute("UPDATE messages SET state = $2 WHERE id = $1", scene.message_id, retired)


@pytest.mark.parametrize("parts", ["delivered", "failed"])
async def test_finalize_moves_messages_as_the_table_says(db: Database, parts: str) -> None:
    rule = MESSAGE_LIFECYCLE[MessageEvent.FINALIZE]
    for state in MessageState:
        scene = await _scene(db, parts, message_state=state)
        async with db.transaction() as tx:
            await finalize_messages(tx, [scene.message_id], webhooks=False)
        got = await db.fetchval("SELECT state::text FROM messages WHERE id = $1", scene.message_id)
        assert got == (parts if parts in rule.moves.get(state, frozenset()) else state)
