"""Values from the wire made fit for PostgreSQL columns (no I/O).

A carrier's PDU can carry numbers and text that a column cannot hold; storing
them must never fail a whole batched flush, so they are narrowed here first.
"""

from __future__ import annotations

__all__ = ["int4"]


def int4(value: int | None) -> int | None:
    """A value for an ``integer`` column, or None when it does not fit."""
    return value if value is not None and -(2**31) <= value < 2**31 else None
