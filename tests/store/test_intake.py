"""The intake statement's arguments (bridge/store/intake.py): per message only what differs."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from bridge.store.enqueue import NOTIFY_CHANNEL, prepare
from bridge.store.intake import runs, store_arguments
from bridge.store.routing import RouteTable
from tests.store.test_enqueue import CONFIG, req


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

