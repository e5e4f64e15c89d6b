"""ESME_RMSGQFUL (0x14) under load is a throttle signal (bridge/carrier/policy.py).

The simulator answers 0x14 to every submit_sm over 100 per second, as SMPPSim does
when its queue is full. The carrier slows down (AIMD) and resubmits the same parts;
those answers do not count toward max_attempts (2 here: one more counted answer
would fail the part), so no part fails while the queue drains.
"""

from __future__ import annotations

import msgspec

from bridge.simulator import SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
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

N = 300


async def test_queue_full_under_load_fails_no_part(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, throttle_tps=100, throttle_status=0x14, seed=4)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, window=50, carrier="max_attempts = 2")
        carrier = msgspec.structs.replace(config.carriers[0], tps=400)
        config = msgspec.structs.replace(config, carriers=[carrier])
        await create_account(db, "acme", credits="100")
        for start in range(0, N, 100):
            await enqueue(db, config, "acme", SendRequest(to=MY_NUMBERS[start : start + 100], message="Hi"))
        async with daemon(config, db, pg_dsn) as d:
            await wait_until(lambda: all_final(db), limit=60)
            stats = d.stats()
            health = stats.carriers["sim"]
    assert sim.stats.throttled > 0 and sim.stats.resps[0x14] == sim.stats.throttled
    assert await counts(db) == {"delivered": N}
    assert stats.rejected == 0 and stats.accepted == N
    assert health.throttle_rate < 400
    assert (await reconcile(db, "acme")).ok
