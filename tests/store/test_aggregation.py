"""One aggregation in two languages: ``dlr.message_status`` (Python) and ``finalize_messages``
(SQL) agree on every combination of part states, on a real database."""

from __future__ import annotations

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlr
from bridge.dispatch.finalize import finalize_messages
from bridge.store.db import Connection, open_connection
from bridge.store.lifecycle import PART_STATUS, PartState
from bridge.store.models import STATUS_OF_STATE
from tests.store.pg import _new_name

_MESSAGES = st.lists(st.lists(st.sampled_from(list(PartState)), min_size=1, max_size=6), min_size=1, max_size=30)


# Synchronous, one trio run per example: pytest-trio's database fixtures belong to one run.
# Fewer examples than the profile's, each of up to 30 messages: a trio run and a connection each.
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=_MESSAGES)
def test_sql_and_python_aggregate_part_states_alike(pg_dsn_sync: str, messages: list[list[PartState]]) -> None:
    async def run() -> None:
        async with open_connection(pg_dsn_sync) as conn:
            await _check(conn, messages)

    trio.run(run)


async def _check(db: Connection, messages: list[list[PartState]]) -> None:
    account = await db.fetchval("INSERT INTO accounts (name, credits) VALUES ($1, 10) RETURNING id", _new_name())
    campaign = await db.fetchval(
        "INSERT INTO campaigns (public_id, account_id, type, body) VALUES ($1, $2, 'otp', 'x') RETURNING id",
        _new_name(), account,
    )  # fmt: skip
    names = [_new_name() for _ in messages]
    inserted = await db.fetch(
        "INSERT INTO messages (public_id, campaign_id, account_id, destination, state, segments)"
        " SELECT p, $2, $3, '+60123456789', 'queued', n FROM unnest($1::text[], $4::int[]) AS u(p, n)"
        " RETURNING public_id, id",
        names, campaign, account, [len(parts) for parts in messages],
    )  # fmt: skip
    id_of = dict(inserted)
    ids = [id_of[name] for name in names]
    rows = [(mid, seq, len(parts), state.value) for mid, parts in zip(ids, messages, strict=True)
            for seq, state in enumerate(parts, 1)]  # fmt: skip
    await db.execute(
        "INSERT INTO message_parts (message_id, seq, total, body, state)"
        " SELECT m, s, t, 'x', st::part_state FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[])"
        " AS u(m, s, t, st)",
        *[list(column) for column in zip(*rows, strict=True)],
    )  # fmt: skip
    async with db.transaction() as tx:
        await finalize_messages(tx, ids, webhooks=False)
    states = dict(await db.fetch("SELECT id, state::text FROM messages WHERE id = ANY($1::bigint[])", ids))
    for mid, parts in zip(ids, messages, strict=True):
        python = dlr.message_status([dlr.Status(PART_STATUS[state]) for state in parts])
        assert STATUS_OF_STATE[states[mid]].value == python.value, (parts, states[mid])
