"""Reload (SIGHUP) keeps unaffected binds; the bind-slot connection lost and regained."""

from __future__ import annotations

import trio

from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database, open_connection
from bridge.store.enqueue import SendRequest, enqueue
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)

SECOND = """
[[carriers]]
name = "sim2"
host = "127.0.0.1"
port = {port}
system_id = "other"
[carriers.segmentation]
concat = "udh8"
"""


async def _true(value: bool) -> bool:
    return value


async def test_reload_adds_replaces_and_keeps_unaffected_binds(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        port = sim.port or 0
        config = make_config(port)
        await create_account(db, "acme", credits="10")
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _true(sim.stats.bound == 1))
            # add a carrier: the first one's bind stays up
            await d.reload(make_config(port, extra=SECOND.format(port=port)), passwords={"sim2": "x"})
            await wait_until(lambda: _true(sim.stats.bound == 2))
            assert sim.stats.binds == 2 and set(d.stats().carriers) == {"sim", "sim2"}
            # change "sim": only it is replaced (one more bind), "sim2" untouched
            await d.reload(make_config(port, window=7, extra=SECOND.format(port=port)))
            await wait_until(lambda: _true(sim.stats.bound == 2))
            assert sim.stats.binds == 3
            # remove "sim2"; traffic still flows through "sim"
            await d.reload(make_config(port, window=7))
            await wait_until(lambda: _true(sim.stats.bound == 1))
            await enqueue(db, make_config(port), "acme", SendRequest(to=MY_NUMBERS[:5], message="Hi"))
            await wait_until(lambda: all_final(db))
        assert await counts(db) == {"delivered": 5} and sim.stats.binds == 3
        assert (await reconcile(db, "acme")).ok


_SLOT_HOLDER = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def test_bind_slot_connection_lost_and_regained(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0)
        await create_account(db, "acme", credits="10")
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: _true(sim.stats.bound == 1))
            # 1. lost, nobody took the slot meanwhile: re-taken, the bind stays up
            (pid,) = {r["pid"] for r in await db.fetch(_SLOT_HOLDER)}
            await db.execute("SELECT pg_terminate_backend($1)", pid)
            await wait_until(lambda: _new_holder(db, pid))
            assert sim.stats.binds == 1 and sim.stats.bound == 1
            # 2. lost, and another daemon took the slot meanwhile: our bind is stopped
            (pid,) = {r["pid"] for r in await db.fetch(_SLOT_HOLDER)}
            async with open_connection(pg_dsn) as rival:
                await db.execute("SELECT pg_terminate_backend($1)", pid)
                with trio.fail_after(5):
                    await rival.execute("SELECT pg_advisory_lock(hashtext('smpp-bridge:sim'), 0)")
                await wait_until(lambda: _true(sim.stats.bound == 0))
                assert "sim" not in d.stats().carriers
                await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[:3], message="Hi"))
                await trio.sleep(0.5)
                assert await counts(db) == {"queued": 3}  # no carrier here, nothing claimed
            # 3. the rival is gone (its session ended): the slot is ours again
            await wait_until(lambda: all_final(db))
            assert sim.stats.bound == 1 and sim.stats.binds == 2
        assert await counts(db) == {"delivered": 3}


async def _new_holder(db: Database, old: int) -> bool:
    pids = {r["pid"] for r in await db.fetch(_SLOT_HOLDER)}
    return bool(pids) and old not in pids
