"""`smpp-bridge demo`: the whole loop on a fresh clone, with nothing configured.

The traffic goes through the REST API, as customers use it: a key is created
(as `smpp-bridge keys create` does), `smpp-bridge api` runs as a child
process, and every send is a ``POST /api/v1/sms/send`` shaped like the seed's
example; the run ends with ``GET /api/v1/sms/{id}`` and ``GET /api/v1/balance``.

A throw-away database (a new database on 127.0.0.1:5432 when a server
answers there as ``postgres``, else the embedded PostgreSQL in a temporary
directory), migrated; our SMSC simulator on a free port, with some failures
(destinations ending in 0000 are undeliverable, about 4% of the rest end
UNDELIV or EXPIRED at random); a configuration built
here (one carrier, a default route, rates for MY/SG/ID/TH/PH); a demo account
with credits; a mix of traffic (GSM, Unicode and emoji, long multipart texts,
invalid numbers, numbers that fail); the daemon; a local webhook receiver set as
the demo account's endpoint, with the webhook sender; progress lines until every
message is final; a table (with the webhooks received and verified); the billing
reconciliation; and everything removed. Exit 0 when every message ended final,
the ledger reconciles, and each final message came back as one signed webhook.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ACCOUNT = "demo"
CREDITS = Decimal("10000")

CONFIG_TOML = """
[[carriers]]
name = "demo-smsc"
host = "127.0.0.1"
port = {port}
binds = 2
window = 200
tps = 50000
system_id = "demo"
response_timeout = "5s"
on_unknown_outcome = "fail"
[carriers.source]
default_sender_id = "ProSignals"
[carriers.segmentation]
concat = "udh8"
max_parts = 10

[[routes]]
default = true
carriers = [{{ carrier = "demo-smsc" }}]

[rates]
default = "0.2000"
[rates.countries]
MY = "0.0500"
SG = "0.1200"
ID = "0.1500"
TH = "0.1300"
PH = "0.1100"

[logging]
level = "warning"
format = "console"

[daemon]
poll_interval = "200ms"
drain_timeout = "5s"
heartbeat_interval = "1s"
lease = "10s"

[webhooks]
require_https = false
allow_networks = ["127.0.0.1/32"]
"""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="recipients to send (default 2000)")
    parser.add_argument("--timeout", type=float, default=40.0, help="seconds to wait for final states")
    parser.add_argument("--embedded", action="store_true", help="use the embedded PostgreSQL even if one runs")
    parser.add_argument("--dsn", help="admin DSN of a server to create the demo database on")
    parser.add_argument("--seed", type=int, default=None, help="make the traffic reproducible")


# --- the database ------------------------------------------------------------------------


@contextlib.contextmanager
def _embedded() -> Iterator[tuple[str, str]]:
    from bridge.store.embedded import start_embedded

    data_dir = tempfile.mkdtemp(prefix="smpp-bridge-demo-")
    print(f"database : embedded PostgreSQL in {data_dir} (starting...)", flush=True)
    server = start_embedded(data_dir)
    try:
        yield server.dsn, "embedded"
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _can_login(dsn: str) -> bool:
    import trio

    from bridge.store.db import open_connection

    try:
        with trio.fail_after(5):
            async with open_connection(dsn, connect_timeout=3) as conn:
                await conn.fetchval("SELECT 1")
    except Exception:
        return False
    return True


@contextlib.asynccontextmanager
async def _temporary_database(admin_dsn: str) -> AsyncIterator[str]:
    from urllib.parse import urlsplit, urlunsplit

    import trio

    from bridge.store.db import open_connection

    name = f"smpp_bridge_demo_{secrets.token_hex(4)}"
    async with open_connection(admin_dsn) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_dsn)._replace(path="/" + name))
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(15):
            async with open_connection(admin_dsn) as conn:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the run -----------------------------------------------------------------------------

_COUNTS = """
SELECT count(*) FILTER (WHERE state = 'queued') AS pending,
       count(*) FILTER (WHERE state = 'delivered') AS sent,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       count(*) FILTER (WHERE state = 'invalid') AS invalid,
       coalesce(sum(segments) FILTER (WHERE state = 'delivered'), 0) AS sent_segments,
       coalesce(sum(segments) FILTER (WHERE state = 'failed'), 0) AS failed_segments
