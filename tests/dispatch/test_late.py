"""Pairing late submit_sm_resp with their committed Unknown outcomes (bridge/dispatch/late.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.carrier import LateResponse
from bridge.dispatch.late import LateResponses
from bridge.dispatch.parts import ClaimedPart


def _part(n: int) -> ClaimedPart:
    return ClaimedPart(n, 1, 1, "Hi", "MY", 1, 7, "+60123000000", "Bridge", 5, 0, None, "Hi", None)


def _ok(ref: str, message_id: str = "abc") -> LateResponse:
    return LateResponse(carrier="sim", ref=ref, status=0, message_id=message_id)


def test_a_response_after_the_commit_finds_its_part() -> None:
    late = LateResponses()
    assert late.outcome_committed("sim", "1:5", _part(1)) is None
    assert late.response(_ok("1:5")) == _part(1)
    assert late.response(_ok("1:5")) is None  # applied once
    assert len(late) == 1  # the second one now waits for an outcome that never comes


def test_a_response_before_the_commit_waits_for_it() -> None:
    late = LateResponses()
    response = _ok("1:5", "xyz")
    assert late.response(response) is None
    assert late.outcome_committed("sim", "1:5", _part(1)) is response
    assert len(late) == 0


def test_refusals_and_answers_without_an_id_apply_nothing_and_are_not_kept() -> None:
    late = LateResponses()
    late.outcome_committed("sim", "1:5", _part(1))
    assert late.response(LateResponse(carrier="sim", ref="1:5", status=0x58, message_id=None)) is None
    assert late.response(LateResponse(carrier="sim", ref="1:6", status=0, message_id="")) is None
    assert len(late) == 0  # the outcome stands; nothing waits
    assert late.outcome_committed("sim", "1:6", _part(2)) is None


def test_keys_are_per_carrier() -> None:
    late = LateResponses()
    late.outcome_committed("other", "1:5", _part(1))
    assert late.response(_ok("1:5")) is None  # carrier "sim": not that part
    assert late.outcome_committed("sim", "1:5", _part(2)) is not None


def test_both_sides_are_bounded_oldest_first() -> None:
    late = LateResponses(outcomes_kept=2, early_kept=2)
    for n in range(3):
        late.outcome_committed("sim", f"1:{n}", _part(n))
        late.response(_ok(f"2:{n}"))
    assert len(late) == 4
    assert late.response(_ok("1:0")) is None  # dropped: the oldest outcome
    assert late.response(_ok("1:2")) == _part(2)
    assert late.outcome_committed("sim", "2:0", _part(9)) is None  # dropped: the oldest response
    assert late.outcome_committed("sim", "2:2", _part(9)) is not None


@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=60))
def test_every_pair_meets_once_whatever_the_order(events: list[tuple[int, bool]]) -> None:
    """Each ref's outcome and response, in any interleaving: paired exactly once if both came."""
    late = LateResponses()
    seen_outcome: set[int] = set()
    seen_response: set[int] = set()
    paired: list[int] = []
    for ref, is_outcome in events:
        if is_outcome:
            if ref in seen_outcome:
                continue  # one outcome per PDU
            seen_outcome.add(ref)
            if late.outcome_committed("sim", str(ref), _part(ref)) is not None:
                paired.append(ref)
        else:
            if ref in seen_response:
                continue  # one response per PDU
            seen_response.add(ref)
            part = late.response(_ok(str(ref)))
            if part is not None:
                assert part.message_id == ref
                paired.append(ref)
    assert sorted(paired) == sorted(seen_outcome & seen_response)
