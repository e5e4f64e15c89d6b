"""A whole preflight system: the API process (`smpp-bridge api`), and per test one trio run
of the simulator playing the networks, the daemon and its preflight service, on one database."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.preflight.service import PreflightService
from bridge.preflight.users import create_key, create_user
from bridge.simulator import Simulator, SimulatorConfig
from bridge.simulator.config import ProbeNetwork as SimNetwork
from bridge.store.accounts import create_account
from bridge.store.db import Database, open_database
from bridge.store.enqueue import SendRequest, enqueue
from config.load import parse_config
from config.schema import Config
from tests.api.harness import ApiProcess, run_api
from tests.dispatch.harness import daemon
from tests.preflight.helpers import Clock

# Valid UK mobile numbers (phonenumbers) for the probe handsets.
EE, VODAFONE, O2, THREE, GIFFGAFF = (f"+4479111000{n}1" for n in range(5))

CONFIG = """
[database]
dsn = "{dsn}"

[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {port}
system_id = "bridge"
tps = 100000
enquire_link_interval = "5s"
response_timeout = "3s"
[carriers.source]
default_sender_id = "Bridge"

[[routes]]
name = "all"
default = true
carriers = [{{ carrier = "sim" }}]

[rates]
default = "0.0500"

[logging]
format = "json"

[daemon]
heartbeat_interval = "0.3s"
lease = "1.5s"
poll_interval = "0.2s"

[webhooks]
require_https = false
allow_networks = ["127.0.0.1/32"]

[preflight]
account = "selftest"
self_test_sender_id = "BRIDGE"

[[preflight.networks]]
slug = "ee"
name = "EE"
numbers = ["{ee}"]
carrier = "sim"

[[preflight.networks]]
slug = "vodafone"
name = "Vodafone"
numbers = ["{vodafone}"]
carrier = "sim"

[[preflight.networks]]
slug = "o2"
name = "O2"
numbers = ["{o2}"]
carrier = "sim"

[[preflight.networks]]
slug = "three"
name = "Three"
numbers = ["{three}"]
route = "all"

[[preflight.networks]]
slug = "giffgaff"
name = "giffgaff"
numbers = ["{giffgaff}"]
"""

# How the simulator plays each network.
SIM_NETWORKS = (
    SimNetwork(numbers=(EE.lstrip("+"),)),
    SimNetwork(numbers=(VODAFONE.lstrip("+"),), behaviour="rewrite", rewrite_sender="447700123456"),
    SimNetwork(numbers=(O2.lstrip("+"),), behaviour="drop"),
    SimNetwork(numbers=(THREE.lstrip("+"),), delay=1.5, parts=2, concat="sar"),
    SimNetwork(numbers=(GIFFGAFF.lstrip("+"),), parts=3, concat="udh16"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class System:
    dsn: str
    config_path: Path
    config: Config
    server: ApiProcess
    port: int

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.server.url + "/api", headers=headers, timeout=10)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def main() -> Any:
            async with open_database(self.dsn, min_size=1, max_size=2) as db:
                return await fn(db, *args)

        return trio.run(main)

    def user(self, account: str, plan: str = "pro") -> str:
        """A preflight user and one of its sp_ keys."""

        async def make(db: Database) -> str:
            user = await create_user(db, account, plan=plan, name="Jane Smith", email="jane@example.com",
                                     company="Acme Ltd")  # fmt: skip
            _, token = await create_key(db, user.account_id, "Production")
            return token

        token: str = self.run(make)
        return token

    @contextlib.asynccontextmanager
    async def running(self, db: Database, clock: Clock | None = None) -> AsyncIterator[PreflightService]:
        """Simulator, daemon and preflight service for the body of the ``async with``."""
        sim = Simulator(SimulatorConfig(probe_networks=SIM_NETWORKS, handset_log=1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(sim.serve, "127.0.0.1", self.port)
            async with daemon(self.config, db, self.dsn):
                service = PreflightService(db, self.config, clock=clock or Clock(), poll=0.05, tick=0.05)
                await nursery.start(service.run)
                yield service
            nursery.cancel_scope.cancel()


async def send(db: Database, config: Config, account: str, sender_id: str, to: str, text: str) -> None:
    """The customer's own platform sends to a probe number (here: through the same bridge)."""
    await enqueue(db, config, account, SendRequest(to=to, message=text, sender_id=sender_id))


async def platform_account(db: Database, name: str) -> None:
    await create_account(db, name, credits="100")


@pytest.fixture(scope="module")
def system(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    port = free_port()
    text = CONFIG.format(dsn=api_db, port=port, ee=EE, vodafone=VODAFONE, o2=O2, three=THREE, giffgaff=GIFFGAFF)
    path = tmp_path_factory.mktemp("preflight") / "preflight.toml"
    path.write_text(text, encoding="utf-8")
    config = parse_config(text, source=str(path))
    with run_api(path) as server:
        yield System(api_db, path, config, server, port)
