"""`smpp-bridge run` as a child process, systemd's side of NOTIFY_SOCKET, and database probes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from bridge.store.accounts import create_account, reconcile
from bridge.store.db import open_database
from bridge.store.enqueue import SendRequest, enqueue_many
from config.load import parse_config

ROOT = Path(__file__).resolve().parents[2]


class DaemonProcess:
    """One `smpp-bridge run -c FILE` with its own notification socket and log file."""

    def __init__(self, config: Path, dsn: str, work: Path, name: str = "daemon") -> None:
        self.log_path = work / f"{name}.log"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = work / f"{name}.notify"
        path.unlink(missing_ok=True)
        self.notify.bind(str(path))
        env = {
            **os.environ, "TEST_BRIDGE_DSN": dsn, "TEST_BRIDGE_PASSWORD": "pw",
            "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000",
        }  # fmt: skip
        env.pop("WATCHDOG_PID", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge.cli", "run", "-c", str(config)],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self.seen: list[dict[str, str]] = []

    def until(self, key: str, timeout: float = 30) -> dict[str, str]:
        """The next notification that sets ``key`` (READY, STOPPING, ...)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}:\n{self.log_text()[-4000:]}")
            self.notify.settimeout(0.2)
            try:
                data = self.notify.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.seen.append(fields)
            if key in fields:
                return fields
        raise AssertionError(f"no {key}= within {timeout}s:\n{self.log_text()[-4000:]}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_events(self) -> list[dict[str, Any]]:
        """Every log line must be one JSON object (format = "json")."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.notify.close()


async def _enqueue(dsn: str, config_text: str, sends: list[tuple[str, list[str]]], credits: int) -> list[str]:
    config = parse_config(config_text)
    async with open_database(dsn, min_size=1, max_size=2) as db:
        await create_account(db, "acme", credits=credits)
        ids: list[str] = []
        for i in range(0, len(sends), 100):
            batch = [SendRequest(to=to, message=body) for body, to in sends[i : i + 100]]
            for result in await enqueue_many(db, config, "acme", batch):
                ids += [r.id for r in result.recipients]
        return ids


def enqueue(dsn: str, config_text: str, sends: list[tuple[str, list[str]]], credits: int = 1000) -> list[str]:
    return trio.run(_enqueue, dsn, config_text, sends, credits)


async def _states(dsn: str) -> dict[str, int]:
    async with open_database(dsn, min_size=1, max_size=1) as db:
        rows = await db.fetch("SELECT state::text, count(*) FROM messages GROUP BY state")
    return {r["state"]: r["count"] for r in rows}


def states(dsn: str) -> dict[str, int]:
    return trio.run(_states, dsn)


def pending(dsn: str) -> int:
    s = states(dsn)
    return s.get("queued", 0)


def wait_final(dsn: str, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pending(dsn) == 0:
            break
        time.sleep(0.2)
    return states(dsn)


async def _reconcile(dsn: str) -> tuple[bool, Any]:
    async with open_database(dsn, min_size=1, max_size=1) as db:
        check = await reconcile(db, "acme")
        parts = await db.fetch("SELECT state::text, count(*) FROM message_parts GROUP BY state")
    return check.ok, {r["state"]: r["count"] for r in parts}


def reconciled(dsn: str) -> tuple[bool, Any]:
    return trio.run(_reconcile, dsn)


async def _ids(dsn: str, sql: str, state: str) -> set[int]:
    async with open_database(dsn, min_size=1, max_size=1) as db:
        return {r[0] for r in await db.fetch(sql, state)}


def messages_with_parts_in(dsn: str, state: str) -> set[int]:
    """Internal ids of messages having a part in ``state``."""
    return trio.run(_ids, dsn, "SELECT DISTINCT message_id FROM message_parts WHERE state = $1::part_state", state)


async def _failed_for_unknown_outcome(dsn: str) -> list[tuple[str, int]]:
    async with open_database(dsn, min_size=1, max_size=1) as db:
        rows = await db.fetch("SELECT destination, segments FROM messages WHERE error = 'unknown_outcome'")
    return [(r[0], r[1]) for r in rows]


def failed_for_unknown_outcome(dsn: str) -> list[tuple[str, int]]:
    """(destination, segments) of the messages failed for an unknown outcome."""
    return trio.run(_failed_for_unknown_outcome, dsn)


def messages_in(dsn: str, state: str) -> set[int]:
    return trio.run(_ids, dsn, "SELECT id FROM messages WHERE state = $1::message_state", state)
