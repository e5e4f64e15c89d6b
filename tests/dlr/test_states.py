"""State -> status mapping, overrides, and multipart aggregation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dlr
from dlr import (
    DEFAULT_STATUS,
    STAT_WORD_OF,
    STAT_WORDS,
    MessageState,
    Status,
    StatusTable,
    message_status,
    state_of_word,
    status_for,
)

S = MessageState

# The issue's table, written out independently of dlr.states.
ISSUE_TABLE = {
    S.DELIVERED: "sent",
    S.UNDELIVERABLE: "failed",
    S.REJECTED: "failed",
    S.EXPIRED: "failed",
    S.DELETED: "failed",
    S.UNKNOWN: "failed",
    S.ENROUTE: "pending",
    S.ACCEPTED: "pending",
}


def test_message_state_values_are_smpp_3_4_section_5_2_28() -> None:
    assert {s.name: int(s) for s in S} == {
        "ENROUTE": 1, "DELIVERED": 2, "EXPIRED": 3, "DELETED": 4,
        "UNDELIVERABLE": 5, "ACCEPTED": 6, "UNKNOWN": 7, "REJECTED": 8,
    }


def test_status_values() -> None:
    assert [s.value for s in Status] == ["pending", "sent", "failed"]


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.name)
def test_default_mapping(state: MessageState) -> None:
    assert status_for(state) == ISSUE_TABLE[state]
    assert status_for(state) is DEFAULT_STATUS[state]


@pytest.mark.parametrize(
    ("word", "state"),
    [("DELIVRD", S.DELIVERED), ("EXPIRED", S.EXPIRED), ("DELETED", S.DELETED),
     ("UNDELIV", S.UNDELIVERABLE), ("ACCEPTD", S.ACCEPTED), ("UNKNOWN", S.UNKNOWN),
     ("REJECTD", S.REJECTED), ("ENROUTE", S.ENROUTE), ("delivrd", S.DELIVERED),
     ("Undeliv", S.UNDELIVERABLE), ("DELIVERED", S.DELIVERED), ("UNDELIVERABLE", S.UNDELIVERABLE)],
)
def test_appendix_b_stat_words(word: str, state: MessageState) -> None:
    assert state_of_word(word) is state


@pytest.mark.parametrize("word", ["FAILED", "SENT", "", "DELIVR", "2"])
def test_unrecognised_stat_words(word: str) -> None:
    assert state_of_word(word) is None


def test_every_state_has_a_word_that_reads_back() -> None:
    assert set(STAT_WORD_OF) == set(S)
    for state, word in STAT_WORD_OF.items():
        assert STAT_WORDS[word] is state
        assert len(word) == 7  # Appendix B table B-2: 7-letter words


@pytest.mark.parametrize(
    "overrides",
    [{S.ACCEPTED: Status.SENT}, {"ACCEPTED": "sent"}, {"accepted": "sent"}, {S.ACCEPTED: "sent"}],
)
def test_override_by_enum_or_name(overrides: dict[MessageState | str, Status | str]) -> None:
    assert status_for(S.ACCEPTED, overrides) is Status.SENT
    table = StatusTable(overrides)
    assert status_for(S.ACCEPTED, table) is Status.SENT
    # Only the overridden state changes.
    for state in S:
        if state is not S.ACCEPTED:
            assert status_for(state, table) is DEFAULT_STATUS[state]


@given(st.dictionaries(st.sampled_from(S), st.sampled_from(Status)))
def test_any_overrides_apply_exactly(overrides: dict[MessageState, Status]) -> None:
    table = StatusTable(overrides)  # type: ignore[arg-type]
    for state in S:
        want = overrides.get(state, DEFAULT_STATUS[state])
        assert status_for(state, table) is want
        assert status_for(state, overrides) is want  # type: ignore[arg-type]
    # Defaults are never modified by a carrier's table.
    assert {s: status_for(s) for s in S} == {s: Status(v) for s, v in ISSUE_TABLE.items()}


def test_every_mapping_is_overridable() -> None:
    flipped = {s: (Status.FAILED if DEFAULT_STATUS[s] is Status.SENT else Status.SENT) for s in S}
    table = StatusTable(flipped)  # type: ignore[arg-type]
    assert all(status_for(s, table) is flipped[s] for s in S)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [({"DELIVRD": "sent"}, "unknown message state"), ({"ACCEPTED": "charged"}, "unknown status"),
     ({3.5: "sent"}, "unknown message state")],
)
def test_bad_overrides_are_refused(overrides: dict[object, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        StatusTable(overrides)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=fragment):
        status_for(S.ACCEPTED, overrides)  # type: ignore[arg-type]


def test_status_table_value_semantics() -> None:
    assert StatusTable({"ACCEPTED": "sent"}) == StatusTable({S.ACCEPTED: Status.SENT})
    assert StatusTable() != StatusTable({"ACCEPTED": "sent"})
    assert hash(StatusTable()) == hash(StatusTable({}))
    assert "ACCEPTED" in repr(StatusTable({"ACCEPTED": "sent"}))


def _aggregate_by_definition(parts: list[Status]) -> Status:
    if any(p == "failed" for p in parts):
        return Status.FAILED
    if all(p == "sent" for p in parts):
        return Status.SENT
    return Status.PENDING


@given(st.lists(st.sampled_from(Status), min_size=1, max_size=12))
def test_message_status_by_definition(parts: list[Status]) -> None:
    assert message_status(parts) is _aggregate_by_definition(parts)
    assert message_status(list(reversed(parts))) is message_status(parts)
    assert message_status(tuple(parts)) is message_status(parts)


@pytest.mark.parametrize(
    ("parts", "want"),
    [(["sent"], "sent"), (["sent", "sent", "sent"], "sent"), (["sent", "pending"], "pending"),
     (["pending", "failed", "sent"], "failed"), (["failed"], "failed"), (["pending"], "pending")],
)
def test_message_status_examples(parts: list[str], want: str) -> None:
    assert message_status([Status(p) for p in parts]) == want


def test_message_status_refuses_no_parts_and_bad_values() -> None:
    with pytest.raises(ValueError):
        message_status([])
    with pytest.raises(ValueError):
        message_status([Status.SENT, "delivered"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b"id:1 stat:DELIVRD err:000 Text:Your code 482913", b"id:1 stat:DELIVRD err:000 Text:"),
        (b"id:1 stat:DELIVRD err:000 text:", b"id:1 stat:DELIVRD err:000 text:"),
        (b"id:1 stat:DELIVRD err:000", b"id:1 stat:DELIVRD err:000"),
        (b"id:1 text:a text:b stat:X", b"id:1 text:"),  # the first text: key ends the fields
        ("id:1 stat:DELIVRD text:4829".encode("utf-16-be"), None),  # cannot be cut: nothing kept
        ("id:1 stat:DELIVRD".encode("utf-16-be"), "id:1 stat:DELIVRD".encode("utf-16-be")),
    ],
)
def test_redact_text_cuts_the_free_text(raw: bytes, kept: bytes | None) -> None:
    assert dlr.redact_text(raw) == kept
