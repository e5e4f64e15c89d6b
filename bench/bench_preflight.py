"""SMS Preflight: sessions created/s (HTTP), MO matched/s, p99 deliver_sm -> stored result.

1. sessions: `smpp-bridge api` on a fresh database with 5 probe networks; bench/http_load
   posts `POST /api/sessions` on 8 keep-alive connections (one team user, a key without
   rate limit) for a few seconds. Target: at least 200 created a second.
2. matching: N sessions on 2 networks of 500 numbers each (a few overlapping sessions per
   number), then 2N MO (their test codes in the text) stored with the daemon's own MO
   statement; the matcher's passes (bridge/preflight/matcher.py) are timed until every
   MO is matched. Target: at least 5,000 MO matched a second.
3. latency: the simulator, the daemon and its preflight service in this process; MO
   routed by the simulator at a steady rate to probe numbers of open sessions; from the
   moment the simulator queues the deliver_sm to the commit of the pass that stored the
   result (each session has one network, so that commit completes it). Target: p99
   under 100 ms.
Figures are for the machine's reference loop speed in the header (targets at 40 M).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_e2e import ADMIN_DSN, _admin
from bench.common import SIM_BRIDGE_CONFIG, Rate, target

DESCRIPTION = "SMS Preflight: sessions/s through the API, MO matched/s, p99 deliver_sm -> stored result"
TARGET_SESSIONS = 200.0
TARGET_MATCHED = 5000.0
TARGET_P99_MS = 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _networks(count: int, numbers: int, prefix: str) -> str:
    out = []
    for n in range(count):
        nums = ", ".join(f'"+4479{prefix}{n}{i:05d}"' for i in range(numbers))
        out.append(f'[[preflight.networks]]\nslug = "net{n}"\nname = "Net {n}"\nnumbers = [{nums}]\n')
    return "\n".join(out)


def _config(port: int, networks: str) -> str:
    """The benches' shared simulator-bridge configuration (database from
    SMPP_BRIDGE_BENCH_DSN), the API's access log off, and the probe networks."""
    return SIM_BRIDGE_CONFIG.format(port=port, binds=1, window=100) + "\n[api]\naccess_log = false\n\n" + networks


def _wait_live(port: int, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1):
                return
        except OSError:
            if api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API did not start") from None
            time.sleep(0.1)


