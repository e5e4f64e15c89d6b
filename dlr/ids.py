"""Message-id keys: one key per part, whatever form the carrier writes ids in.

The id in submit_sm_resp (SMPP 3.4 section 4.4.2, message_id C-Octet String of
up to 65 octets, i.e. 64 characters) and the id in the receipt for the same
message often differ in form: SMPP 3.3-era SMSCs answer in hexadecimal and
write the receipt id in decimal (``"33E95179"`` vs ``"0870928761"``), others pad
with zeros or change case. Kannel and Jasmin lose receipts on exactly this.

A carrier's configuration names the form of each side
(``response_id_form``, ``receipt_id_form``); ``id_key`` turns each id into the
key the part is stored and looked up under, so both sides meet on one key:

* ``exact``: the id unchanged.
* ``normalized`` (default): surrounding whitespace removed, case-folded,
  leading zeros stripped (an id of zeros only is ``"0"``). UUIDs and other
  alphanumeric ids are just case-folded.
* ``hex``: the id is hexadecimal (any case, leading zeros, optional ``0x``);
  the key is its value in decimal.
* ``decimal``: the id is decimal; the key is its value in decimal.

An id that is not of its configured form raises ``MessageIdError``; nothing
is ever matched across forms by guessing. ``propose_id_forms`` looks at pairs
seen in practice and proposes configurations; a human applies one.

Length and octets. SMPP 3.4 allows 64 characters, but SMSCs exceed it and the
codec accepts C-Octet Strings up to 255 octets: every id up to ``MAX_ID_LENGTH``
(255) has a key. An id is the SMSC's octets read as Latin-1, one character per
octet (octets 0x01-0xFF; a C-Octet String has no NUL inside), so it is stored
losslessly in a ``text`` column and ``id_octets`` gives the octets back.

The daemon never calls ``id_key`` on a response id: it calls ``response_key``,
which returns None instead of raising, for an id that cannot have a key (empty,
or longer than ``MAX_ID_LENGTH``). Such a part keeps the id as returned and no
key: no receipt can match it (docs/dlr.md "Message ids").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from dlr.errors import MessageIdError

# SMPP 3.4 section 4.4.2 / 5.2.23: message_id is a C-Octet String of at most
# 65 octets including the NUL, i.e. 64 characters.
SPEC_ID_LENGTH = 64
# The longest id that has a key: what the codec accepts in a C-Octet String
# (bridge.smpp.codec.Decoder.max_c_octet_string). SMSCs exceed the spec's 64;
# bounding the length still bounds int() below.
MAX_ID_LENGTH = 255

_HEX = re.compile(r"(?:0[xX])?([0-9a-fA-F]+)", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+", re.ASCII)


class IdForm(StrEnum):
    """The form a carrier writes a message id in (config: ``*_id_form``)."""

    EXACT = "exact"
    NORMALIZED = "normalized"
    HEX = "hex"
    DECIMAL = "decimal"


def id_key(message_id: str, form: IdForm | str = IdForm.NORMALIZED) -> str:
    """The key a part is stored and looked up under, for an id of ``form``."""
    if form.__class__ is not IdForm:  # IdForm(member) costs an enum lookup; twice per message
        form = IdForm(form)
    if form is _NORMALIZED:  # the default, first: members as module constants (no class lookup)
        text = message_id.strip()
        if text and len(text) <= MAX_ID_LENGTH:
            return text.casefold().lstrip("0") or "0"
    if form is IdForm.EXACT:
        if not message_id:
            raise MessageIdError(message_id, form, "empty")
        if len(message_id) > MAX_ID_LENGTH:
            raise MessageIdError(message_id, form, f"longer than {MAX_ID_LENGTH} characters")
        return message_id
    text = message_id.strip()
    if not text:
        raise MessageIdError(message_id, form, "empty")
    if len(text) > MAX_ID_LENGTH:
        raise MessageIdError(message_id, form, f"longer than {MAX_ID_LENGTH} characters")
    if form is IdForm.NORMALIZED:
        return text.casefold().lstrip("0") or "0"
    if form is IdForm.HEX:
        match = _HEX.fullmatch(text)
        if match is None:
            raise MessageIdError(message_id, form, "not hexadecimal")
        return str(int(match.group(1), 16))
    if _DECIMAL.fullmatch(text) is None:
        raise MessageIdError(message_id, form, "not decimal")
    return text.lstrip("0") or "0"


_NORMALIZED = IdForm.NORMALIZED


def response_key(message_id: str | None, form: IdForm | str = IdForm.NORMALIZED) -> str | None:
    """The key a part is stored under for the id of its submit_sm_resp; never raises.

    The id of ``form`` gives ``id_key``. An id of another form keeps itself as
    its key (``exact``): a receipt of the configured form can never produce it
    (hex and decimal keys are digits only; under ``normalized`` only an id of
    spaces is not of its form), so it never meets another part's key, and the id
    is not lost. None for an id that cannot have a key (None, empty, longer than
    ``MAX_ID_LENGTH``): the part is stored with no key and no receipt matches it.
    """
    if not message_id or len(message_id) > MAX_ID_LENGTH:
        return None
    try:
        return id_key(message_id, form)
    except MessageIdError:
        return message_id


def id_octets(message_id: str) -> bytes:
    """The octets the SMSC sent for ``message_id`` (decoded as Latin-1 by the codec)."""
    return message_id.encode("latin-1")


# The order proposals are offered in: the default first, then the plainest
# reading, then the cross-base pairs that motivate this module.
_PREFERENCE: tuple[tuple[IdForm, IdForm], ...] = (
    (IdForm.NORMALIZED, IdForm.NORMALIZED),
    (IdForm.EXACT, IdForm.EXACT),
    (IdForm.HEX, IdForm.DECIMAL),
    (IdForm.DECIMAL, IdForm.HEX),
    (IdForm.HEX, IdForm.HEX),
    (IdForm.DECIMAL, IdForm.DECIMAL),
    *(
        (response, receipt)
        for response in IdForm
        for receipt in IdForm
        if response is not receipt
        and {response, receipt} != {IdForm.HEX, IdForm.DECIMAL}
    ),
)


def _key_or_none(message_id: str, form: IdForm) -> str | None:
    try:
        return id_key(message_id, form)
    except MessageIdError:
        return None


def propose_id_forms(pairs: Iterable[tuple[str, str]]) -> list[tuple[IdForm, IdForm]]:
    """Configurations ``(response_id_form, receipt_id_form)`` that match every pair.

    ``pairs`` are ``(submit_sm_resp id, receipt id)`` known to belong to the
    same part (e.g. from a test send). A proposal is only a proposal: several
    can fit a small sample, and none is applied automatically. Returns the
    fitting pairs of forms, most preferred first; empty when nothing fits
    (or no pairs were given).
    """
    observed = list(pairs)
    if not observed:
        return []
    proposals = []
    for response_form, receipt_form in _PREFERENCE:
        for response_id, receipt_id in observed:
            key = _key_or_none(response_id, response_form)
            if key is None or key != _key_or_none(receipt_id, receipt_form):
                break
        else:
            proposals.append((response_form, receipt_form))
    return proposals
