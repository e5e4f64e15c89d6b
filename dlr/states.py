"""Receipt states (SMPP 3.4 section 5.2.28) and the public status they map to.

The public status contract (ProSignals API v1) is ``pending -> sent | failed``
and billing follows it: ``sent`` is charged, ``failed`` is refunded. This module
is the one place that decides which receipt state means which.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType


class MessageState(IntEnum):
    """SMPP 3.4 section 5.2.28 message_state values (also the 0x0427 TLV)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class Status(StrEnum):
    """The public status of a part or a message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# SMPP 3.4 Appendix B, table B-2: the 7-letter ``stat:`` words of the text
# receipt. Carriers also send the full state names of section 5.2.28 (and a
# few send UNDELIVERED); those are accepted too. Lookups are case-insensitive
# (``parse`` tries the word as sent, then upper-cased). Anything else is
# MessageState.UNKNOWN with the raw word kept in ``Receipt.stat``.
STAT_WORDS: Mapping[str, MessageState] = MappingProxyType(
    {
        "ENROUTE": MessageState.ENROUTE,
        "DELIVRD": MessageState.DELIVERED,
        "EXPIRED": MessageState.EXPIRED,
        "DELETED": MessageState.DELETED,
        "UNDELIV": MessageState.UNDELIVERABLE,
        "ACCEPTD": MessageState.ACCEPTED,
        "UNKNOWN": MessageState.UNKNOWN,
        "REJECTD": MessageState.REJECTED,
        # Full names (section 5.2.28) and a common variant.
        "DELIVERED": MessageState.DELIVERED,
        "UNDELIVERABLE": MessageState.UNDELIVERABLE,
        "UNDELIVERED": MessageState.UNDELIVERABLE,
        "ACCEPTED": MessageState.ACCEPTED,
        "REJECTED": MessageState.REJECTED,
    }
)

# The word each state is written as (Appendix B), e.g. by our simulator.
STAT_WORD_OF: Mapping[MessageState, str] = MappingProxyType(
    {
        MessageState.ENROUTE: "ENROUTE",
        MessageState.DELIVERED: "DELIVRD",
        MessageState.EXPIRED: "EXPIRED",
        MessageState.DELETED: "DELETED",
        MessageState.UNDELIVERABLE: "UNDELIV",
        MessageState.ACCEPTED: "ACCEPTD",
        MessageState.UNKNOWN: "UNKNOWN",
        MessageState.REJECTED: "REJECTD",
    }
)

# The default mapping. ENROUTE is not final (section 5.2.28), so pending.
# ACCEPTED is final in section 5.2.28 ("message is in accepted state, i.e. has
# been manually read on behalf of the subscriber by customer service"), but
# many SMSCs send ACCEPTD as "accepted for delivery" and a DELIVRD later, so
# by default it is pending; a carrier that uses it as a final success sets
# ``status_overrides = { ACCEPTED = "sent" }``. UNKNOWN is failed: we never
# charge for a message the network could not vouch for.
DEFAULT_STATUS: Mapping[MessageState, Status] = MappingProxyType(
    {
        MessageState.ENROUTE: Status.PENDING,
        MessageState.DELIVERED: Status.SENT,
        MessageState.EXPIRED: Status.FAILED,
        MessageState.DELETED: Status.FAILED,
        MessageState.UNDELIVERABLE: Status.FAILED,
        MessageState.ACCEPTED: Status.PENDING,
        MessageState.UNKNOWN: Status.FAILED,
        MessageState.REJECTED: Status.FAILED,
    }
)

_DEFAULT = dict(DEFAULT_STATUS)  # a plain dict for the hot path


class StatusTable:
    """A complete state -> status table: the defaults with a carrier's overrides.

    Build it once per carrier when the configuration is loaded (house rule 7:
    validate at the edge) and pass it to ``status_for`` on the hot path.
    """

    __slots__ = ("_table",)

    def __init__(self, overrides: Mapping[MessageState | str, Status | str] | None = None) -> None:
        table = dict(DEFAULT_STATUS)
        for key, value in (overrides or {}).items():
            table[_state_of(key)] = _status_of(value)
        self._table: dict[MessageState, Status] = table  # never handed out

    def __getitem__(self, state: MessageState) -> Status:
        return self._table[state]

    def as_dict(self) -> dict[MessageState, Status]:
        return dict(self._table)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StatusTable) and dict(self._table) == dict(other._table)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._table.items())))

    def __repr__(self) -> str:
        changed = {s.name: v.value for s, v in self._table.items() if DEFAULT_STATUS[s] != v}
        return f"StatusTable({changed!r})"


def _state_of(key: MessageState | str) -> MessageState:
    # Keys are MessageState members or their section 5.2.28 names, as in the
    # carrier configuration (``status_overrides = { ACCEPTED = "sent" }``).
    if isinstance(key, MessageState):
        return key
    if isinstance(key, str):
        try:
            return MessageState[key.strip().upper()]
        except KeyError:
            pass
    known = ", ".join(s.name for s in MessageState)
    raise ValueError(f"unknown message state {key!r} in status overrides (known: {known})")


def _status_of(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {value!r} in status overrides (known: {known})") from None


def status_for(
    state: MessageState,
    overrides: StatusTable | Mapping[MessageState | str, Status | str] | None = None,
) -> Status:
    """The public status a receipt state means, with a carrier's overrides.

    ``overrides`` is best a prebuilt ``StatusTable``; a plain mapping (state or
    state name -> status) is validated on every call, raising ``ValueError``
    for an unknown state or status.
    """
    if overrides is None:
        return _DEFAULT[state]
    if type(overrides) is StatusTable:
        return overrides._table[state]
    if isinstance(overrides, StatusTable):
        return overrides[state]
    return StatusTable(overrides)[state]