class _Database:
    def __init__(self) -> None:
        import trio

        from bridge.store.migrate import migrate

        self.name = f"smpp_bridge_bench_{secrets.token_hex(4)}"
        self.dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.name
        trio.run(_admin, ADMIN_DSN, f'CREATE DATABASE "{self.name}"')
        trio.run(migrate, self.dsn)

    def drop(self) -> None:
        import trio

        trio.run(_admin, ADMIN_DSN, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _sessions_http(quick: bool) -> dict[str, Any]:
    import trio

    from bridge.preflight.users import create_key, create_user
    from bridge.store.db import open_database

    db = _Database()
    work = Path(tempfile.mkdtemp(prefix="smpp-bridge-bench-preflight-"))
    config = work / "bench.toml"
    config.write_text(_config(2775, _networks(5, 4, "1")))

    async def user() -> str:
        async with open_database(db.dsn, min_size=1, max_size=1) as conn:
            found = await create_user(conn, "bench", plan="team", name="Bench", email="bench@localhost")
            return (await create_key(conn, found.account_id, "bench", requests_per_minute=None))[1]

    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "api", "-c", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SMPP_BRIDGE_BENCH_DSN": db.dsn},
    )  # fmt: skip
    try:
        _wait_live(port, api)
        key = trio.run(user)
        body = json.dumps({"sender_id": "MYAPP", "expected_body": "Hello!"})
        spec = {"host": "127.0.0.1", "port": port, "seconds": 3 if quick else 8,
                "connections": 8, "rate": None, "requests": [["POST", "/api/sessions", body, key]]}  # fmt: skip
        path = work / "spec.json"
        path.write_text(json.dumps(spec))
        out = subprocess.run([sys.executable, "-m", "bench.http_load", str(path)], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip
        result: dict[str, Any] = json.loads(out.stdout)
    finally:
        api.terminate()
        api.wait(15)
        db.drop()
    return result


async def _matching(dsn: str, sessions: int) -> tuple[int, float]:
    from bridge.dispatch.apply import Applied, apply_mo
    from bridge.dispatch.inbound import MoRow
    from bridge.preflight.matcher import match_inbox
    from bridge.preflight.networks import sync_networks
    from bridge.preflight.sessions import NewSession, create_session
    from bridge.preflight.users import create_user
    from bridge.store.db import open_database
    from config.load import parse_config

    config = parse_config(_config(2775, _networks(2, 500, "2")), source="bench")
    async with open_database(dsn, min_size=1, max_size=4) as db:
        await sync_networks(db, config.preflight)
        user = await create_user(db, "bench", plan="team", name="Bench", email="bench@localhost")
        now = datetime.now(UTC) - timedelta(seconds=30)
        for _ in range(sessions):
            await create_session(db, user.account_id, NewSession(sender_id="MYAPP"), now=now, ttl=timedelta(minutes=5))
        rows = await db.fetch(
            "SELECT r.digits, s.test_code FROM preflight_results r JOIN preflight_sessions s ON s.id = r.session_id"
        )
        mos = [MoRow(carrier="sim", source="MYAPP", source_ton=5, source_npi=0, destination=r["digits"], dest_ton=1,
                     dest_npi=1, esm_class=0, data_coding=0, body=None, raw=f"Test {r['test_code']}".encode(),
                     concat_ref=None, concat_seq=None, concat_total=None) for r in rows]  # fmt: skip
        for start in range(0, len(mos), 1000):
            await apply_mo(db, mos[start : start + 1000], Applied())
        matched = 0
        started = time.perf_counter()
        while True:
            done = await match_inbox(db, limit=1000)
            matched += done.matched
            if done.taken == 0:
                break
        return matched, time.perf_counter() - started


def _matching_runs(quick: bool) -> Rate:
    import trio

    seconds, items = [], 0
    for _ in range(1 if quick else 3):
        db = _Database()
        try:
            items, elapsed = trio.run(_matching, db.dsn, 1000 if quick else 5000)
        finally:
            db.drop()
        seconds.append(elapsed)
    return Rate("MO matched (reassemble, choose, verdict, store)", items, tuple(seconds), unit="MO/s")


async def _latency(dsn: str, count: int, rate: float) -> list[float]:
    import trio

    from bridge.dispatch import Daemon
    from bridge.logs import configure_logging
    from bridge.preflight.service import PreflightService
    from bridge.preflight.sessions import NewSession, create_session
    from bridge.preflight.users import create_user
    from bridge.simulator import Simulator, SimulatorConfig
    from bridge.simulator.deliveries import Delivery
    from bridge.smpp.pdus import DeliverSm
    from bridge.store.db import open_database
    from config.load import parse_config
    from config.schema import Logging

    sim = Simulator(SimulatorConfig())
    queued: dict[Any, float] = {}
    stored: dict[Any, float] = {}
    port = free_port()
    config = parse_config(_config(port, _networks(1, count, "3")), source="bench")
    configure_logging(Logging(level="warning", format="json"))
    async with open_database(dsn, min_size=2, max_size=8) as db, trio.open_nursery() as nursery:
        await nursery.start(sim.serve, "127.0.0.1", port)
        service = PreflightService(db, config, poll=1.0)
        original = service.match_now

        async def timed() -> Any:
            done = await original()
            at = trio.current_time()
            for sid in done.completed_ids:
                stored[sid] = at
            return done

        service.match_now = timed  # type: ignore[method-assign]
        daemon = Daemon(config, db, dsn=dsn, passwords={"sim": "pw"}, instance_name="bench")
        await nursery.start(daemon.run)
        await nursery.start(service.run)
        user = await create_user(db, "bench", plan="team", name="Bench", email="bench@localhost")
        now = datetime.now(UTC)
        ids = [await create_session(db, user.account_id, NewSession(sender_id="MYAPP"), now=now,
                                    ttl=timedelta(minutes=5)) for _ in range(count)]  # fmt: skip
        rows = await db.fetch("SELECT session_id, digits FROM preflight_results WHERE session_id = ANY($1)", ids)
        await sim.wait_bound(1)
        account = sim.account("bench")
        start = trio.current_time()
        for n, row in enumerate(rows):
            await trio.sleep_until(start + n / rate)
            due = trio.current_time()
            pdu = DeliverSm(source_addr_ton=5, source_addr="MYAPP", dest_addr_ton=1, dest_addr_npi=1,
                            destination_addr=row["digits"], short_message=b"Hello!")  # fmt: skip
            queued[row["session_id"]] = due
            account.route(Delivery(mo=pdu), due=due, now=due)
        with trio.move_on_after(60):
            while len(stored) < len(rows):  # noqa: ASYNC110
                await trio.sleep(0.05)
        if len(stored) < len(rows):
            counts = await db.fetchrow(
                "SELECT (SELECT count(*) FROM inbound_messages) AS mo, (SELECT count(*) FROM preflight_inbox) AS inbox,"
                " (SELECT count(*) FROM preflight_results WHERE status = 'received') AS received")
            raise RuntimeError(f"{len(stored)} of {len(rows)} results stored within 60 s: {dict(counts or {})}, {service.stats}")
        await daemon.drain(5)
        nursery.cancel_scope.cancel()
    return sorted((stored[s] - queued[s]) * 1000 for s in queued)


def run(quick: bool) -> dict[str, Any]:
    import trio

    http = _sessions_http(quick)
    created = http["statuses"].get("201", 0)
    sessions = Rate("sessions created (POST /api/sessions, 8 connections)", created, (http["seconds"],),
                    unit="sessions/s")  # fmt: skip
    matched = _matching_runs(quick)
    db = _Database()
    try:
        count, rate = (300, 100.0) if quick else (2000, 200.0)
        latencies = trio.run(_latency, db.dsn, count, rate)
    finally:
        db.drop()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"  deliver_sm -> stored result over {len(latencies)} MO at {rate:g}/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return {
        "figures": [sessions.as_dict(), matched.as_dict()],
        "latency_ms": {"p50": round(p50, 1), "p99": round(p99, 1), "count": len(latencies), "rate": rate},
        "targets": {
            "sessions created per second": target(TARGET_SESSIONS, sessions.median),
            "MO matched per second": target(TARGET_MATCHED, matched.median),
            "p99 deliver_sm -> stored result (ms)": {
                "want": f"< {TARGET_P99_MS:g}", "got": round(p99, 1), "ok": p99 < TARGET_P99_MS},
        },
    }


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(run(quick=True))
