"""Sequence numbers and the submit window, against simple models."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bridge.smpp.constants import CommandId
from bridge.smpp.errors import LocalProtocolError
from bridge.smpp.sequence import MAX_SEQUENCE, SequenceNumbers
from bridge.smpp.state import WINDOWED
from bridge.smpp.window import Window

# --- sequence numbers ---------------------------------------------------------------


def test_sequence_starts_at_one_and_counts() -> None:
    seq = SequenceNumbers()
    assert [seq.allocate(()) for _ in range(3)] == [1, 2, 3]


def test_sequence_wraps_after_0x7fffffff_to_one() -> None:
    seq = SequenceNumbers(MAX_SEQUENCE - 1)
    assert [seq.allocate(()) for _ in range(3)] == [MAX_SEQUENCE - 1, MAX_SEQUENCE, 1]


def test_sequence_skips_outstanding_numbers_across_the_wrap() -> None:
    seq = SequenceNumbers(MAX_SEQUENCE)
    in_use = {MAX_SEQUENCE, 1, 2}
    assert seq.allocate(in_use) == 3
    assert seq.allocate(in_use) == 4


@pytest.mark.parametrize("bad", [0, -1, MAX_SEQUENCE + 1])
def test_sequence_start_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        SequenceNumbers(bad)


class _Everything:
    """A Collection claiming every number is in use (cannot be built for real)."""

    def __len__(self) -> int:
        return MAX_SEQUENCE

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())


def test_sequence_exhausted_is_a_local_error_not_a_hang() -> None:
    with pytest.raises(LocalProtocolError):
        SequenceNumbers().allocate(_Everything())  # type: ignore[arg-type]


@given(
    start=st.integers(MAX_SEQUENCE - 50, MAX_SEQUENCE),
    in_use=st.sets(
        st.one_of(st.integers(1, 60), st.integers(MAX_SEQUENCE - 60, MAX_SEQUENCE)), max_size=80
    ),
    count=st.integers(1, 40),
)
def test_sequence_never_hands_out_an_outstanding_number(
    start: int, in_use: set[int], count: int
) -> None:
    seq = SequenceNumbers(start)
    outstanding = set(in_use)
    previous = None
    for _ in range(count):
        number = seq.allocate(outstanding)
        assert 1 <= number <= MAX_SEQUENCE
        assert number not in outstanding
        if previous is not None:
            # strictly the next free number after the previous one, modulo the wrap
            step = previous % MAX_SEQUENCE + 1
            while step in outstanding:
                step = step % MAX_SEQUENCE + 1
            assert number == step
        outstanding.add(number)
        previous = number


# --- window --------------------------------------------------------------------------


def test_window_counts_only_message_operations() -> None:
    window = Window(2)
    window.open(1, CommandId.SUBMIT_SM, now=0, timeout=10)
    window.open(2, CommandId.DATA_SM, now=0, timeout=10)
    assert window.free == 0
    with pytest.raises(LocalProtocolError):
        window.open(3, CommandId.QUERY_SM, now=0, timeout=10)
    # never blocked by a full window
    for n, cid in enumerate((CommandId.ENQUIRE_LINK, CommandId.UNBIND, CommandId.BIND_TRANSMITTER)):
        window.open(10 + n, cid, now=0, timeout=10)
    assert (len(window), window.used, window.free) == (5, 2, 0)
    assert window.close(1) is not None
    assert window.free == 1
    assert window.close(1) is None  # twice: nothing, and no double release
    assert window.free == 1


@pytest.mark.parametrize("cid", sorted(WINDOWED))
def test_window_full_for_each_windowed_command(cid: int) -> None:
    window = Window(1)
    window.open(1, CommandId.SUBMIT_SM, now=0, timeout=1)
    with pytest.raises(LocalProtocolError):
        window.open(2, cid, now=0, timeout=1)


def test_window_refuses_an_outstanding_sequence_number() -> None:
    window = Window(4)
    window.open(7, CommandId.ENQUIRE_LINK, now=0, timeout=1)
    with pytest.raises(LocalProtocolError):
        window.open(7, CommandId.SUBMIT_SM, now=0, timeout=1)
    assert window.used == 0


def test_window_expiry_is_a_prefix_in_send_order() -> None:
    window = Window(10)
    for n in range(1, 6):
        window.open(n, CommandId.SUBMIT_SM, now=float(n), timeout=10)
    window.close(2)
    assert window.next_deadline() == 11
    assert window.expired(10.9) == []
    assert [p.sequence_number for p in window.expired(13)] == [1, 3]
    assert window.next_deadline() == 14
    assert window.used == 2
    assert [p.sequence_number for p in window.clear()] == [4, 5]
    assert window.next_deadline() is None and window.used == 0


def test_window_deadlines_never_go_backwards() -> None:
    window = Window(10)
    window.open(1, CommandId.SUBMIT_SM, now=100, timeout=10)
    late = window.open(2, CommandId.SUBMIT_SM, now=50, timeout=10)  # a clock that stepped back
    assert late.deadline == 110


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Window(0)


class WindowModel(RuleBasedStateMachine):
    """Random opens, closes and expiries against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        self.window = Window(5)
        self.model: dict[int, tuple[int, float]] = {}
        self.now = 0.0
        self.next_seq = 1

    @rule(cid=st.sampled_from(list(CommandId)), dt=st.floats(0, 3))
    def open(self, cid: CommandId, dt: float) -> None:
        self.now += dt
        used = sum(1 for c, _ in self.model.values() if c in WINDOWED)
        seq = self.next_seq
        self.next_seq += 1
        if cid in WINDOWED and used >= 5:
            with pytest.raises(LocalProtocolError):
                self.window.open(seq, cid, now=self.now, timeout=5)
            return
        self.window.open(seq, cid, now=self.now, timeout=5)
        self.model[seq] = (cid, self.now + 5)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.model)))
        pending = self.window.close(seq)
        assert pending is not None and pending.command_id == self.model.pop(seq)[0]

    @rule(dt=st.floats(0, 6))
    def expire(self, dt: float) -> None:
        self.now += dt
        gone = {p.sequence_number for p in self.window.expired(self.now)}
        assert gone == {s for s, (_, d) in self.model.items() if d <= self.now}
        for s in gone:
            del self.model[s]

    @invariant()
    def agrees(self) -> None:
        assert set(self.window) == set(self.model)
        assert self.window.used == sum(1 for c, _ in self.model.values() if c in WINDOWED)
        assert 0 <= self.window.free <= self.window.size
        deadlines = [d for _, d in self.model.values()]
        assert self.window.next_deadline() == (min(deadlines) if deadlines else None)


TestWindowModel = WindowModel.TestCase


def test_window_remembers_expired_numbers_boundedly() -> None:
    from bridge.smpp.window import EXPIRED_MEMORY

    window = Window(10)
    window.open(1, CommandId.SUBMIT_SM, now=0.0, timeout=1.0)
    window.open(2, CommandId.SUBMIT_SM, now=5.0, timeout=1.0)
    window.close(2)
    assert [p.sequence_number for p in window.expired(10.0)] == [1]
    assert list(window.expired_recently) == [1]  # answered ones are not remembered
    for n in range(2, EXPIRED_MEMORY + 10):
        window.open(n, CommandId.ENQUIRE_LINK, now=20.0, timeout=1.0)
    window.expired(30.0)
    assert len(window.expired_recently) == EXPIRED_MEMORY
    assert 1 not in window.expired_recently and EXPIRED_MEMORY + 9 in window.expired_recently
