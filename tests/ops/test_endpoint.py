"""The daemon's /metrics and /health while the simulator drops binds, throttles and
delays receipts; readiness while the database is cut off (tests/dispatch/proxy.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio

from bridge.carrier.backoff import BackoffPolicy
from bridge.ops.http import listen, serve
from bridge.ops.sampler import DaemonOps
from bridge.simulator import SimulatorConfig
from bridge.simulator.config import with_overrides
from bridge.store.accounts import create_account
from bridge.store.db import Database, open_database
from bridge.store.enqueue import SendRequest, enqueue_many
from tests.dispatch.harness import (
    MY_NUMBERS,
    add_webhook_url,
    all_final,
    daemon,
    make_config,
    simulator,
    wait_until,
)
from tests.dispatch.proxy import PgProxy
from tests.ops.client import get, get_json, scrape, value

FAST_RECONNECT = {"reconnect": BackoffPolicy(base=0.2, factor=1.0, cap=0.2)}


@contextlib.asynccontextmanager
async def endpoint(d: object, db: Database, interval: float = 0.3) -> AsyncIterator[tuple[str, DaemonOps]]:
    ops = DaemonOps(d, db, None, interval=interval, db_timeout=1.0)
    listeners = await listen("127.0.0.1:0")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ops.run)
        nursery.start_soon(serve, listeners, ops.handle, ops.http_requests)
        yield f"http://127.0.0.1:{port}", ops
        nursery.cancel_scope.cancel()


async def _network(url: str) -> dict[str, object]:
    status, doc = await get_json(url + "/health")
    assert status == 200
    (net,) = doc["networks"]
    return dict(net)


async def _until_status(url: str, want: str, limit: float = 10.0) -> dict[str, object]:
    with trio.fail_after(limit):
        while True:
            net = await _network(url)
            if net["status"] == want:
                return net
            await trio.sleep(0.1)


async def test_health_and_metrics_follow_binds_throttling_and_receipts(db: Database, pg_dsn: str) -> None:
    sim_config = SimulatorConfig(handset_log=10_000, receipt_delay=(0.4, 0.5), seed=3)
    async with simulator(sim_config) as sim:
        config = make_config(sim.port or 0, carrier="binds = 2")
        await create_account(db, "acme", credits="100")
        await add_webhook_url(db)  # outbox rows are written only for accounts with an endpoint
        async with daemon(config, db, pg_dsn, carrier_options=FAST_RECONNECT) as d, endpoint(d, db) as (url, ops):
            await enqueue_many(db, config, "acme", [SendRequest(to=MY_NUMBERS[:60], message="Your code is 1234")])
            await wait_until(lambda: all_final(db))
            await trio.sleep(0.7)  # a sample after the receipts
            net = await _until_status(url, "live")
            assert net["uptime_24h"] is not None and float(str(net["uptime_24h"])) > 0
            # submit -> receipt: the simulator's 0.4-0.5 s, round trip: milliseconds
            assert 350 <= int(str(net["avg_latency_ms"])) <= 1500, net
            assert int(str(net["round_trip_ms"])) < 350
            assert net["slots"] == [0, 1] and len(net["binds"]) == 2  # type: ignore[arg-type]
            assert net["recent_heartbeats"] and net["last_heartbeat_at"]
            m = await scrape(url + "/metrics")
            assert value(m, "smpp_bridge_submit_response_seconds_count", carrier="sim") == 60
            assert value(m, "smpp_bridge_submit_receipt_seconds_count", carrier="sim") == 60
            assert value(m, "smpp_bridge_queue_to_submit_seconds_count", carrier="sim") == 60
            assert value(m, "smpp_bridge_receipts_total", carrier="sim") == 60
            assert value(m, "smpp_bridge_responses_total", command="submit_sm", status="0x00000000") == 60
            assert value(m, "smpp_bridge_bind_up", carrier="sim") == 2
            assert value(m, "smpp_bridge_writer_flush_rows_count") >= 1
            assert value(m, "smpp_bridge_webhook_outbox", state="pending") == 60
            assert value(m, "smpp_bridge_webhook_backlog") == 60
            assert "process_cpu_seconds_total" in m and "process_resident_memory_bytes" in m

            # One bind dropped and its re-bind refused: degraded; both: down.
            sim.config = with_overrides(sim.config, accounts={"bridge": "not-this-one"})
            sim.bound_sessions()[0].abort()
            net = await _until_status(url, "degraded")
            assert sorted(b["bound"] for b in net["binds"]) == [False, True]  # type: ignore[attr-defined]
            sim.drop()
            await _until_status(url, "down")
            assert (await get(url + "/health/ready"))[0] == 503
            m = await scrape(url + "/metrics")
            assert value(m, "smpp_bridge_bind_up", carrier="sim") == 0
            sim.config = with_overrides(sim.config, accounts={})
            await _until_status(url, "live")
            assert (await get(url + "/health/ready"))[0] == 200

            # Throttling (0x58 above 20 submits/s): counted, and the carrier degraded.
            sim.config = with_overrides(sim.config, throttle_tps=20, throttle_scope="bind")
            sim.drop()  # the binds that come back are throttled
            with trio.fail_after(10):
                await sim.wait_bound(2)
            await enqueue_many(db, config, "acme", [SendRequest(to=MY_NUMBERS[i : i + 100], message="Your code") for i in (100, 200)])
            with trio.fail_after(15):
                while not (net := await _network(url))["throttle"]["throttled"]:  # type: ignore[index]  # noqa: ASYNC110
                    await trio.sleep(0.1)
            assert net["status"] == "degraded" and net["throttle"]["events"] > 0  # type: ignore[index]
            m = await scrape(url + "/metrics")
            assert value(m, "smpp_bridge_throttle_events_total", status="0x00000058") > 0
            assert value(m, "smpp_bridge_send_rate", carrier="sim") < value(m, "smpp_bridge_send_rate_max")
            sim.config = with_overrides(sim.config, throttle_tps=None)
            sim.drop()
            await wait_until(lambda: all_final(db), limit=40)

            status, ctype, body = await get(url + "/")
            assert status == 200 and ctype.startswith("text/html")
            page = body.decode()
            assert "sim" in page and 'data-status="' in page and "+6012" not in page
            assert ops.http_requests[("/metrics", 200)] >= 3


async def test_ready_follows_the_database(db: Database, pg_dsn: str) -> None:
    proxy = PgProxy()
    async with trio.open_nursery() as nursery, simulator() as sim:
        await nursery.start(proxy.serve)
        proxied = pg_dsn.replace(":5432/", f":{proxy.port}/")
        config = make_config(sim.port or 0)
        async with (
            open_database(proxied, max_size=4) as daemon_db,
            daemon(config, daemon_db, proxied, db_timeout=1.0) as d,
            endpoint(d, daemon_db) as (url, _),
        ):
            assert (await get_json(url + "/health/ready")) == (200, {"ready": True})
            proxy.blackhole()
            status, doc = await get_json(url + "/health/ready")
            assert (status, doc) == (503, {"ready": False})
            assert (await get(url + "/health/live"))[0] == 200  # the process is alive all the same
            with trio.fail_after(10):
                while (await get_json(url + "/health"))[1]["database"]["reachable"]:  # noqa: ASYNC110 (polling the endpoint)
                    await trio.sleep(0.1)
            m = await scrape(url + "/metrics")
            assert value(m, "smpp_bridge_database_up") == 0
            proxy.restore()
            with trio.fail_after(15):
                while (await get(url + "/health/ready"))[0] != 200:  # noqa: ASYNC110 (polling the endpoint)
                    await trio.sleep(0.2)
        nursery.cancel_scope.cancel()
