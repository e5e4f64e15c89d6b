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
from dataclasses import dataclass, field
from typing import Literal

from bridge.simulator.config import DestinationRule, Outcome, SimulatorConfig, Stat
from bridge.smpp.constants import EsmClass, MessageState, Tag
from bridge.smpp.pdus import DeliverSm, SubmitSm

#: Appendix B stat word -> section 5.2.28 message_state (the 0x0427 TLV value).
STATE_OF_STAT: dict[str, MessageState] = {
    "ENROUTE": MessageState.ENROUTE,  # intermediate notifications only
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
_INTERMEDIATE_ESM_CLASS = int(EsmClass.INTERMEDIATE_DELIVERY_NOTIFICATION)
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_MESSAGE_PAYLOAD = int(Tag.MESSAGE_PAYLOAD)
_MAX_SHORT_MESSAGE = 254  # SMPP 3.4 section 5.2.22: sm_length 0-254
_MAX_TLV_ID = 64  # section 5.3.2.12: receipted_message_id, a C-octet string of 65
_PREVIEW_CHARS = 20  # Appendix B: "the first 20 characters of the short message"
# Data codings whose octets are characters we can quote as text (section 5.2.19):
# SMSC default (GSM 7-bit in octets, ASCII for the printable range), IA5, Latin-1.
_TEXT_CODINGS = frozenset({0x00, 0x01, 0x03})
_PRINTABLE = bytes(range(0x20, 0x7F))
_UDHI = int(EsmClass.UDHI)  # plain int: IntFlag arithmetic is slow on the hot path


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fate of one submit_sm: its resp status, and the receipt's stat and err."""

    stat: Stat | Literal["ENROUTE"]
    err: int
    submit_status: int = 0
    # Derived once (receipts are built at tens of thousands per second).
    delivered: bool = field(init=False)
    esm_class: int = field(init=False)  # section 5.2.12: 0x04 receipt, 0x20 intermediate
    state: MessageState = field(init=False)
    text_tail: str = field(init=False)  # " stat:DELIVRD err:000 text:"
    dlvrd: str = field(init=False)
    state_tlv: tuple[int, bytes] = field(init=False)
    network_error_tlv: tuple[int, bytes] = field(init=False)

    def __post_init__(self) -> None:
        state = STATE_OF_STAT[self.stat]
        setattr_ = object.__setattr__
        setattr_(self, "delivered", state is MessageState.DELIVERED)
        setattr_(self, "state", state)
        setattr_(self, "text_tail", f" stat:{self.stat} err:{self.err:03d} text:")
        setattr_(self, "dlvrd", "001" if state is MessageState.DELIVERED else "000")
        setattr_(self, "esm_class", (
            _INTERMEDIATE_ESM_CLASS if state is MessageState.ENROUTE else _RECEIPT_ESM_CLASS
        ))
        setattr_(self, "state_tlv", (int(Tag.MESSAGE_STATE), bytes((state,))))
        # section 5.3.2.31: network type (1 octet), error code (2 octets)
        setattr_(self, "network_error_tlv", (
            int(Tag.NETWORK_ERROR_CODE), bytes((NETWORK_TYPE_GSM,)) + self.err.to_bytes(2, "big")
        ))


#: The intermediate delivery notification (section 5.2.12 message type 0x20,
#: registered_delivery bit 0x10 of section 5.2.17): the message is on its way.
ENROUTE = Verdict("ENROUTE", 0)


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
    if submit.esm_class & _UDHI and body:
        body = body[1 + body[0]:]  # skip the user data header (TS 23.040 9.2.3.24)
    head = body[:_PREVIEW_CHARS]
    if submit.data_coding not in _TEXT_CODINGS or head.translate(None, _PRINTABLE):
        return ""  # something outside printable ASCII: quote nothing rather than garble
    return head.decode("ascii")


def receipt_text(message_id: str, verdict: Verdict, submit_date: str, done_date: str,
                 text: str) -> str:
    """The Appendix B receipt text, one part per receipt (sub 001, dlvrd 001 or 000)."""
    return (
        f"id:{message_id} sub:001 dlvrd:{verdict.dlvrd} submit date:{submit_date} "
        f"done date:{done_date}{verdict.text_tail}{text}"
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
        options = (verdict.state_tlv, verdict.network_error_tlv)
        if len(message_id) <= _MAX_TLV_ID:  # longer ids (hex70, hex255) go in the text only
            options = ((_RECEIPTED_MESSAGE_ID, message_id.encode("latin-1") + b"\0"), *options)
    body = text.encode("latin-1")  # ids of the latin1 format: one octet per character
    if len(body) > _MAX_SHORT_MESSAGE:  # a hex255 id: the text goes in message_payload
        options += ((_MESSAGE_PAYLOAD, body),)
        body = b""
    # Positional, in pdus.py field order (see its docstring: keyword matching costs
    # about 1 us per PDU); test_receipts checks this against a keyword-built one.
    return DeliverSm(
        0, 0, "",  # sequence_number (set by the Connection), command_status, service_type
        submit.dest_addr_ton, submit.dest_addr_npi, submit.destination_addr,
        submit.source_addr_ton, submit.source_addr_npi, submit.source_addr,
        verdict.esm_class, 0, 0, "", "", 0, 0, 0, 0,
        body,
        options,
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
