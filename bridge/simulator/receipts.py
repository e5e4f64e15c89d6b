"""What happens to a submitted message, and the deliver_sm that says so.

A delivery receipt (SMPP 3.4 section 2.11 and Appendix B) is a deliver_sm from the
SMSC with esm_class message type 0x04 (section 5.2.12, "SMSC Delivery Receipt"):

- source_addr / destination_addr swapped with respect to the submit_sm (the
  handset "answers" the sender);
- short_message: the Appendix B text ``id:... sub:001 dlvrd:001 submit date:...
  done date:... stat:DELIVRD err:000 text:...`` where ``text`` is the first 20
  characters of the original message;
- optionally the TLVs of section 5.3.2: receipted_message_id (0x001E),
  message_state (0x0427) and network_error_code (0x0423).

Mobile-originated messages (MO) are deliver_sm with esm_class 0 and the text as
short_message (section 4.6.1).
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from dataclasses import dataclass

from bridge.simulator.config import DestinationRule, Outcome, SimulatorConfig, Stat
from bridge.smpp.constants import EsmClass, MessageState, Tag
from bridge.smpp.pdus import DeliverSm, SubmitSm

#: Appendix B stat word -> section 5.2.28 message_state (the 0x0427 TLV value).
STATE_OF_STAT: dict[str, MessageState] = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
    "DELETED": MessageState.DELETED,
    "UNKNOWN": MessageState.UNKNOWN,
    "ACCEPTD": MessageState.ACCEPTED,
}

#: network_error_code type (section 5.3.2.31): 3 = GSM.
NETWORK_TYPE_GSM = 3

_RECEIPT_ESM_CLASS = int(EsmClass.SMSC_DELIVERY_RECEIPT)
_PREVIEW_CHARS = 20  # Appendix B: "the first 20 characters of the short message"
# Data codings whose octets are characters we can quote as text (section 5.2.19):
# SMSC default (GSM 7-bit in octets, ASCII for the printable range), IA5, Latin-1.
_TEXT_CODINGS = frozenset({0x00, 0x01, 0x03})
_PRINTABLE = frozenset(range(0x20, 0x7F))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fate of one submit_sm: its resp status, and the receipt's stat and err."""

    stat: Stat
    err: int
    submit_status: int = 0

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"

    @property
    def state(self) -> MessageState:
        return STATE_OF_STAT[self.stat]


class OutcomePicker:
    """Draws a Verdict per destination: the first matching destination rule, else the
    weighted outcome mix. Verdicts are built once; picking costs one random draw (none
    when the mix has a single outcome)."""

    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self._rng = rng
        self._rules: tuple[tuple[DestinationRule, Verdict], ...] = tuple(
            (rule, Verdict(rule.stat, rule.err, rule.submit_status))
            for rule in config.destination_rules
        )
        mix = [o for o in config.outcomes if o.weight > 0]
        self._verdicts = [self._verdict(o) for o in mix]
        self._cumulative = list(itertools.accumulate(o.weight for o in mix))
        self._total = self._cumulative[-1]

    @staticmethod
    def _verdict(outcome: Outcome) -> Verdict:
        return Verdict(outcome.stat, outcome.err)

    def pick(self, destination: str) -> Verdict:
        for rule, verdict in self._rules:
            if rule.matches(destination):
                return verdict
        if len(self._verdicts) == 1:
            return self._verdicts[0]
        index = bisect.bisect_right(self._cumulative, self._rng.random() * self._total)
        return self._verdicts[min(index, len(self._verdicts) - 1)]


class ReceiptClock:
    """Appendix B dates (YYMMDDhhmm, SMSC local time), formatted once per minute."""

    __slots__ = ("_minute", "_text")

    def __init__(self) -> None:
        self._minute = -1
        self._text = ""

    def now(self) -> str:
        seconds = time.time()
        minute = int(seconds // 60)
        if minute != self._minute:
            self._minute = minute
            self._text = time.strftime("%y%m%d%H%M", time.localtime(seconds))
        return self._text


def preview(submit: SubmitSm) -> str:
    """Appendix B ``text:``: the first 20 characters of the message when they are plain
    printable ASCII in a text coding; "" otherwise (UCS-2, binary, GSM escapes)."""
    body = submit.short_message
    if not body:
        payload = submit.tlv(Tag.MESSAGE_PAYLOAD)
        body = payload if isinstance(payload, bytes) else b""
    if submit.esm_class & EsmClass.UDHI and body:
        body = body[1 + body[0]:]  # skip the user data header (TS 23.040 9.2.3.24)
    head = body[:_PREVIEW_CHARS]
    if submit.data_coding not in _TEXT_CODINGS or not _PRINTABLE.issuperset(head):
        return ""
    return head.decode("ascii")


def receipt_text(message_id: str, verdict: Verdict, submit_date: str, done_date: str,
                 text: str) -> str:
    """The Appendix B receipt text, one part per receipt (sub = dlvrd = 1 or 0)."""
    dlvrd = "001" if verdict.delivered else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{submit_date} "
        f"done date:{done_date} stat:{verdict.stat} err:{verdict.err:03d} text:{text}"
    )


def build_receipt(
    submit: SubmitSm,
    message_id: str,
    verdict: Verdict,
    *,
    submit_date: str,
    done_date: str,
    tlvs: bool,
) -> DeliverSm:
    """The deliver_sm receipt for ``submit``, addressed back to its source_addr (the
    original one, even when the network showed the handset another sender)."""
    text = receipt_text(message_id, verdict, submit_date, done_date, preview(submit))
    options: tuple[tuple[int, bytes], ...] = ()
    if tlvs:
        options = (
            (Tag.RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\0"),
            (Tag.MESSAGE_STATE, bytes((verdict.state,))),
            (Tag.NETWORK_ERROR_CODE,
             bytes((NETWORK_TYPE_GSM,)) + verdict.err.to_bytes(2, "big")),
        )
    return DeliverSm(
        source_addr_ton=submit.dest_addr_ton,
        source_addr_npi=submit.dest_addr_npi,
        source_addr=submit.destination_addr,
        dest_addr_ton=submit.source_addr_ton,
        dest_addr_npi=submit.source_addr_npi,
        destination_addr=submit.source_addr,
        esm_class=_RECEIPT_ESM_CLASS,
        short_message=text.encode("ascii"),
        tlvs=options,
    )


def build_mo(number: int, *, text: str, source: str, destination: str) -> DeliverSm:
    """An MO deliver_sm (esm_class 0, data_coding 0): ``{n}`` in text is ``number``."""
    body = text.replace("{n}", str(number)).encode("latin-1", "replace")[:254]
    return DeliverSm(
        source_addr_ton=1,  # international (section 5.2.5)
        source_addr_npi=1,  # E.164 (section 5.2.6)
        source_addr=source,
        dest_addr_ton=0,
        dest_addr_npi=0,
        destination_addr=destination,
        short_message=body,
    )
