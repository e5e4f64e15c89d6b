"""The simulator's message store: what query_sm (SMPP 3.4 section 4.8) is answered from.

Every accepted message is remembered under its message id with the source
address of its submit and its fate (the Verdict drawn at submit time), up to
``message_store`` messages (the oldest are forgotten first, as an SMSC purges
its store). Until its receipt is due the message is ENROUTE; from then on its
final state, whether or not the receipt reached the ESME (``lose_receipts``
drops receipts but keeps the state queryable: an SMSC that restarted and lost
its outgoing queue, not its store).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from bridge.simulator.receipts import Verdict
from bridge.smpp.constants import CommandStatus, MessageState
from bridge.smpp.pdus import QuerySm, QuerySmResp

_QUERY_FAIL = int(CommandStatus.ESME_RQUERYFAIL)


# (source_addr_ton, source_addr_npi, source_addr, verdict, final_at): a plain tuple,
# built once per accepted submit (a dataclass with keywords cost twice as much).
# final_at is on the trio clock: when the receipt is (was) due.
Stored = tuple[int, int, str, Verdict, float]


def absolute_time(seconds: float) -> str:
    """SMPP 3.4 section 7.1.1.1 absolute time in UTC: "YYMMDDhhmmss" + tenths + "00+"."""
    tenths = int((seconds % 1) * 10)
    return time.strftime("%y%m%d%H%M%S", time.gmtime(seconds)) + f"{tenths}00+"


class MessageStore:
    """Bounded: at most ``limit`` messages (0: nothing is kept, every query fails)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._messages: OrderedDict[str, Stored] = OrderedDict()

    def __len__(self) -> int:
        return len(self._messages)

    def get(self, message_id: str) -> Stored | None:
        return self._messages.get(message_id)

    def remember(self, message_id: str, stored: Stored) -> None:
        messages = self._messages
        messages[message_id] = stored
        if len(messages) > self.limit:
            messages.popitem(last=False)

    def answer(self, query: QuerySm, now: float) -> QuerySmResp:
        """Section 4.8.2: the state of the message, or ESME_RQUERYFAIL when the id is not
        known here or the source address is not the one it was submitted with."""
        seq = query.sequence_number
        stored = self._messages.get(query.message_id)
        if stored is None or (query.source_addr_ton, query.source_addr_npi, query.source_addr) != stored[:3]:
            return QuerySmResp(sequence_number=seq, command_status=_QUERY_FAIL)
        verdict, final_at = stored[3], stored[4]
        if now < final_at:
            state, final_date, error = MessageState.ENROUTE, "", 0
        else:
            # The wall-clock time the receipt was due: the same at every answer.
            final_date = absolute_time(time.time() - (now - final_at))
            state, error = verdict.state, min(verdict.err, 255)
        # error_code: 1 octet (section 4.8.2); the Appendix B err goes in when it fits.
        return QuerySmResp(
            sequence_number=seq, message_id=query.message_id, final_date=final_date,
            message_state=int(state), error_code=error,
        )  # fmt: skip
