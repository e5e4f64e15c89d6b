"""API processes (`smpp-bridge api`) on loopback against a real PostgreSQL database.

``api_db`` is one database per test module (cloned from the migrated
template), ``api_server`` one API process on it; tests make their own
accounts and keys (``Api.account``, ``Api.key``) so they do not see each other.
Requests go over real HTTP with httpx.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.store.accounts import create_account
from bridge.store.db import open_database
from bridge.store.keys import create_key, revoke_key
from tests.store.pg import PgServer, _admin, _new_name

CONFIG = """
[database]
dsn = "{dsn}"

[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {smsc_port}
system_id = "bridge"
tps = 100000
enquire_link_interval = "5s"
response_timeout = "3s"
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "udh8"
max_parts = 3

[[carriers]]
name = "sim-long"
host = "127.0.0.1"
port = {smsc_port}
system_id = "bridge-long"
[carriers.source]
default_sender_id = "Bridge"
[carriers.segmentation]
concat = "udh8"
max_parts = 10

[[routes]]
name = "sg"
prefix = "65"
carriers = [{{ carrier = "sim-long" }}]

[[routes]]
name = "my"
country = "MY"
carriers = [{{ carrier = "sim" }}]

[[routes]]
name = "test"
default = true
carriers = [{{ carrier = "sim" }}]

[rates]
[rates.countries]
MY = "0.0500"
SG = "0.1200"

[logging]
format = "json"

[daemon]
heartbeat_interval = "0.3s"
lease = "1.5s"
poll_interval = "0.2s"

[api]
test_route = "test"
auth_failures_per_minute = {auth_failures}
{api_extra}
"""


def write_config(path: Path, dsn: str, *, smsc_port: int = 2775, auth_failures: int = 10000, api_extra: str = "") -> Path:
    path.write_text(
        CONFIG.format(dsn=dsn, smsc_port=smsc_port, auth_failures=auth_failures, api_extra=api_extra),
        encoding="utf-8",
    )
    return path


@dataclass
class ApiProcess:
    """One `smpp-bridge api` child process; its log lines are collected."""

    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list, repr=False)

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:  # hypothesis prints examples with it
        printer.text(f"ApiProcess({self.url})")

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=10, **kwargs)


def _pump(proc: ApiProcess, ready: threading.Event) -> None:
    assert proc.process.stderr is not None
    for line in proc.process.stderr:
        proc.lines.append(line)
        if '"api ready"' in line:
            proc.url = line.split('"url": "')[1].split('"')[0]
            ready.set()
    ready.set()


@contextlib.contextmanager
def child(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`smpp-bridge ARGS` as a child process, stopped (SIGTERM, then SIGKILL) afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", *args], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


@contextlib.contextmanager
def run_api(config: Path, *, listen: str = "127.0.0.1:0", workers: int = 1) -> Iterator[ApiProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "api", "-c", str(config), "--listen", listen,
         "--workers", str(workers)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    proc = ApiProcess(process)
    ready = threading.Event()
    pump = threading.Thread(target=_pump, args=(proc, ready), daemon=True)
    pump.start()
    try:
        ready.wait(30)
        assert proc.url, "the API did not start:\n" + "".join(proc.lines)
        yield proc
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        pump.join(5)
        assert process.stderr is not None
        process.stderr.close()


@dataclass
class Api:
    """The module's database and API process, and helpers to make accounts and keys."""

    dsn: str
    config: Path
    server: ApiProcess

    @property
    def url(self) -> str:
        return self.server.url

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def main() -> Any:
            async with open_database(self.dsn, min_size=1, max_size=1) as db:
                return await fn(db, *args, **kwargs)

        return trio.run(main)

    def account(self, credits: str = "42.5000") -> str:
        name = "acct_" + secrets.token_hex(4)
        self.run(create_account, name, credits=Decimal(credits))
        return name

    def key(self, account: str, **kwargs: Any) -> str:
        _, token = self.run(create_key, account, "test", **kwargs)
        return str(token)

    def key_id(self, token: str) -> int:
        prefix = token.split("_")[2][:8]
        return int(self.run(lambda db: db.fetchval("SELECT id FROM api_keys WHERE prefix = $1", prefix)))

    def revoke(self, token: str) -> None:
        self.run(revoke_key, self.key_id(token))

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        return self.server.client(key, **kwargs)

    def __repr__(self) -> str:
        return f"Api({self.url})"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:  # hypothesis prints examples with it
        printer.text(repr(self))


@pytest.fixture(scope="module")
def api_db(pg_server: PgServer, pg_template: str) -> Iterator[str]:
    name = _new_name()
    trio.run(_admin, pg_server.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield pg_server.dsn_for(name)
    finally:
        trio.run(_admin, pg_server.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def api_server(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    config = write_config(tmp_path_factory.mktemp("api") / "api.toml", api_db)
    with run_api(config) as server:
        yield Api(api_db, config, server)


@pytest.fixture
def api(api_server: Api) -> Api:
    return api_server


def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started
