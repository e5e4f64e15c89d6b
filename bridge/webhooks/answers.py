"""The common answer to a webhook, read without h11: status, headers, a short body.

Nearly every answer a receiver sends is the same shape: ``HTTP/1.1``, a final
status, a ``Content-Length`` and a body of a few bytes, the connection kept
alive. h11's state machine costs tens of microseconds of CPU per such answer
(events, header normalisation, state checks), which made it a large share of
the daemon's CPU per webhook. ``simple_answer`` reads exactly that shape and
nothing else: it accepts a subset of what h11 accepts and reads it as h11 does
(the grammar below is h11's, RFC 9112 sections 2-6), and every other answer
(another HTTP version, 1xx, chunked or close-delimited bodies, ``Connection:
close``, obsolete line folding, bare LF line ends, a body longer than the cap,
anything h11 would refuse) is left to h11, which then reads that connection
from the same bytes on (bridge/webhooks/client.py). tests/webhooks/test_answers.py
checks the agreement with h11 on generated answers.
"""

from __future__ import annotations

import re

__all__ = ["MORE", "OTHER", "simple_answer"]

MORE = (0, 0)  # the answer so far has the simple shape; more bytes are needed
OTHER = (-1, 0)  # not the simple shape: h11 reads it

# h11's grammar (its _abnf module): a blank line ends the head (``\n\r?\n``); the status
# line, then header fields ``token ":" OWS field-value OWS``.
_BLANK = re.compile(rb"\n\r?\n")
_STATUS = re.compile(rb"HTTP/1\.1 ([0-9]{3})(?: (?:[ \t]|[^\x00\s])*)?")
_FIELD = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?[ \t]*"
)
_DIGITS = re.compile(rb"[0-9]+")
_MAX_HEAD = 16 * 1024  # h11's max_incomplete_event_size: a longer unfinished head is an error


def simple_answer(buf: bytes | bytearray, max_body: int) -> tuple[int, int]:
    """(status, bytes the answer takes) when ``buf`` starts with a whole simple answer;
    ``MORE`` when it may still become one; ``OTHER`` when h11 must read it."""
    if buf and buf[0] < 0x21:  # h11 refuses such a first line at once
        return OTHER
    blank = _BLANK.search(buf)
    if blank is None:
        return MORE if len(buf) <= _MAX_HEAD else OTHER
    start = blank.start()
    # Every line ends in CRLF (h11 also takes a bare LF; those answers go to h11).
    if blank.end() - start != 3 or start == 0 or buf[start - 1] != 0x0D:
        return OTHER
    lines = bytes(buf[: start - 1]).split(b"\r\n")
    status_line = _STATUS.fullmatch(lines[0])
    if status_line is None:
        return OTHER
    status = int(status_line.group(1))
    if status < 200:
        return OTHER
    length: int | None = None
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None or b"\r" in line or b"\n" in line:
            return OTHER
        name = field.group(1).lower()
        if name == b"content-length":
            value = line[field.end(1) + 1 :].strip(b" \t")
            if length is not None or _DIGITS.fullmatch(value) is None:
                return OTHER  # repeated or a list: h11 checks that they agree
            length = int(value)
        elif name == b"transfer-encoding" or (name == b"connection" and b"close" in line.lower()):
            return OTHER
    if status in (204, 304):  # no body whatever the headers say (RFC 9112 section 6.3)
        length = 0
    if length is None or length > max_body:
        return OTHER
    end = blank.end() + length
    return (status, end) if len(buf) >= end else MORE
