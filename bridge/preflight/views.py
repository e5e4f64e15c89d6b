"""The JSON shapes of seed 004, field for field, in the seed's order (msgspec Structs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = [
    "RESULT_COLUMNS",
    "SESSION_COLUMNS",
    "ResultView",
    "SessionView",
    "iso",
    "result_view",
    "session_view",
    "to_json",
]

SESSION_COLUMNS = (
    "s.id, s.account_id, s.mode, s.test_code, s.status, s.sender_id, s.expected_body, s.client_ref,"
    " s.webhook_url, s.expires_at, s.created_at"
)
RESULT_COLUMNS = (
    "r.session_id, r.network, r.network_name, r.digits, r.status, r.verdict, r.latency_ms,"
    " r.sender_received, r.body_received, r.body_matched, r.received_at, r.ambiguous"
)


def iso(moment: datetime | None) -> str | None:
    """``2026-04-29T12:05:00Z`` as in the seed (UTC, whole seconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultView(msgspec.Struct, frozen=True, kw_only=True):
    network: str
    network_name: str
    phone_number: str
    status: str
    verdict: str | None
    latency_ms: int | None
    sender_received: str | None
    body_received: str | None
    body_matched: bool | None
    received_at: str | None
    # Not in the seed: true when overlapping sessions could not be told apart
    # and this MO went to the oldest of them (docs/preflight.md "Matching").
    ambiguous: bool = False


class SessionView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    test_code: str
    status: str
    sender_id: str
    expected_body: str | None
    client_ref: str | None
    webhook_url: str | None
    expires_at: str | None
    created_at: str | None
    results: list[ResultView]
    # "self_test" for the bridge's own probes; omitted for the seed's external sessions.
    mode: str = "external"
    # The 201 answer only: what cannot work as asked (verdicts.sender_warnings).
    warnings: list[str] = msgspec.field(default_factory=list)


def result_view(row: Any) -> ResultView:
    return ResultView(
        network=row["network"], network_name=row["network_name"], phone_number="+" + row["digits"],
        status=row["status"], verdict=row["verdict"], latency_ms=row["latency_ms"],
        sender_received=row["sender_received"], body_received=row["body_received"],
        body_matched=row["body_matched"], received_at=iso(row["received_at"]), ambiguous=row["ambiguous"],
    )  # fmt: skip


def session_view(row: Any, results: Iterable[Any], warnings: Sequence[str] = ()) -> SessionView:
    return SessionView(
        id=str(row["id"]), test_code=row["test_code"], status=row["status"], sender_id=row["sender_id"],
        expected_body=row["expected_body"], client_ref=row["client_ref"], webhook_url=row["webhook_url"],
        expires_at=iso(row["expires_at"]), created_at=iso(row["created_at"]), mode=row["mode"],
        results=[result_view(r) for r in results], warnings=list(warnings),
    )  # fmt: skip


_encoder = msgspec.json.Encoder()


def to_json(value: Any) -> bytes:
    return _encoder.encode(value)
