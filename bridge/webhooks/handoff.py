"""Outbox rows handed from the daemon's writer to the sender in the same process.

A final message's outbox row is written by the writer's flush (``apply_flush`` ->
``finalize_messages``). When the daemon runs a sender (``[webhooks] run_in_daemon``)
and that sender has room, the flush inserts the rows already leased to it
(``claimed_by`` its id, ``next_attempt_at`` the end of the lease, as a claim would
leave them) and returns them with their endpoint; after the commit the writer hands
them over and the first attempt needs no claim. The claim stays for retries, for
rows of other writers (the sweeper, other daemons without a sender) and for rows
whose lease ran out: a row inserted leased to a sender that stopped or died before
it was handed over or attempted comes due when its lease ends, and any sender
claims it (docs/webhooks.md "Rows handed to the daemon's sender").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Handoff", "WebhookLease"]


@dataclass(frozen=True, slots=True)
class WebhookLease:
    """The lease the rows of one flush are inserted under."""

    sender_id: int
    until: datetime  # next_attempt_at of the rows (the sender's wall clock, as a claim's)
    until_trio: float  # the same end in trio's clock, for the sender's own checks


class _Taker(Protocol):
    sender_id: int

    def offer_lease(self) -> WebhookLease | None: ...

    def take(self, lease: WebhookLease, rows: Sequence[Any]) -> None: ...


class Handoff:
    """The slot the writer and the daemon's sender share; ``sender`` is set while it runs."""

    __slots__ = ("sender",)

    def __init__(self) -> None:
        self.sender: _Taker | None = None

    def lease(self) -> WebhookLease | None:
        """A lease for the next flush's rows, or None (no sender running, or it is full)."""
        sender = self.sender
        return None if sender is None else sender.offer_lease()

    def hand(self, lease: WebhookLease, rows: Sequence[Any]) -> None:
        """After the commit: the rows to the sender that holds their lease. Rows leased to
        a sender that is gone wait in the table until the lease ends."""
        sender = self.sender
        if sender is not None and sender.sender_id == lease.sender_id:
            sender.take(lease, rows)
