"""Two daemons on one database: no part submitted twice; recovery only of a dead daemon's parts."""

from __future__ import annotations

from collections import Counter

import trio

from bridge.dispatch import Daemon
from bridge.simulator import SimulatorConfig
from bridge.store.accounts import create_account, reconcile
from bridge.store.db import Database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.dispatch.harness import (
    MY_NUMBERS,
    all_final,
    counts,
    daemon,
    make_config,
    simulator,
    wait_until,
)


def _requests(numbers: list[str]) -> list[SendRequest]:
    return [SendRequest(to=numbers[i : i + 100], message="Hi") for i in range(0, len(numbers), 100)]


async def test_two_daemons_never_submit_a_part_twice(db: Database, pg_dsn: str) -> None:
    async with simulator() as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        await create_account(db, "acme", credits="100")
        async with (
            daemon(config, db, pg_dsn, name="a", max_binds=1) as a,
            daemon(config, db, pg_dsn, name="b", max_binds=1) as b,
        ):
            # each holds one of the carrier's two bind slots (advisory locks)
            assert len(a.stats().carriers["sim"].binds) == 1 == len(b.stats().carriers["sim"].binds)
            for chunk in range(0, 1000, 200):
                await enqueue_many(db, config, "acme", _requests(MY_NUMBERS[chunk : chunk + 200]))
                await trio.sleep(0.05)
            await wait_until(lambda: all_final(db))
            sa, sb = a.stats(), b.stats()
        assert await counts(db) == {"delivered": 1000}
        assert sa.claimed > 0 and sb.claimed > 0 and sa.claimed + sb.claimed == 1000
        assert sa.recovered == 0 == sb.recovered
        per_destination = Counter(h.destination for h in sim.handsets)
        assert len(per_destination) == 1000 and set(per_destination.values()) == {1}
        assert sim.stats.submits == 1000
        assert (await reconcile(db, "acme")).ok


async def test_only_a_dead_daemons_parts_are_recovered(db: Database, pg_dsn: str) -> None:
    # A throttling SMSC keeps parts 'submitting' (the carriers retry 0x58 internally).
    # Its window takes a burst of throttle_tps at once: at 40, one daemon could get all
    # of its 40 claimed parts accepted and committed right as the test killed it, and
    # leave no orphan (seen once in CI); at 20, half of them at least stay submitting.
    # max_attempts counts throttled submits too.
    async with simulator(SimulatorConfig(handset_log=10_000, throttle_tps=20)) as sim:
        config = make_config(
            sim.port or 0, carrier='binds = 2\non_unknown_outcome = "resubmit"\nmax_attempts = 100'
        )
        await create_account(db, "acme", credits="100")
        async with daemon(config, db, pg_dsn, name="b", max_binds=1) as b:
            a = Daemon(config, db, dsn=pg_dsn, passwords={"sim": "pw"}, instance_name="a",
                       max_binds=1, sweep_interval=0.5, db_timeout=2.0)  # fmt: skip
            async with trio.open_nursery() as crash:
                await crash.start(a.run)
                await enqueue_many(db, config, "acme", _requests(MY_NUMBERS[:120]))
                await wait_until(lambda: _owned_submitting(db, a.instance_id, at_least=30))
                crash.cancel_scope.cancel()  # A dies: no drain, its row keeps a live lease for a while
            orphans = await _submitting(db, a.instance_id)
            assert orphans > 0
            # while A's lease runs, B leaves A's parts alone
            assert b.stats().recovered == 0
            await wait_until(lambda: all_final(db), limit=40)
            sb = b.stats()
        assert sb.recovered == orphans  # exactly A's parts, none of B's own
        assert await counts(db) == {"delivered": 120}
        assert (await reconcile(db, "acme")).ok


async def _submitting(db: Database, owner: int) -> int:
    n: int = await db.fetchval(
        "SELECT count(*) FROM message_parts WHERE state = 'submitting' AND owner_instance = $1", owner
    )
    return n


async def _owned_submitting(db: Database, owner: int, *, at_least: int) -> bool:
    return await _submitting(db, owner) >= at_least
