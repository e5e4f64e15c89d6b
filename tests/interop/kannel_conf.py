"""Kannel configuration and callback endpoint for the interop tests' Kannel ESME.

:func:`render_config` writes what :func:`tests.interop.kannel.start_kannel`
runs: a bearerbox core with admin and smsbox ports on 127.0.0.1, one SMPP SMSC
group (two for separate transmitter and receiver binds), an smsbox with a
sendsms port, one sendsms user and a catch-all MO service. :class:`Callbacks`
is the HTTP server smsbox calls for delivery reports (``dlr-url``) and MO
(``get-url``). Option names: Kannel 1.4.5 user guide.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from tests.interop.process import HOST

SMSC_ID = "sut"  # smsc-id of the SMSC group(s), as shown on the status page
ADMIN_PASSWORD = "interop-admin"
SENDSMS_USER = ("interop", "interop-pw")

BindMode = Literal["trx", "tx+rx", "tx"]


@dataclass(frozen=True)
class KannelPorts:
    """The TCP ports Kannel listens on, all on 127.0.0.1."""

    admin: int
    smsbox: int
    sendsms: int


@dataclass(frozen=True, kw_only=True)
class Report:
    """One callback smsbox made: a delivery report (``kind="dlr"``) or an MO (``"mo"``)."""

    kind: str
    params: dict[str, str]

    @property
    def ref(self) -> str:
        return self.params.get("ref", "")

    @property
    def type(self) -> int:
        """Kannel DLR type (``%d``); 0 for MO."""
        return int(self.params.get("type") or 0)


class Callbacks:
    """HTTP endpoint on 127.0.0.1 receiving smsbox's dlr-url and get-url calls."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                with outer._lock:
                    outer.reports.append(Report(kind=url.path.strip("/"), params=params))
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest output clean; smsbox logs every call anyway

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def snapshot(self) -> list[Report]:
        with self._lock:
            return list(self.reports)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def quoted(value: str) -> str:
    # Kannel's config reader has no escapes worth trusting; refuse what breaks it.
    if any(c in value for c in '"\n\r'):
        raise ValueError(f"value not representable in a Kannel config: {value!r}")
    return f'"{value}"'


def render_config(
    *,
    workdir: Path,
    host: str,
    port: int,
    system_id: str,
    password: str,
    ports: KannelPorts,
    callback_port: int,
    bind: BindMode,
    system_type: str,
    enquire_link_interval: int,
    smsc_extra: Mapping[str, str],
    core_extra: Mapping[str, str],
) -> str:
    """A complete bearerbox + smsbox configuration with one SMSC (two for "tx+rx")."""
    w = workdir
    smsc_lines = {
        "smsc": "smpp",
        "smsc-id": quoted(SMSC_ID),
        "host": host,
        "port": str(port),
        "smsc-username": quoted(system_id),
        "smsc-password": quoted(password),
        # Kannel sends system_type "VMA" when this is not set.
        "system-type": quoted(system_type),
        "enquire-link-interval": str(enquire_link_interval),
        "reconnect-delay": "1",
        "log-file": quoted(str(w / "smsc.log")),
        "log-level": "0",
    }
    if bind == "trx":
        smsc_groups = [{**smsc_lines, "transceiver-mode": "true"}]
    else:
        # Kannel 1.4.5 refuses port and receive-port in one group: a receiver
        # bind is a second group with the same smsc-id and only receive-port.
        smsc_groups = [{**smsc_lines, "transceiver-mode": "false"}]
        if bind == "tx+rx":
            smsc_groups.append(
                {
                    **smsc_lines,
                    "port": "0",
                    "receive-port": str(port),
                    "log-file": quoted(str(w / "smsc-rx.log")),
                }
            )
    for group in smsc_groups:
        group.update(smsc_extra)
    groups = [
        {
            "group": "core",
            "admin-port": str(ports.admin),
            "admin-interface": HOST,
            "admin-password": quoted(ADMIN_PASSWORD),
            "status-password": quoted(ADMIN_PASSWORD),
            "smsbox-port": str(ports.smsbox),
            "smsbox-interface": HOST,
            "box-allow-ip": HOST,
            "dlr-storage": "internal",
            "log-file": quoted(str(w / "bearerbox.log")),
            "log-level": "0",
            "access-log": quoted(str(w / "access.log")),
            **core_extra,
        },
        *({"group": "smsc", **group} for group in smsc_groups),
        {
            "group": "smsbox",
            "bearerbox-host": HOST,
            "bearerbox-port": str(ports.smsbox),
            "sendsms-port": str(ports.sendsms),
            "sendsms-interface": HOST,
            "log-file": quoted(str(w / "smsbox.log")),
            "log-level": "0",
        },
        {
            "group": "sendsms-user",
            "username": quoted(SENDSMS_USER[0]),
            "password": quoted(SENDSMS_USER[1]),
            "concatenation": "true",
            "max-messages": "10",
        },
        {
            # Catch-all MO service; max-messages 0: Kannel sends no reply SMS.
            "group": "sms-service",
            "keyword": "default",
            "max-messages": "0",
            "get-url": quoted(f"http://{HOST}:{callback_port}/mo?from=%p&to=%P&text=%a&smsc=%i"),
        },
    ]
    return "\n".join(
        "\n".join(f"{key} = {value}" for key, value in group.items()) + "\n" for group in groups
    )
