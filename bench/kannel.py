"""Kannel 1.4.5 (bearerbox + smsbox) as the peer gateway of the comparison, at its best.

``TUNING`` is the configuration found by hand on the 2-core development machine
over about 40 configurations (docs in bench/REPORT.md): 500 pending submits on
the SMPP link, smsbox's max-pending-requests 16, log level 3 (errors) and no
access log, bearerbox and smsbox at ``-v 4`` on stderr. Two DLR stores:
``internal`` (in bearerbox's memory: lost on a crash, not durable) and
``pgsql`` (PostgreSQL, durable), each run on a fresh database.

Kannel 1.4.5's PostgreSQL DLR store deletes a row ``WHERE oid = ...``; tables
have no oid column since PostgreSQL 12, so every delete would fail and rows
pile up: ``PG_TABLE`` gives the table an ``oid bigserial PRIMARY KEY`` (and the
index on smsc, ts its lookups use).

Every process is started and stopped by its PID, each run in a fresh
directory.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.common import pg_address

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
SMSC_ID = "sim"
USER = ("bench", "bench-pw")
ADMIN_PASSWORD = "bench-admin"

Store = Literal["internal", "pgsql"]

TUNING = {
    "smsc max-pending-submits": "500",
    "smsbox max-pending-requests": "16",
    "log-level (core, smsc, smsbox)": "3",
    "access-log": "none",
    "bearerbox / smsbox verbosity": "-v 4",
    "sendsms connections (keep-alive)": "32",
    "SMSC link": "one transceiver bind, enquire-link every 30 s",
    "dlr-mask": "3 (final receipts only: delivered, undelivered)",
    "pgsql-connection max-connections": "8 (1 and 4 measured no faster on this machine)",
    "dlr table": "oid bigserial PRIMARY KEY, index on (smsc, ts)",
}

PG_TABLE = """
CREATE TABLE dlr (
    oid bigserial PRIMARY KEY,
    smsc varchar(48), ts varchar(48), destination varchar(48), source varchar(48),
    service varchar(48), url varchar(1024), mask integer, status integer, boxc varchar(48)
);
CREATE INDEX dlr_smsc_ts ON dlr (smsc, ts);
"""


def available() -> bool:
    return BEARERBOX.is_file() and SMSBOX.is_file()


def version() -> str:
    try:
        out = subprocess.run(
            [str(BEARERBOX), "--version"], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    for line in (out.stdout + out.stderr).splitlines():
        if "Kannel bearerbox version" in line:
            return line.split("version", 1)[1].strip(" `'.")
    return "unknown"


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.add(s.getsockname()[1])
    return sorted(ports)


def render(
    workdir: Path, sim_port: int, ports: list[int], store: Store, database: str, binds: int = 1
) -> str:
    admin, box, sendsms = ports
    w = workdir
    groups: list[dict[str, str]] = [
        {
            "group": "core", "admin-port": str(admin), "admin-interface": "127.0.0.1",
            "admin-password": f'"{ADMIN_PASSWORD}"', "status-password": f'"{ADMIN_PASSWORD}"',
            "smsbox-port": str(box), "smsbox-interface": "127.0.0.1", "box-allow-ip": "127.0.0.1",
            "dlr-storage": store, "log-file": f'"{w / "bearerbox.log"}"', "log-level": "3",
        },
        {
            "group": "smsc", "smsc": "smpp", "smsc-id": f'"{SMSC_ID}"', "host": "127.0.0.1",
            "port": str(sim_port), "transceiver-mode": "true", "smsc-username": '"kannel"',
            "smsc-password": '"secret"', "system-type": '""', "enquire-link-interval": "30",
            "reconnect-delay": "1", "max-pending-submits": "500",
            "log-file": f'"{w / "smsc.log"}"', "log-level": "3",
        },
        *(
            # More binds: more groups with the same smsc-id; Kannel shares the load.
            {"group": "smsc", "smsc": "smpp", "smsc-id": f'"{SMSC_ID}"', "host": "127.0.0.1",
             "port": str(sim_port), "transceiver-mode": "true", "smsc-username": '"kannel"',
             "smsc-password": '"secret"', "system-type": '""', "enquire-link-interval": "30",
             "reconnect-delay": "1", "max-pending-submits": "500",
             "log-file": f'"{w / f"smsc{n}.log"}"', "log-level": "3"}
            for n in range(2, binds + 1)
        ),
        {
            "group": "smsbox", "bearerbox-host": "127.0.0.1", "bearerbox-port": str(box),
            "sendsms-port": str(sendsms), "sendsms-interface": "127.0.0.1",
            "max-pending-requests": "16", "log-file": f'"{w / "smsbox.log"}"', "log-level": "3",
        },
        {
            "group": "sendsms-user", "username": f'"{USER[0]}"', "password": f'"{USER[1]}"',
            "max-messages": "1",
        },
    ]  # fmt: skip
    if store == "pgsql":
        pg_host, pg_port = pg_address()
        groups += [
            {
                "group": "pgsql-connection", "id": "pgdlr", "host": pg_host, "port": str(pg_port),
                "username": "postgres", "password": '"postgres"', "database": database,
                "max-connections": "8",
            },
            {
                "group": "dlr-db", "id": "pgdlr", "table": "dlr", "field-smsc": "smsc",
                "field-timestamp": "ts", "field-destination": "destination", "field-source": "source",
                "field-service": "service", "field-url": "url", "field-mask": "mask",
                "field-status": "status", "field-boxc-id": "boxc",
            },
        ]  # fmt: skip
    return "\n".join("\n".join(f"{k} = {v}" for k, v in g.items()) + "\n" for g in groups)


@dataclass
class Kannel:
    workdir: Path
    sim_port: int
    store: Store
    database: str = ""
    binds: int = 1
    ports: list[int] = field(default_factory=lambda: free_ports(3))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sendsms_port(self) -> int:
        return self.ports[2]

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def status(self) -> str:
        url = f"http://127.0.0.1:{self.ports[0]}/status.txt?password={ADMIN_PASSWORD}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return str(reply.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def _spawn(self, binary: Path, name: str) -> None:
        conf = self.workdir / "kannel.conf"
        log = open(self.workdir / f"{name}.stderr", "wb")  # noqa: SIM115 - the child owns it
        self.processes.append(
            subprocess.Popen(
                [str(binary), "-v", "4", str(conf)],
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                start_new_session=True,
            )
        )

    def _wait(self, what: str, ready: object, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(
                        f"Kannel ({p.pid}) exited with {p.returncode}: {self.tails()}"
                    )
            if callable(ready) and ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"Kannel: no {what} within {timeout} s: {self.tails()}")

    def tails(self) -> str:
        out = []
        for name in ("bearerbox.stderr", "smsbox.stderr", "bearerbox.log", "smsc.log"):
            path = self.workdir / name
            if path.is_file():
                out.append(
                    f"--- {name}\n"
                    + "\n".join(path.read_text("utf-8", "replace").splitlines()[-15:])
                )
        return "\n".join(out)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = render(
            self.workdir, self.sim_port, self.ports, self.store, self.database, self.binds
        )
        (self.workdir / "kannel.conf").write_text(conf)
        self._spawn(BEARERBOX, "bearerbox")
        self._wait("admin port", lambda: bool(self.status()))
        self._spawn(SMSBOX, "smsbox")
        self._wait(
            "SMSC link online",
            lambda: (
                f"{SMSC_ID}[{SMSC_ID}]" in (s := self.status())
                and s.count("(online") >= self.binds
                and "box" in s
                and _accepts(self.sendsms_port)
            ),
        )

    def stop(self) -> None:
        """smsbox first, then bearerbox: SIGTERM by PID, SIGKILL after 10 s."""
        for p in reversed(self.processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
