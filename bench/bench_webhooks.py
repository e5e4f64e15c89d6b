"""The webhook sender alone: deliveries/s and sender CPU per delivery to a local keep-alive receiver.

N outbox rows of one account (a sealed secret, a URL on 127.0.0.1) are written
up front; the sender (the daemon's code: claim, sign, POST with h11 over trio,
record) runs in this process until every row is delivered. The receiver is
another process (bench/webhook_receiver.py): its CPU is reported separately,
and so is PostgreSQL's. Target: at most 100 us of sender CPU per delivery.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_e2e import ADMIN_DSN, _admin, _cpu_seconds
from bench.common import Rate

DESCRIPTION = "webhook sender: deliveries/s and CPU per delivery (h11 over trio, one keep-alive receiver)"
TARGET_US = 100.0

_ROWS = """
INSERT INTO webhook_outbox (account_id, payload)
SELECT $1, jsonb_build_object('event', 'sms.status', 'id', 'msg_' || g, 'campaignId', 'camp_1',
       'to', '+60123456789', 'status', 'sent', 'reference', 'order-' || g,
       'timestamp', '2026-05-16T08:14:31.207Z')
FROM generate_series(1, $2) AS g
"""


def start_receiver(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = work / "receiver.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_receiver", str(port_file)], stdout=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the webhook receiver did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


async def _run(dsn: str, port: int, total: int) -> dict[str, Any]:
    import trio

    from bridge.store.accounts import create_account
    from bridge.store.db import open_database
    from bridge.store.migrate import migrate
    from bridge.webhooks.client import HttpClient
    from bridge.webhooks.endpoints import set_endpoint
    from bridge.webhooks.guard import AddressGuard
    from bridge.webhooks.sealing import MasterKey
    from bridge.webhooks.sender import Sender, SenderSettings

    await migrate(dsn)
    key, _text = MasterKey.generate()
    async with open_database(dsn, min_size=1, max_size=2) as db:
        account = await create_account(db, "bench")
        await set_endpoint(db, key, account="bench", url=f"http://127.0.0.1:{port}/hook", require_https=False)
        await db.execute(_ROWS, account.id, total)
        await db.execute("VACUUM ANALYZE webhook_outbox")
        backends = [r["pid"] for r in await db.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]  # fmt: skip
        guard = AddressGuard.from_settings(require_https=False, allow_networks=["127.0.0.1/32"])
        sender = Sender(db, HttpClient(guard, max_idle=16), master_key=key,
                        settings=SenderSettings(endpoint_concurrency=16, endpoint_queue=2000, batch=500))  # fmt: skip
        pg0 = sum(_cpu_seconds(p) for p in backends)
        t0 = os.times()
        cpu0, start = time.process_time(), time.perf_counter()
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            while await db.fetchval(  # noqa: ASYNC110 (polling PostgreSQL)
                "SELECT EXISTS (SELECT 1 FROM webhook_outbox WHERE state = 'pending')"
            ):
                await trio.sleep(0.02)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
            t1 = os.times()
            nursery.cancel_scope.cancel()
        pg = sum(_cpu_seconds(p) for p in backends) - pg0
        delivered = await db.fetchval("SELECT count(*) FROM webhook_outbox WHERE state = 'delivered'")
    return {"seconds": seconds, "sender_cpu": cpu, "sender_user": t1.user - t0.user,
            "sender_system": t1.system - t0.system, "pg_cpu": pg, "delivered": delivered}


def run_once(total: int) -> dict[str, Any]:
    import trio

    work = Path(tempfile.mkdtemp(prefix="smpp-bridge-bench-hooks-"))
    name = f"smpp_bridge_bench_{secrets.token_hex(4)}"
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    trio.run(_admin, ADMIN_DSN, f'CREATE DATABASE "{name}"')
    receiver, port = start_receiver(work)
    try:
        rec0 = _cpu_seconds(receiver.pid)
        r = trio.run(_run, dsn, port, total)
        r["receiver_cpu"] = _cpu_seconds(receiver.pid) - rec0
    finally:
        receiver.terminate()
        receiver.wait(10)
        trio.run(_admin, ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return r


def run(quick: bool) -> dict[str, Any]:
    total = 5_000 if quick else 20_000
    runs = [run_once(total) for _ in range(1 if quick else 3)]
    runs.sort(key=lambda r: r["sender_cpu"])
    r = runs[len(runs) // 2]
    per = {k: r[k] / max(r["delivered"], 1) * 1e6
           for k in ("sender_cpu", "sender_user", "sender_system", "pg_cpu", "receiver_cpu")}
    print(
        f"  {r['delivered']} deliveries in {r['seconds']:.2f}s = {r['delivered'] / r['seconds']:,.0f}/s;"
        f" CPU per delivery: sender {per['sender_cpu']:.0f} us (user {per['sender_user']:.0f},"
        f" system {per['sender_system']:.0f}), PostgreSQL {per['pg_cpu']:.0f} us,"
        f" receiver {per['receiver_cpu']:.0f} us"
    )
    extra = {f"{k}_us_per_delivery": round(v, 1) for k, v in per.items()}
    rate = Rate("deliveries (claim, sign, POST, record)", r["delivered"], (r["seconds"],), unit="deliveries/s",
                extra=extra)  # fmt: skip
    return {
        "figures": [rate.as_dict()],
        "targets": {"sender CPU per delivery (us)": {
            "want": f"<= {TARGET_US:g}", "got": round(per["sender_cpu"], 1), "ok": per["sender_cpu"] <= TARGET_US}},
    }  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(run(quick=True))
