"""The text of a receipt: SMPP 3.4 Appendix B, in the shapes SMSCs really send.

Appendix B gives the receipt text as::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E Text: ...

and says the format is SMSC specific. In practice keys come in any case
(``Text:``, ``ID:``), fields go missing or are added, spaces repeat or become
line breaks (``done\\ndate``), dates have 10 or 12 digits, ``err`` is decimal
or hex, ids are decimal, hex, UUIDs or up to 64 characters, and the free text
after ``text:`` may itself contain ``stat:``.

Two parsers give the same answer:

* a fast path: one compiled regex for the canonical single-spaced shape,
  which is what nearly every receipt looks like (and what the 400k/s budget
  is spent on);
* a tolerant path for everything else: it finds the known keys at word
  starts, takes each value as the first word before the next key, and treats
  everything after the first ``text:`` key as the free text. The first
  occurrence of a key wins; unknown ``key:value`` fields are ignored.

Neither raises: a field that is absent or malformed is ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from dlr.states import STAT_WORD_OF, MessageState
from dlr.timestamps import format_receipt_date


class TextFields(NamedTuple):
    """The fields found in a receipt text; None where absent."""

    id: str | None
    sub: int | None
    dlvrd: int | None
    submit_date: str | None
    done_date: str | None
    stat: str | None
    err: str | None
    text: str | None


# The canonical shape (Appendix B with the common 3-digit counts, 10/12-digit
# dates and a lower- or capitalised ``text``). ASCII classes only: ``\d``
# would accept other scripts' digits. Anything that does not match exactly
# goes to the tolerant parser, which gives the same fields for this shape.
_FAST = re.compile(
    r"id:([!-9;-~]+) sub:([0-9]{1,3}) dlvrd:([0-9]{1,3}) "
    r"submit date:([0-9]{10,12}) done date:([0-9]{10,12}) "
    r"stat:([!-9;-~]+) err:([!-9;-~]+)(?: [Tt]ext:(.*))?",
    re.ASCII | re.DOTALL,
)

# A known key at the start of a word, any case, ``submit date`` / ``done date``
# with any run of spaces, line breaks or underscores (or none) in between.
_KEY = r"(?:id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)[ \t]*:"
# The first ``text:`` key ends the fields; all after it is free text.
_TEXT_KEY = re.compile(r"(?<!\S)text[ \t]*:", re.ASCII | re.IGNORECASE)
# A field and its value: the word right after the colon, or, after white
# space, the next word unless that word is itself a key ("sub: dlvrd:001"
# is an empty sub, not a sub of "dlvrd:001").
_FIELD = re.compile(
    r"(?<!\S)(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err)[ \t]*:"
    r"(?:(\S+)|\s+(?!" + _KEY + r")(\S+))?",
    re.ASCII | re.IGNORECASE,
)

_KEY_NAMES = {
    "id": "id",
    "sub": "sub",
    "dlvrd": "dlvrd",
    "submitdate": "submit_date",
    "donedate": "done_date",
    "stat": "stat",
    "err": "err",
    "text": "text",
    # The spellings seen most, so the common odd shapes skip the clean-up.
    "submit date": "submit_date",
    "done date": "done_date",
    "submit_date": "submit_date",
    "done_date": "done_date",
    **{k: v for k, v in (("ID", "id"), ("Id", "id"), ("SUB", "sub"), ("Sub", "sub"),
                          ("DLVRD", "dlvrd"), ("Dlvrd", "dlvrd"), ("STAT", "stat"),
                          ("Stat", "stat"), ("ERR", "err"), ("Err", "err"),
                          ("TEXT", "text"), ("Text", "text"))},
}

_STRIP = "\x00 \t\r\n"


def _count(word: str | None) -> int | None:
    # sub / dlvrd: Appendix B "SSS" / "DDD", decimal. Bounded so int() stays
    # cheap and within CPython's digit limit whatever the input.
    if word is None or len(word) > 9 or not word.isascii() or not word.isdigit():
        return None
    return int(word)


def parse_text(message: str) -> TextFields:
    """The Appendix B fields of a receipt text (already decoded). Never raises."""
    message = message.strip(_STRIP)
    match = _FAST.fullmatch(message)
    if match is not None:
        sid, sub, dlvrd, submit_date, done_date, stat, err, text = match.groups()
        return TextFields(
            sid, int(sub), int(dlvrd), submit_date, done_date, stat, err,
            None if text is None else text.lstrip(),
        )
    return _parse_tolerant(message)


def redact_text(raw: bytes) -> bytes | None:
    """``raw`` (a receipt's octets) without its free text: everything after the first
    ``text:`` key is cut off (Appendix B: the first characters of the message, which
    can be an OTP code). Unchanged when it has no such key; None when it has text
    that cannot be located in the octets read as Latin-1 (a UCS-2 receipt)."""
    message = raw.decode("latin-1")
    key = _TEXT_KEY.search(message)
    if key is not None:
        return raw[: key.end()]
    if parse_text(message).text is None and "\x00t\x00e\x00x\x00t" not in message.lower():
        return raw
    return None


def _key_name(raw: str) -> str:
    name = _KEY_NAMES.get(raw)
    if name is None:  # "Submit  Date", "done\ndate", "DONE_DATE", ...
        name = _KEY_NAMES["".join(raw.split()).replace("_", "").lower()]
    return name


def _parse_tolerant(message: str) -> TextFields:
    text_key = _TEXT_KEY.search(message)
    if text_key is None:
        head, text = message, None
    else:
        # Everything after the first text: is free text, even "stat:".
        head, text = message[: text_key.start()], message[text_key.end() :].lstrip()
    values: dict[str, str | None] = {}
    for key, word, spaced_word in _FIELD.findall(head):
        name = _key_name(key)
        if name not in values:  # the first occurrence wins, as in Kannel and Jasmin
            values[name] = word or spaced_word or None
    get = values.get
    return TextFields(
        get("id"),
        _count(get("sub")),
        _count(get("dlvrd")),
        get("submit_date"),
        get("done_date"),
        get("stat"),
        get("err"),
        text,
    )


def format_receipt(
    *,
    id: str,
    state: MessageState,
    sub: int = 1,
    dlvrd: int | None = None,
    submit_date: datetime | str,
    done_date: datetime | str,
    err: str = "000",
    text: str | None = "",
    seconds: bool = False,
) -> str:
    """An Appendix B receipt text, as an SMSC writes it (our simulator, tests).

    Counts are written with three digits, dates as ``YYMMDDhhmm`` (or with
    ``seconds``); a ``str`` date is written as given. ``text=None`` leaves out
    the ``text:`` field. ``dlvrd`` defaults to ``sub`` for DELIVERED, else 0.
    """
    if dlvrd is None:
        dlvrd = sub if state is MessageState.DELIVERED else 0

    def date(value: datetime | str) -> str:
        return value if isinstance(value, str) else format_receipt_date(value, seconds)

    body = (
        f"id:{id} sub:{sub:03d} dlvrd:{dlvrd:03d} submit date:{date(submit_date)} "
        f"done date:{date(done_date)} stat:{STAT_WORD_OF[state]} err:{err}"
    )
    return body if text is None else f"{body} text:{text}"