FROM messages WHERE account_id = $1
"""
_MONEY = """
SELECT coalesce(sum(amount) FILTER (WHERE kind = 'reservation'), 0) AS reserved,
       coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charged,
       coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded
FROM ledger WHERE account_id = $1
"""


def _simulator_config() -> Any:
    from bridge.simulator import SimulatorConfig
    from bridge.simulator.config import DestinationRule, Outcome

    return SimulatorConfig(
        receipt_delay=(0.05, 0.6),
        outcomes=(Outcome(stat="DELIVRD", weight=0.96), Outcome(stat="UNDELIV", weight=0.02, err=1),
                  Outcome(stat="EXPIRED", weight=0.02, err=27)),
        destination_rules=(DestinationRule(suffix="0000", stat="UNDELIV", err=1),),
    )  # fmt: skip


async def _demo(args: argparse.Namespace, dsn: str) -> int:
    import trio

    from bridge.commands.demo_hooks import start_webhooks, wait_for
    from bridge.commands.demo_http import api_process
    from bridge.commands.demo_traffic import traffic
    from bridge.dispatch import Daemon
    from bridge.simulator import Simulator
    from bridge.store.accounts import create_account, get_account, reconcile
    from bridge.store.db import open_database
    from bridge.store.keys import create_key
    from bridge.store.migrate import migrate
    from config.load import parse_config

    await migrate(dsn)
    async with open_database(dsn, min_size=2, max_size=8) as db, trio.open_nursery() as nursery:
        port = await nursery.start(Simulator(_simulator_config()).serve, "127.0.0.1", 0)
        print(f"simulator: SMSC on 127.0.0.1:{port} (0000 numbers undeliverable, 4% random failures)")
        text = CONFIG_TOML.format(port=port) + f'\n[database]\ndsn = "{dsn}"\n'
        config = parse_config(text, source="<demo>")
        config_path = Path(tempfile.mkdtemp(prefix="smpp-bridge-demo-")) / "demo.toml"
        config_path.write_text(text, encoding="utf-8")
        account = await create_account(db, ACCOUNT, credits=CREDITS)
        before = account.balance
        # The demo's own key: without the seed's 60 requests a minute, it sends hundreds.
        _, key = await create_key(db, ACCOUNT, "demo", requests_per_minute=None)
        print(f"api key  : {key[:17]}… (smpp-bridge keys create demo --name demo --no-rate-limit)")

        daemon = Daemon(config, db, dsn=dsn, passwords={"demo-smsc": ""}, instance_name="demo")
        await nursery.start(daemon.run)
        hooks = await start_webhooks(db, config, dsn, ACCOUNT, nursery)
        print(f"webhooks : receiver on {hooks.url()} (smpp-bridge webhooks set --account demo URL)")
        sends = traffic(args.messages, args.seed)
        total = sum(len(to) for _, to in sends)
        try:
            async with api_process(config_path) as url:
                print(f"api      : smpp-bridge api on {url}", flush=True)
                started = time.perf_counter()
                results = await _send(url, key, sends)
                counts = await _wait(db, account.id, started, args.timeout)
                elapsed = time.perf_counter() - started
                await wait_for(hooks, counts["sent"] + counts["failed"], 15)
                await _show(url, key, results)
        finally:
            shutil.rmtree(config_path.parent, ignore_errors=True)
        with trio.move_on_after(10):
            await daemon.drain(5)
        money = await db.fetchrow(_MONEY, account.id)
        after = (await get_account(db, account.id)).balance
        check = await reconcile(db, account.id)
        nursery.cancel_scope.cancel()  # the simulator
    assert money is not None
    final = counts["sent"] + counts["failed"]
    rows = [
        ("messages", f"{total}"),
        ("  sent", f"{counts['sent']}  ({counts['sent_segments']} segments)"),
        ("  failed", f"{counts['failed']}  ({counts['failed_segments']} segments)"),
        ("  invalid", f"{counts['invalid']}  (never sent, never charged)"),
        ("  pending", f"{counts['pending']}"),
        ("reserved", f"{money['reserved']} MYR"),
        ("charged", f"{money['charged']} MYR"),
        ("refunded", f"{money['refunded']} MYR"),
        ("balance before", f"{before} MYR"),
        ("balance after", f"{after} MYR"),
        ("throughput", f"{final / elapsed:,.0f} msg/s ({final} final in {elapsed:.2f}s)"),
        ("webhooks", f"{hooks.requests} received, {hooks.verified} signature verified, {hooks.duplicates} twice"),
        ("  sms.status", f"sent {hooks.statuses['sent']}, failed {hooks.statuses['failed']}"),
    ]
    print("\n" + "-" * 52)
    for label, value in rows:
        print(f"  {label:<16} {value}")
    print("-" * 52)
    hooked = hooks.verified == hooks.requests == len(hooks.messages) == final
    ok = check.ok and counts["pending"] == 0 and before - after == money["charged"] and hooked
    print(f"billing  : reservations {check.reservations} = charges {check.charges} + refunds "
          f"{check.refunds} + open {check.open}: {'reconciled' if check.ok else 'NOT RECONCILED'}")  # fmt: skip
    if not hooked:
        print(f"error: {hooks.requests} webhooks ({hooks.verified} verified) for {final} final messages", file=sys.stderr)
    if counts["pending"]:
        print(f"error: {counts['pending']} messages still pending after {args.timeout:g}s", file=sys.stderr)
    return 0 if ok else 1


async def _send(url: str, key: str, sends: list[tuple[str, list[str]]]) -> list[Any]:
    from bridge.commands.demo_http import curl, send_all

    first_body, first_to = sends[0]
    print("\nPOST /sms/send, as the seed's example:\n" + curl(url, "/sms/send",
          {"to": first_to[0] if len(first_to) == 1 else first_to, "message": first_body, "reference": "order-1"}))  # fmt: skip
    started = time.perf_counter()
    results = await send_all(url, key, sends)
    took = time.perf_counter() - started
    refused = [r for r in results if r[1] != 201]
    total = sum(len(r[0]["to"]) if isinstance(r[0]["to"], list) else 1 for r in results)
    print(f"sent     : {len(results)} POST /sms/send ({total} recipients) in {took:.2f}s, "
          f"{len(results) / took:,.0f} requests/s, {len(refused)} refused", flush=True)  # fmt: skip
    for _request, status, body in refused[:3]:
        print(f"  {status} {body.get('error')}: {body.get('message')}", file=sys.stderr)
    return results


async def _show(url: str, key: str, results: list[Any]) -> None:
    """A few GET /sms/{id} (one of each status) and GET /balance, as a customer polls them."""
    from bridge.commands.demo_http import curl, get

    shown: set[str] = set()
    for _request, status, body in results:
        if status != 201:
            continue
        for recipient in body["recipients"]:
            code, view, raw = await get(url, key, f"/sms/{recipient['id']}")
            if code == 200 and view["status"] not in shown:
                shown.add(view["status"])
                print(f"\n{curl(url, '/sms/' + recipient['id'])}\n  -> {raw}")
        if len(shown) == 3:
            break
    _, _, raw = await get(url, key, "/balance")
    print(f"\n{curl(url, '/balance')}\n  -> {raw}")


async def _wait(db: Any, account_id: int, started: float, limit: float) -> dict[str, int]:
    import trio

    last = 0
    last_t = started
    while True:
        row = await db.fetchrow(_COUNTS, account_id)
        counts = {k: int(row[k]) for k in row.keys()}  # noqa: SIM118 (asyncpg Record)
        now = time.perf_counter()
        final = counts["sent"] + counts["failed"]
        rate = (final - last) / max(now - last_t, 1e-9)
        last, last_t = final, now
        print(f"  {now - started:5.1f}s  pending {counts['pending']:>6}  sent {counts['sent']:>6}  "
              f"failed {counts['failed']:>5}  invalid {counts['invalid']:>4}  {rate:>8,.0f} msg/s",
              flush=True)  # fmt: skip
        if counts["pending"] == 0 or now - started > limit:
            return counts
        await trio.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    import trio

    from bridge.logs import configure_logging
    from bridge.store.embedded import server_reachable
    from config.schema import Logging

    configure_logging(Logging(level="warning", format="console"))
    admin = args.dsn or ADMIN_DSN

    async def with_server() -> int:
        async with _temporary_database(admin) as dsn:
            print(f"database : temporary database on {dsn.rsplit('@', 1)[-1]}", flush=True)
            return await _demo(args, dsn)

    if not args.embedded and (args.dsn or server_reachable("127.0.0.1", 5432)) and trio.run(_can_login, admin):
        return trio.run(with_server)
    with _embedded() as (dsn, _):
        return trio.run(_demo, args, dsn)
