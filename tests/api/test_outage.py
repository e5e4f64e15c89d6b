"""PostgreSQL cut off under the API: 503 `unavailable` with Retry-After, never a 500; back after."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import trio

from bridge.store.accounts import create_account
from bridge.store.db import open_database
from bridge.store.keys import create_key
from tests.api.harness import run_api, write_config
from tests.dispatch.proxy import PgProxy

GOOD = {"to": "+60123456789", "message": "Hello"}


async def test_database_outage_is_answered_503_and_passes(pg_dsn: str, tmp_path: Path) -> None:
    if "127.0.0.1:5432" not in pg_dsn:
        pytest.skip("the proxy reaches PostgreSQL on 127.0.0.1:5432 only (embedded server: a Unix socket)")
    async with open_database(pg_dsn, min_size=1, max_size=1) as db:
        await create_account(db, "acme", credits=Decimal(10))
        _, key = await create_key(db, "acme", "k", requests_per_minute=None)
    proxy = PgProxy()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.serve)
        config = write_config(tmp_path / "api.toml", pg_dsn.replace("127.0.0.1:5432", f"127.0.0.1:{port}"))
        with contextlib.ExitStack() as stack:
            server = await trio.to_thread.run_sync(stack.enter_context, run_api(config))
            http = stack.enter_context(server.client(key))

            async def call(method: str, path: str, **kw: object) -> httpx.Response:
                return await trio.to_thread.run_sync(lambda: http.request(method, path, **kw))  # type: ignore[arg-type]

            assert (await call("POST", "/sms/send", json=GOOD)).status_code == 201
            proxy.reset()  # every connection reset, new ones refused
            for method, path, kw in (("POST", "/sms/send", {"json": GOOD}), ("GET", "/balance", {}),
                                     ("GET", "/sms/msg_01m97s35v15n7dt9xzmtg5e22n", {})):  # fmt: skip
                answer = await call(method, path, **kw)
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"] == "unavailable" and answer.headers["Retry-After"] == "1"
            proxy.restore()
            with trio.fail_after(20):
                while (answer := await call("POST", "/sms/send", json=GOOD)).status_code != 201:
                    assert answer.status_code == 503, answer.text
                    await trio.sleep(0.2)
            await trio.to_thread.run_sync(stack.close)
        nursery.cancel_scope.cancel()
