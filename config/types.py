"""The building blocks of the configuration schema: the strict base Struct,
durations, and the constrained scalars several sections share."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["Duration", "Name", "Npi", "Port", "Ton", "split_listen"]


class _Base(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass



_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Duration:
    """A length of time written ``"72h"``, ``"1h30m"``, ``"500ms"`` or as seconds.

    Decoded by ``config.load``'s dec_hook (msgspec calls it for this type).
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        self.seconds = float(seconds)

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, bool):
            raise ValueError("expected a duration such as \"30s\", \"10m\" or \"72h\"")
        if isinstance(value, int | float):
            return cls(float(value))
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            pos, total = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if text and pos == len(text):
                return cls(total)
        raise ValueError(
            f"invalid duration {value!r}: write a number of seconds or e.g. \"30s\", \"10m\", \"72h\", \"1h30m\""
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)

    def __repr__(self) -> str:
        return f"Duration({self.seconds:g}s)"


def split_listen(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """A listening address ``HOST:PORT``, ``[V6]:PORT`` or a bare ``PORT`` (on
    ``default_host``) -> (host, port); ValueError naming what is wrong. Port 0 lets
    the kernel choose (tests)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host = default_host
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{text!r}: unbalanced brackets around the host (write e.g. \"[::1]:9187\")")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT with a port of 0-65535 (e.g. \"127.0.0.1:9187\")")
    return host, int(port)


Port = Annotated[int, Meta(ge=1, le=65535)]
Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
# SMPP 3.4 section 5.2.5: 0 unknown, 1 international, 3 network specific, 5 alphanumeric.
Ton = Annotated[int, Meta(ge=0, le=6)]
# SMPP 3.4 section 5.2.6 (0 unknown, 1 ISDN E.163/E.164, ... 18 WAP).
Npi = Annotated[int, Meta(ge=0, le=18)]
