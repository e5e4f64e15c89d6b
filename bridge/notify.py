"""systemd's notification protocol (sd_notify(3)), written directly: one datagram per message.

With ``Type=notify`` systemd waits for ``READY=1`` before it considers the
service started, expects ``WATCHDOG=1`` at least every ``WatchdogSec`` (it
passes that as ``WATCHDOG_USEC``; we ping at half of it, as sd_watchdog_enabled(3)
recommends), shows ``STATUS=...`` in ``systemctl status`` and learns from
``STOPPING=1`` that a stop is in progress. The protocol is newline-separated
``KEY=VALUE`` assignments sent as one datagram to the AF_UNIX socket named by
``NOTIFY_SOCKET``; a leading ``@`` means a Linux abstract socket (a NUL byte).

Without ``NOTIFY_SOCKET`` (not under systemd, tests, the demo) every call is
a no-op. Sending never blocks and never raises: a full or vanished socket
must not take the daemon down, it only loses a status line.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, MutableMapping

import structlog

__all__ = ["Notifier"]

log = structlog.get_logger(__name__)


class Notifier:
    """The service manager's notification socket, or nothing."""

    __slots__ = ("_address", "_socket", "watchdog_usec")

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address: str | bytes | None = None
        self._socket: socket.socket | None = None
        self.watchdog_usec = watchdog_usec
        if address:
            # sd_notify(3): "@" stands for the abstract namespace (leading NUL).
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @classmethod
    def from_environ(
        cls, environ: MutableMapping[str, str] | None = None, *, unset: bool = True
    ) -> Notifier:
        """Read NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID.

        With ``unset`` (the default) the variables are removed from the
        environment afterwards, like sd_notify's ``unset_environment``: child
        processes (the embedded PostgreSQL) must not talk to systemd as us.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET")
        watchdog = _watchdog_usec(env)
        if unset:
            for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                env.pop(name, None)
        return cls(address, watchdog_usec=watchdog)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half the configured timeout), or None."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; False when not sent (no socket, error)."""
        if self._socket is None or self._address is None:
            return False
        # STATUS is free text: one line, or systemd would read the rest as assignments.
        payload = "\n".join(
            f"{key}={str(value).replace(chr(10), ' ')}" for key, value in fields.items()
        ).encode("utf-8", "replace")
        try:
            self._socket.sendto(payload, self._address)
        except OSError as exc:
            log.warning("sd_notify failed", error=str(exc), fields=",".join(fields))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"READY": 1, "MAINPID": os.getpid()}
        if status:
            fields["STATUS"] = status
        return self.notify(**fields)

    def reloading(self, status: str = "reloading configuration") -> bool:
        # systemd >= 253 wants the CLOCK_MONOTONIC time of the reload request with it.
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=now_usec, STATUS=status)

    def reloaded(self, status: str) -> bool:
        return self.notify(READY=1, STATUS=status)

    def stopping(self, status: str = "draining") -> bool:
        return self.notify(STOPPING=1, STATUS=status)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """WATCHDOG_USEC, unless WATCHDOG_PID says it is meant for another process."""
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    return usec if usec > 0 else None
