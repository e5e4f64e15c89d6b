"""Verdicts, sender and body comparison, matching rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from bridge.preflight.matching import Candidate, choose
from bridge.preflight.verdicts import (
    Verdict,
    body_matches,
    same_sender,
    sender_warnings,
    verdict_for,
)

T0 = datetime(2026, 4, 29, 12, 0, tzinfo=UTC)


def test_numeric_senders_compare_in_e164() -> None:
    assert verdict_for("+447700900123", "447700900123", 1) is Verdict.CLEAN
    assert verdict_for("00447700900123", "+447700900123", 1) is Verdict.CLEAN
    assert verdict_for("+447700900123", "447700900999", 1) is Verdict.INTERCEPTED


def test_alphanumeric_senders_compare_as_presented() -> None:
    assert verdict_for("MYAPP", "MYAPP", 5) is Verdict.CLEAN
    assert verdict_for("MYAPP", "MyApp", 5) is Verdict.INTERCEPTED
    assert verdict_for("MYAPP", "447700900123", 1) is Verdict.INTERCEPTED
    assert not same_sender("12345", "12345X")


@given(st.from_regex(r"[1-9][0-9]{6,13}", fullmatch=True))
def test_a_number_equals_itself_in_every_international_form(digits: str) -> None:
    for a in (digits, "+" + digits, "00" + digits):
        for b in (digits, "+" + digits):
            assert same_sender(a, b, 1)


def test_body_normalisation() -> None:
    assert body_matches("Hello!", " Hello!\r\n") is True
    assert body_matches("Line1\nLine2", "Line1\r\nLine2") is True
    assert body_matches("Cafe\u0301", "Caf\u00e9") is True  # NFC
    assert body_matches("Hello!", "hello!") is False
    assert body_matches(None, "anything") is None
    assert body_matches("Hello!", None) is False


def test_an_alphanumeric_sender_over_11_characters_is_warned_about() -> None:
    assert sender_warnings("MYAPP") == []
    assert sender_warnings("+447700900123") == []
    assert "cannot arrive intact" in sender_warnings("TWELVECHARSX")[0]


def _c(n: int, *, code: str = "", body: str | None = None, created: timedelta = timedelta()) -> Candidate:
    return Candidate(UUID(int=n), T0 + created, T0 + created + timedelta(minutes=5), code or f"C{n:07d}", body)


def test_matching_by_number_window_code_body_then_oldest() -> None:
    at = T0 + timedelta(seconds=10)
    assert choose([], "x", at) is None
    assert choose([_c(1)], "x", T0 + timedelta(minutes=6)) is None  # outside the window
    only = choose([_c(1)], "x", at)
    assert only is not None and (only.session_id, only.ambiguous, only.rule) == (UUID(int=1), False, "number")
    by_code = choose([_c(1), _c(2, code="AB12CD34")], "your code ab12cd34", at)
    assert by_code is not None and (by_code.session_id, by_code.rule) == (UUID(int=2), "test_code")
    by_body = choose([_c(1, body="one"), _c(2, body="two")], "two", at)
    assert by_body is not None and (by_body.session_id, by_body.rule) == (UUID(int=2), "expected_body")
    tie = choose([_c(2, created=timedelta(seconds=1)), _c(1)], "same", at)
    assert tie is not None and (tie.session_id, tie.ambiguous, tie.rule) == (UUID(int=1), True, "oldest")
    same_body = choose([_c(3, body="x"), _c(4, body="x", created=timedelta(seconds=2))], "x", at)
    assert same_body is not None and (same_body.session_id, same_body.ambiguous) == (UUID(int=3), True)
