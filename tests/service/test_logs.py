"""Logs: JSON / console, bodies never logged, numbers masked, stdlib logging routed."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from bridge.logs import configure_logging, mask_number, redact_event
from config.schema import Logging

OTP = "Your verification code is 482915"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+60123456789", "+6012****789"),
        ("60123456789", "6012****789"),
        ("+6591234567", "+6591***567"),
        ("+12345678", "+12****78"),
        ("55555", "****5"),
        ("ProSignals", "ProSignals"),  # an alphanumeric sender id is not a number
        ("", ""),
        ("+", "+"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_mask_hides_the_middle_of_every_long_number() -> None:
    for n in range(7, 16):
        digits = "9" * n
        out = mask_number("+" + digits)
        assert len(out) == n + 1 and out.count("*") >= n // 3


@pytest.fixture(autouse=True)
def _reset_logging() -> object:
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in [h for h in root.handlers if h.get_name() == "smpp-bridge"]:
        root.removeHandler(h)


def _json_lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_logs_never_contain_bodies_and_mask_numbers() -> None:
    out = io.StringIO()
    configure_logging(Logging(format="json", level="debug"), stream=out)
    log = structlog.get_logger("t")
    log.info("submit", to="+60123456789", message=OTP, short_message=OTP.encode(), numbers=["+6591234567"])
    log.debug("receipt", text=OTP, source_addr="60123456789", sender="ProSignals")
    raw = out.getvalue()
    assert "482915" not in raw and "60123456789" not in raw and "6591234567" not in raw
    first, second = _json_lines(out)
    assert first["to"] == "+6012****789"
    assert first["message"] == f"<{len(OTP)} chars>"
    assert first["short_message"] == f"<{len(OTP)} bytes>"
    assert first["numbers"] == ["+6591***567"]
    assert first["level"] == "info" and first["event"] == "submit" and "timestamp" in first
    assert second["sender"] == "ProSignals" and second["source_addr"] == "6012****789"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_carry_no_locals(fmt: str) -> None:
    # A crash logged with log.exception must not dump the frames' variables:
    # a DSN with its password, a body, a whole number.
    out = io.StringIO()
    configure_logging(Logging(format=fmt), stream=out)

    def fails(dsn: str, body: str, to: str) -> None:
        raise RuntimeError("boom")

    dsn = "postgresql://bridge:S3cretPW@db/bridge"
    to = "+60123456789"
    try:  # (a traceback shows the lines of its frames: no literal on the call's line)
        fails(dsn, OTP, to)
    except RuntimeError:
        structlog.get_logger("t").exception("the daemon failed")
    text = out.getvalue()
    assert "boom" in text and "fails" in text  # the traceback itself is there
    for secret in ("S3cretPW", "482915", "60123456789"):
        assert secret not in text


def test_bodies_only_when_asked_and_level_filter() -> None:
    out = io.StringIO()
    configure_logging(Logging(format="json", log_bodies=True, mask_numbers=False), stream=out)
    log = structlog.get_logger("t")
    log.debug("hidden", message=OTP)
    log.info("shown", message=OTP, to="+60123456789")
    (line,) = _json_lines(out)
    assert line["message"] == OTP and line["to"] == "+60123456789"


def test_console_format_and_auto() -> None:
    out = io.StringIO()  # not a terminal: auto means JSON
    configure_logging(Logging(format="auto"), stream=out)
    structlog.get_logger().info("hello", to="+60123456789")
    assert json.loads(out.getvalue())["event"] == "hello"

    out = io.StringIO()
    configure_logging(Logging(format="console"), stream=out)
    structlog.get_logger().warning("hello", to="+60123456789", body=OTP)
    text = out.getvalue()
    assert "hello" in text and "+6012****789" in text and "482915" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_stdlib_logging_goes_through_the_same_rules() -> None:
    out = io.StringIO()
    configure_logging(Logging(format="json"), stream=out)
    logging.getLogger("asyncpg.pool").warning("connection lost")
    logging.getLogger("asyncpg.pool").info("noise")  # libraries: warnings and up only
    (line,) = _json_lines(out)
    assert line["event"] == "connection lost" and line["level"] == "warning"


def test_redact_event_in_place() -> None:
    event = {"event": "x", "destination": "+447400123456", "part_text": "secret 1234"}
    assert redact_event(event) == {"event": "x", "destination": "+4474*****456", "part_text": "<11 chars>"}
