"""Several daemons on one database: each serves its own endpoint, and its /health names
the instance and the bind slots it holds; uptime comes from every instance's rows."""

from __future__ import annotations

import trio

from bridge.store.db import Database
from tests.dispatch.harness import daemon, make_config, simulator
from tests.ops.client import get_json
from tests.ops.test_endpoint import endpoint


async def test_each_instance_says_which_slots_it_holds(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        async with (
            daemon(config, db, pg_dsn, name="a", max_binds=1) as a,
            daemon(config, db, pg_dsn, name="b", max_binds=1) as b,
            endpoint(a, db) as (url_a, _),
            endpoint(b, db) as (url_b, _),
        ):
            with trio.fail_after(10):
                await sim.wait_bound(2)
            docs = [(await get_json(url + "/health"))[1] for url in (url_a, url_b)]
            assert [d["instance"]["name"] for d in docs] == ["a", "b"]
            assert docs[0]["instance"]["id"] != docs[1]["instance"]["id"]
            slots = [d["networks"][0]["slots"] for d in docs]
            assert sorted(slots) == [[0], [1]], slots
            assert all(len(d["networks"][0]["binds"]) == 1 and d["networks"][0]["status"] == "live" for d in docs)
            await trio.sleep(0.7)  # a few samples by both
            rows = await db.fetch("SELECT DISTINCT instance FROM carrier_heartbeats WHERE carrier = 'sim'")
            assert sorted(r["instance"] for r in rows) == ["a", "b"]
