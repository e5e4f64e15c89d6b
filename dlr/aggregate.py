"""One status for a message from the statuses of its parts.

A message of k segments is k parts, each with its own submit_sm, message id
and receipt. The customer sees one status and pays for the parts sent
(docs/design.md "Message lifecycle"):

* sent when every part is sent (charged);
* failed as soon as any part failed (refunded: the handset cannot show a
  message with a hole in it);
* pending otherwise.

Parts whose final receipt never comes are the daemon's: a sweeper marks a
part that has had no final receipt ``receipt_timeout`` after its submit_sm_resp
as failed (refunded), or as sent when the carrier is configured with
``on_receipt_timeout = "sent"``. This function then aggregates as usual.

The daemon aggregates in SQL (``finalize_messages``,
bridge/store/sql/functions/finalize_messages.sql); tests/store/test_aggregation.py
checks on a real database, with generated part states, that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from dlr.states import Status


def message_status(part_statuses: Iterable[Status]) -> Status:
    """sent if every part is sent, failed if any part failed, else pending.

    A message has at least one part; an empty input raises ``ValueError``
    rather than calling nothing "sent" (which would charge for it).
    """
    seen = False
    pending = False
    for value in part_statuses:
        seen = True
        status = Status(value)  # a stray string is a bug upstream: ValueError
        if status is Status.FAILED:
            return Status.FAILED
        if status is not Status.SENT:
            pending = True
    if not seen:
        raise ValueError("a message has at least one part")
    return Status.PENDING if pending else Status.SENT
