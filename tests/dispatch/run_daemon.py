"""Run one Daemon in its own process until killed: ``python -m tests.dispatch.run_daemon CONFIG DSN NAME``.

For the SIGKILL test: the parent kills this process mid-run and starts another daemon.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from bridge.dispatch import Daemon
from bridge.store.db import open_database
from config.load import parse_config
from config.schema import Config


async def main(config: Config, dsn: str, name: str) -> None:
    async with open_database(dsn, max_size=4) as db:
        daemon = Daemon(config, db, dsn=dsn, passwords={"sim": "pw"}, instance_name=name,
                        sweep_interval=0.5, db_timeout=2.0)  # fmt: skip
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            print("ready", daemon.instance_id, flush=True)


if __name__ == "__main__":
    path, dsn, name = sys.argv[1:4]
    trio.run(main, parse_config(Path(path).read_text(), source=path), dsn, name)
