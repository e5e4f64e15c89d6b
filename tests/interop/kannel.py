"""Kannel (bearerbox + smsbox) as an ESME in tests: the gateway our SMSC must satisfy.

Kannel as an ESME against our simulator proves our simulator speaks SMPP as a
real gateway expects. :func:`start_kannel` writes a one-SMSC
configuration into a test directory, starts ``/usr/sbin/bearerbox`` and
``/usr/sbin/smsbox`` in their own process groups, and returns a
:class:`KannelEsme` that sends through smsbox's sendsms HTTP interface and
collects what smsbox reports back (delivery reports through ``dlr-url``, MO
messages through a ``get-url`` service) on a small HTTP server of its own.

Kannel's DLR types (``%d`` in dlr-url, Kannel user guide "Delivery reports"):
1 delivered to phone, 2 non-delivered to phone, 4 queued on SMSC, 8 delivered
to SMSC (the submit_sm_resp), 16 non-delivered to SMSC (an error resp).
"""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from tests.interop.kannel_conf import (
    ADMIN_PASSWORD,
    SENDSMS_USER,
    SMSC_ID,
    BindMode,
    Callbacks,
    KannelPorts,
    Report,
    render_config,
)
from tests.interop.process import (
    HOST,
    PeerProcess,
    await_until,
    free_port,
    tool_missing,
    wait_until,
)

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")

DLR_DELIVERED = 1
DLR_UNDELIVERED = 2
DLR_QUEUED = 4
DLR_SMSC_ACK = 8
DLR_SMSC_NACK = 16


