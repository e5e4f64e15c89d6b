"""Logging for the daemon and the commands: structlog, JSON or console, bodies out, numbers masked.

One ``configure_logging(config.logging)`` call at start-up (and again on
SIGHUP). Everything else does ``log = structlog.get_logger(__name__)`` and
logs events with keyword fields.

Privacy (docs/design.md "Security rules"): message bodies carry OTP codes and
phone numbers are personal data. Two processors enforce that on every event,
whoever wrote the log call:

- a field named like a body (``body``, ``message``, ``text``,
  ``short_message``, ...) is replaced by ``<N chars>`` unless
  ``log_bodies = true``. So: never use ``message=`` for anything but a body;
  an error text goes in ``error=``.
- a field named like a number (``to``, ``destination``, ``source_addr``,
  ``msisdn``, ...) goes through ``mask_number`` unless ``mask_numbers = false``.

Call ``mask_number`` yourself when a number ends up inside another value.

A peer can make a line per PDU it sends (an unsolicited response, a malformed
frame): such lines go through a ``LogLimiter`` (one per bind or per carrier),
which writes the first few of each kind per interval and then one summary line
with the number it held back.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Hashable, Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from config.schema import Logging

__all__ = [
    "BODY_KEYS",
    "NUMBER_KEYS",
    "LogLimiter",
    "Outage",
    "configure_logging",
    "mask_number",
    "redact_event",
]

# True while the level is debug: the hot path tests it before building a debug line
# (a filtered structlog call through the unconfigured proxy still costs about a
# microsecond). Read it as ``bridge.logs.DEBUG`` (SIGHUP may change it).
DEBUG = False
# The same for info (the API's line per request): true until configured otherwise,
# as structlog writes everything before it is configured.
INFO = True

# Field names whose value is a message body (seed 000 calls it "message";
# SMPP 3.4 5.2.22 short_message, 5.3.2.32 message_payload).
BODY_KEYS = frozenset(
    {"body", "message", "text", "short_message", "message_payload", "part_text", "sms_body"}
)

# Field names whose value is a phone number or a list of them.
NUMBER_KEYS = frozenset(
    {
        "to", "destination", "destination_addr", "dest_addr", "source", "source_addr",
        "msisdn", "number", "numbers", "phone", "recipient", "recipients", "from_number",
    }
)  # fmt: skip


def mask_number(value: str) -> str:
    """``+60123456789`` -> ``+6012****789``: enough to tell numbers apart, not to dial one.

    Keeps a leading ``+``, the first four digits (country and operator) and
    the last three; shorter numbers keep less (a 5-digit short code shows
    only its last digit). Text that is not a number (an alphanumeric sender
    id such as ``ProSignals``) is returned unchanged: it is not personal data.
    """
    text = value.strip()
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits or not digits.isdigit():
        return value
    n = len(digits)
    if n >= 10:
        head, tail = 4, 3
    elif n >= 7:
        head, tail = 2, 2
    else:
        head, tail = 0, 1
    masked = digits[:head] + "*" * (n - head - tail) + digits[n - tail :]
    return ("+" if plus else "") + masked


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_number(value)
    if isinstance(value, bytes):
        return mask_number(value.decode("ascii", "replace"))
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v) for v in value]
    return value


def _body_placeholder(value: Any) -> str:
    try:
        size = len(value)
    except TypeError:
        return "<redacted>"
    return f"<{size} {'bytes' if isinstance(value, bytes | bytearray) else 'chars'}>"


def redact_event(
    event: MutableMapping[str, Any], *, log_bodies: bool = False, mask_numbers: bool = True
) -> MutableMapping[str, Any]:
    """Apply the privacy rules to one event dict (in place; also returned)."""
    if not log_bodies:
        for key in event.keys() & BODY_KEYS:
            event[key] = _body_placeholder(event[key])
    if mask_numbers:
        for key in event.keys() & NUMBER_KEYS:
            event[key] = _mask_value(event[key])
    return event


class _Redactor:
    """structlog processor bound to the current [logging] settings."""

    __slots__ = ("log_bodies", "mask_numbers")

    def __init__(self, log_bodies: bool, mask_numbers: bool) -> None:
        self.log_bodies = log_bodies
        self.mask_numbers = mask_numbers

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return redact_event(event, log_bodies=self.log_bodies, mask_numbers=self.mask_numbers)


class _Kind:
    __slots__ = ("fields", "logged", "since", "suppressed")

    def __init__(self, since: float) -> None:
        self.since = since
        self.logged = 0
        self.suppressed = 0
        self.fields: dict[str, Any] = {}


class LogLimiter:
    """Bounds the log lines a peer can trigger at will, per kind (an event name,
    optionally with a ``key`` such as the carrier).

    In each ``interval`` seconds the first ``burst`` lines of a kind are written
    as they come; the rest are counted, and one summary line (the same event and
    level, ``suppressed=N``, ``interval``, and the fields of the last line held
    back) is written with the first line of that kind after the interval, or by
    ``flush`` (a bind calls it when it closes). So a flood of 10,000 unsolicited
    responses is ``burst`` lines plus a summary, not 10,000 lines.

    ``exc_info`` goes with the lines written, never into a summary. The clock is
    the caller's (``trio.current_time`` in the daemon, so tests with a mock clock
    are exact).
    """

    __slots__ = ("_clock", "_kinds", "_log", "burst", "interval")

    def __init__(
        self,
        logger: Any,
        *,
        burst: int = 5,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._clock = clock
        self._kinds: dict[tuple[str, str, Hashable], _Kind] = {}
        self.burst = burst
        self.interval = interval

    def warning(self, event: str, *, key: Hashable = None, **fields: Any) -> bool:
        return self.log("warning", event, key=key, **fields)

    def info(self, event: str, *, key: Hashable = None, **fields: Any) -> bool:
        return self.log("info", event, key=key, **fields)

    def error(self, event: str, *, key: Hashable = None, **fields: Any) -> bool:
        return self.log("error", event, key=key, **fields)

    def log(self, level: str, event: str, *, key: Hashable = None, **fields: Any) -> bool:
        """Write the line or count it; True when it was written."""
        now = self._clock()
        kinds = self._kinds
        ident = (level, event, key)
        kind = kinds.get(ident)
        if kind is None:
            kind = kinds[ident] = _Kind(now)
        elif now - kind.since >= self.interval:
            self._summary(level, event, kind)
            kind.since, kind.logged = now, 0
        if kind.logged < self.burst:
            kind.logged += 1
            getattr(self._log, level)(event, **fields)
            return True
        kind.suppressed += 1
        fields.pop("exc_info", None)
        kind.fields = fields
        return False

    @property
    def suppressed(self) -> int:
        """Lines held back and not yet summarised."""
        return sum(k.suppressed for k in self._kinds.values())

    def flush(self) -> None:
        """Write the summary of every kind with lines held back."""
        for (level, event, _), kind in self._kinds.items():
            self._summary(level, event, kind)

    def _summary(self, level: str, event: str, kind: _Kind) -> None:
        if kind.suppressed:
            fields = {**kind.fields, "suppressed": kind.suppressed, "interval": self.interval}
            getattr(self._log, level)(event, **fields)
            kind.suppressed = 0
            kind.fields = {}


# Tracebacks as JSON without the frames' local variables (structlog's default
# dict_tracebacks shows them): locals hold DSNs with passwords, bind passwords,
# message bodies and unmasked numbers, which the redactor above never sees.
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _use_console(settings: Logging, stream: TextIO) -> bool:
    if settings.format == "console":
        return True
    if settings.format == "json":
        return False
    return _isatty(stream)


def configure_logging(settings: Logging | None = None, *, stream: TextIO | None = None) -> None:
    """Configure structlog (and route the standard library's logging through it).

    ``format = "auto"`` means console output on a terminal and one JSON object
    per line otherwise (journald, files, pipes). Safe to call again (SIGHUP).
    """
    settings = settings if settings is not None else Logging()
    out = stream if stream is not None else sys.stderr
    level = _LEVELS[settings.level]
    global DEBUG, INFO
    DEBUG = level <= logging.DEBUG
    INFO = level <= logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _Redactor(settings.log_bodies, settings.mask_numbers),
    ]
    renderer: Any
    if _use_console(settings, out):
        # plain_traceback, never rich's: rich would print every frame's locals.
        renderer = structlog.dev.ConsoleRenderer(
            colors=_isatty(out), exception_formatter=structlog.dev.plain_traceback
        )
        tail: list[Any] = [renderer]
    else:
        renderer = structlog.processors.JSONRenderer()
        tail = [_TRACEBACKS, renderer]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        # Not cached: SIGHUP may change the level or format, and module-level
        # loggers must follow.
        cache_logger_on_first_use=False,
    )
    _route_stdlib(shared, tail, out, level)


def _route_stdlib(shared: Iterable[Any], tail: list[Any], out: TextIO, level: int) -> None:
    """asyncpg, trio-asyncio and friends log through ``logging``: same format, same rules."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=list(shared),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("smpp-bridge")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "smpp-bridge"]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries are chatty at INFO; their warnings and errors are what matters.
    root.setLevel(max(level, logging.WARNING))


class Outage:
    """One line when something we depend on (the database) stops answering, one when it
    answers again; the retries in between are at debug level with their count.

    ``failed(event, **fields)`` after each failed attempt, ``ok()`` after each good one
    (cheap when nothing failed). The down line is a warning with ``state="down"``, the
    recovery an info line ``<event> recovered`` with ``state="up"`` and ``failures``.
    """

    __slots__ = ("_event", "_log", "failures")

    def __init__(self, logger: Any) -> None:
        self._log = logger
        self._event = ""
        self.failures = 0

    def failed(self, event: str, **fields: Any) -> None:
        self.failures += 1
        if self.failures == 1:
            self._event = event
            self._log.warning(event, state="down", **fields)
        else:
            self._log.debug(event, state="down", failures=self.failures, **fields)

    def ok(self) -> None:
        if self.failures:
            self._log.info(f"{self._event} recovered", state="up", failures=self.failures)
            self.failures = 0
