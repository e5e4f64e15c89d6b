"""The intake statement's arguments (bridge/store/intake.py): per message only what differs."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from bridge.store.accounts import create_account
from bridge.store.db import Database
from bridge.store.enqueue import NOTIFY_CHANNEL, enqueue_many, prepare
from bridge.store.intake import runs, store_arguments
from bridge.store.queries import _GET_MESSAGE, _GET_MESSAGES, get_message, get_messages
from bridge.store.routing import RouteTable
from tests.store.test_enqueue import CONFIG, MY, MY2, req


@given(st.lists(st.integers(min_value=1, max_value=4), max_size=300))
def test_runs_give_back_the_values(values: list[int]) -> None:
    heads, starts = runs(values)
    assert len(heads) == len(starts)
    assert all(a != b for a, b in pairwise(heads))  # runs are maximal
    ends = [*starts[1:], len(values) + 1] if starts else []
    assert [v for v, a, b in zip(heads, starts, ends, strict=True) for _ in range(a, b)] == values


def test_a_message_costs_the_statement_two_array_elements() -> None:
    # asyncpg checks each element of a list argument in Python: three sends of
    # 100 recipients (one outcome, single-part messages) pass their public ids
    # and destinations per message and nothing else (the campaign of a message,
    # its outcome and its parts come once per send, outcome or segmentation).
    table = RouteTable(CONFIG)
    sends = [
        prepare(CONFIG, table, 1, req([f"+60123{k * 100 + j:06d}" for j in range(100)]), default_sender_id="Acme")
        for k in range(3)
    ]
    items = [p for s in sends for p in s.items]
    arguments = store_arguments(sends, items, {}, NOTIFY_CHANNEL)
    elements = sum(len(a) for a in arguments if isinstance(a, list))
    assert 2 * len(items) <= elements <= 2 * len(items) + 60, elements


async def test_public_ids_compare_as_bytes_and_reads_still_find_them_by_index(db: Database) -> None:
    # Migration 0024: the unique indexes of the public ids use the "C" collation
    # (a memcmp per comparison instead of strcoll); a text parameter takes the
    # column's collation, so the status reads still probe those indexes.
    rows = await db.fetch(
        "SELECT c.relname, coll.collname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_collation coll ON coll.oid = i.indcollation[0]"
        " WHERE c.relname IN ('messages_public_id_key', 'campaigns_public_id_key')"
    )
    assert {r["relname"]: r["collname"] for r in rows} == {
        "messages_public_id_key": "C", "campaigns_public_id_key": "C"
    }  # fmt: skip
    account = await create_account(db, "acme", credits="10")
    (result,) = await enqueue_many(db, CONFIG, account.id, [req([MY, MY2])])
    wanted = [r.id for r in result.recipients]
    async with db.transaction() as tx:
        await tx.execute("SET LOCAL enable_seqscan = off")
        for sql, args in ((_GET_MESSAGE, (wanted[0], None)), (_GET_MESSAGES, (wanted,))):
            plan = "\n".join(r[0] for r in await tx.fetch("EXPLAIN " + sql, *args))
            assert "messages_public_id_key" in plan, plan
    assert (await get_message(db, wanted[1])) is not None
    assert set(await get_messages(db, wanted)) == set(wanted)