@dataclass
class KannelEsme:
    """A running Kannel bound (or binding) to one SMSC. Create with :func:`start_kannel`."""

    host: str
    port: int
    system_id: str
    password: str
    workdir: Path
    admin_port: int
    sendsms_port: int
    bearerbox: PeerProcess | None = None
    smsbox: PeerProcess | None = None
    callbacks: Callbacks = field(default_factory=Callbacks)
    _refs: int = 0

    # ---------------------------------------------------------------- status

    def status(self) -> str:
        """bearerbox's ``status.txt`` admin page ("" while it is not answering)."""
        query = urllib.parse.urlencode({"password": ADMIN_PASSWORD})
        url = f"http://{HOST}:{self.admin_port}/status.txt?{query}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                text: str = reply.read().decode("utf-8", "replace")
                return text
        except OSError:
            return ""

    def smsc_states(self) -> list[str]:
        """State word per SMSC connection on the status page (one, or two for "tx+rx").

        Kannel prints online, connecting, re-connecting, disconnected, dead, ...
        """
        pattern = rf"^\s+{SMSC_ID}\[{SMSC_ID}\]\s+\S+\s+\((\S+)"
        return re.findall(pattern, self.status(), re.M)

    def online(self) -> bool:
        states = self.smsc_states()
        return bool(states) and all(state == "online" for state in states)

    def diagnostics(self) -> str:
        parts = [f"status page:\n{self.status()}"]
        for name in ("smsc.log", "bearerbox.log", "smsbox.log"):
            path = self.workdir / name
            if path.is_file():
                tail = path.read_text("utf-8", "replace").splitlines()[-25:]
                parts.append(f"--- {name} tail\n" + "\n".join(tail))
        for proc in (self.bearerbox, self.smsbox):
            if proc is not None and not proc.running:
                parts.append(proc.diagnostics())
        return "\n".join(parts)

    def _check_alive(self) -> None:
        for proc in (self.bearerbox, self.smsbox):
            if proc is not None and not proc.running:
                pytest.fail(f"{proc.name} exited\n{self.diagnostics()}", pytrace=False)

    def _online_checked(self) -> bool:
        self._check_alive()
        return self.online()

    def wait_online(self, timeout: float = 15.0) -> None:
        """Block until the SMSC link is online (sync tests; the SMSC is another process)."""
        wait_until(
            self._online_checked,
            timeout,
            lambda: f"Kannel SMSC link online\n{self.diagnostics()}",
            0.1,
        )

    async def await_online(self) -> None:
        """Wait for the link from a trio test, e.g. when the SMSC runs in the same loop.

        The status page is fetched off the event loop's thread; bound the wait
        with ``trio.fail_after`` and print :meth:`diagnostics` when it expires.
        """
        # Polling on purpose: the state is on bearerbox's HTTP status page.
        while not await trio.to_thread.run_sync(self._online_checked):  # noqa: ASYNC110
            await trio.sleep(0.1)

    # ---------------------------------------------------------------- sending

    def send(
        self,
        to: str,
        text: str,
        *,
        sender: str = "Bridge",
        dlr_mask: int = DLR_DELIVERED | DLR_UNDELIVERED | DLR_SMSC_ACK | DLR_SMSC_NACK,
        coding: int | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> str:
        """Queue a message through sendsms; return the ref its delivery reports carry.

        ``coding``: Kannel's 0 (GSM 7-bit), 1 (8-bit), 2 (UCS-2); None lets Kannel
        choose. ``extra`` adds raw sendsms parameters (``udh``, ``validity``, ...).
        """
        self._refs += 1
        ref = str(self._refs)
        dlr_url = (
            f"http://{HOST}:{self.callbacks.port}/dlr?ref={ref}"
            "&type=%d&smsc=%i&fid=%F&text=%A&from=%p&to=%P"
        )
        params = {
            "username": SENDSMS_USER[0],
            "password": SENDSMS_USER[1],
            "from": sender,
            "to": to,
            "text": text,
            "charset": "UTF-8",
            "smsc": SMSC_ID,
            "dlr-mask": str(dlr_mask),
            "dlr-url": dlr_url,
        }
        if coding is not None:
            params["coding"] = str(coding)
        params.update(extra or {})
        url = f"http://{HOST}:{self.sendsms_port}/cgi-bin/sendsms?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                answer = reply.read().decode("utf-8", "replace")
        except OSError as exc:
            pytest.fail(f"sendsms failed: {exc}\n{self.diagnostics()}", pytrace=False)
        # smsbox answers 202 "0: Accepted for delivery" (or "3: Queued for later delivery").
        if not answer.startswith(("0:", "3:")):
            pytest.fail(f"sendsms refused: {answer!r}\n{self.diagnostics()}", pytrace=False)
        return ref

    async def asend(self, to: str, text: str, **kwargs: object) -> str:
        """:meth:`send` from a trio test, off the event loop's thread."""
        return await trio.to_thread.run_sync(lambda: self.send(to, text, **kwargs))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- reports

    def dlrs(self, ref: str | None = None) -> list[Report]:
        """Delivery reports smsbox called back with, optionally for one send()."""
        return [
            r
            for r in self.callbacks.snapshot()
            if r.kind == "dlr" and (ref is None or r.ref == ref)
        ]

    def mo(self) -> list[Report]:
        """MO messages smsbox passed to the catch-all service (params from, to, text)."""
        return [r for r in self.callbacks.snapshot() if r.kind == "mo"]

    def _dlr(self, ref: str, dlr_type: int) -> Report | None:
        return next((r for r in self.dlrs(ref) if r.type == dlr_type), None)

    def wait_dlr(self, ref: str, dlr_type: int = DLR_DELIVERED, timeout: float = 10.0) -> Report:
        """Block until a report of ``dlr_type`` arrived for ``ref``; return it."""
        wait_until(
            lambda: self._dlr(ref, dlr_type) is not None,
            timeout,
            lambda: (
                f"Kannel DLR type {dlr_type} for ref {ref}; got {self.dlrs(ref)}\n{self.diagnostics()}"
            ),
        )
        found = self._dlr(ref, dlr_type)
        assert found is not None
        return found

    async def await_dlr(self, ref: str, dlr_type: int = DLR_DELIVERED) -> Report:
        """:meth:`wait_dlr` for trio tests; bound it with ``trio.fail_after``."""
        await await_until(lambda: self._dlr(ref, dlr_type) is not None)
        found = self._dlr(ref, dlr_type)
        assert found is not None
        return found

    # ---------------------------------------------------------------- stop

    def stop(self) -> None:
        """smsbox first (it feeds bearerbox), then bearerbox; then the callback server."""
        try:
            for proc in (self.smsbox, self.bearerbox):
                if proc is not None:
                    proc.stop()
        finally:
            self.callbacks.close()


def kannel_available() -> None:
    """Skip/fail unless Kannel's bearerbox and smsbox are installed."""
    if not (BEARERBOX.is_file() and SMSBOX.is_file()):
        tool_missing("kannel not installed: apt-get install kannel")


def _distinct_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_kannel(
    workdir: Path,
    host: str,
    port: int,
    system_id: str,
    password: str,
    *,
    bind: BindMode = "trx",
    system_type: str = "",
    enquire_link_interval: int = 5,
    smsc_extra: Mapping[str, str] | None = None,
    core_extra: Mapping[str, str] | None = None,
    wait_online: bool = True,
    timeout: float = 15.0,
) -> KannelEsme:
    """Configure and start Kannel against the SMSC at ``host:port``.

    ``bind``: "trx" (one transceiver), "tx+rx" (transmitter and receiver binds)
    or "tx". ``smsc_extra`` adds raw lines to the SMSC group (e.g.
    ``{"max-pending-submits": "64", "msg-id-type": "0x01"}``), ``core_extra`` to
    the core group (e.g. ``{"sms-resend-freq": "1"}``: Kannel retries messages
    an SMSC refused temporarily, such as ESME_RTHROTTLED, only that often). With
    ``wait_online=False`` the caller waits (``await esme.await_online()``), which
    an SMSC running in the test's own trio loop requires.
    """
    kannel_available()
    workdir.mkdir(parents=True, exist_ok=True)
    admin_port, smsbox_port, sendsms_port = _distinct_ports(3)
    esme = KannelEsme(host, port, system_id, password, workdir, admin_port, sendsms_port)
    try:
        config = workdir / "kannel.conf"
        config.write_text(
            render_config(
                workdir=workdir,
                host=host,
                port=port,
                system_id=system_id,
                password=password,
                ports=KannelPorts(admin_port, smsbox_port, sendsms_port),
                callback_port=esme.callbacks.port,
                bind=bind,
                system_type=system_type,
                enquire_link_interval=enquire_link_interval,
                smsc_extra=smsc_extra or {},
                core_extra=core_extra or {},
            ),
            encoding="utf-8",
        )
        # -v 2: warnings and worse on stderr; everything else is in the log files.
        esme.bearerbox = PeerProcess.start("bearerbox", [BEARERBOX, "-v", "2", config], workdir)
        deadline = time.monotonic() + timeout

        def admin_up() -> bool:
            esme._check_alive()
            return _accepts(smsbox_port) and bool(esme.status())

        wait_until(admin_up, timeout, lambda: f"bearerbox to start\n{esme.diagnostics()}", 0.05)
        esme.smsbox = PeerProcess.start("smsbox", [SMSBOX, "-v", "2", config], workdir)

        def smsbox_up() -> bool:
            esme._check_alive()
            return _accepts(sendsms_port)

        left = max(deadline - time.monotonic(), 1.0)
        wait_until(smsbox_up, left, lambda: f"smsbox to start\n{esme.diagnostics()}", 0.05)
        if wait_online:
            esme.wait_online(max(deadline - time.monotonic(), 1.0))
    except BaseException:
        esme.stop()
        raise
    return esme
