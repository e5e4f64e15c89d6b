"""DB fixtures for the webhook tests (tests/store/pg.py), and a receiver in a thread."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from tests.store.pg import aio_loop, db, empty_dsn, pg_dsn, pg_dsn_sync, pg_server, pg_template
from tests.webhooks.receiver import Receiver, receiver

__all__ = ["aio_loop", "db", "empty_dsn", "pg_dsn", "pg_dsn_sync", "pg_server", "pg_template", "threaded_receiver"]


@pytest.fixture
def threaded_receiver() -> Iterator[Receiver]:
    """A receiver in a thread of its own (the commands call trio.run themselves)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        async with receiver() as rec:
            with trio.CancelScope() as scope:
                holder.update(rec=rec, scope=scope, token=trio.lowlevel.current_trio_token())
                ready.set()
                await trio.sleep_forever()

    thread = threading.Thread(target=trio.run, args=(serve,))
    thread.start()
    assert ready.wait(10)
    yield holder["rec"]
    trio.from_thread.run_sync(holder["scope"].cancel, trio_token=holder["token"])
    thread.join(10)
