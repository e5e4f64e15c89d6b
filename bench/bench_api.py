"""The REST API: accepted sends/s (201 after commit), status reads/s, latency at half the peak.

As in production, on this machine: PostgreSQL (127.0.0.1:5432 when it answers,
else the embedded server), the daemon (`smpp-bridge run`) and the simulator
running, one `smpp-bridge api` process, and a load generator in a process of
its own (bench/http_load.py: raw HTTP/1.1 on keep-alive connections). Rate
limits off (keys with --no-rate-limit). Figures:

- single-recipient sends/s and 100-recipient calls (recipients/s), with 1 and
  16 accounts (16 keys, one per account);
- GET /sms/{id} per second;
- p50/p99 latency of single-recipient sends in an open loop at half the peak;
- CPU per request of the API process and of PostgreSQL (the API's backends,
  told apart by application_name; the daemon's backends are reported apart).

``SMPP_BRIDGE_BENCH_API_WORKERS=N`` runs the API with N processes
(`--workers`); the API's CPU is then the sum over its processes.
``SMPP_BRIDGE_BENCH_API_PHASES=bulk`` runs only the cold start and the two
100-recipient figures (for A/B runs of the intake); its targets are not judged.
Each figure also gives the CPU per request of the daemon, of its backends and
of the simulator from the load's start until the daemon is idle again.

A cold start (3 s of single sends on the new database, reported apart, not a
figure) comes first: see ``run``. Each figure starts once the daemon has finished what the previous ones queued
(running and idle), so one figure does not pay for another's backlog.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.bench_e2e import _ANY_PENDING, ADMIN_DSN, _admin, _cli, _cpu_seconds, _free_port
from bench.common import Rate

DESCRIPTION = "REST API: sends/s (1 and 100 recipients, 1 and 16 accounts), status reads/s, p50/p99 at half peak"

TARGETS = {"single-recipient sends/s": 3000.0, "recipients/s in 100-recipient calls": 30000.0,
           "status reads/s": 5000.0}  # fmt: skip
P99_MS = 50.0

_CONFIG = """
[database]
dsn_env = "SMPP_BRIDGE_BENCH_DSN"

[[carriers]]
name = "sim"
host = "127.0.0.1"
port = {port}
binds = 2
window = 500
tps = 1000000
system_id = "bench"
[carriers.source]
default_sender_id = "ProSignals"

[[routes]]
default = true
carriers = [{{ carrier = "sim" }}]

[rates]
default = "0.0500"

[logging]
level = "warning"
format = "json"

[daemon]
claim_batch = 1000
writer_batch = 1000
poll_interval = "100ms"
drain_timeout = "10s"

[api]
pool_size = {pool}
workers = {workers}
"""
_SIMULATOR = """
[simulator]
host = "127.0.0.1"
port = {port}
receipt_delay = [0.001, 0.01]
message_id_format = "hex"
receipt_window = 1000
"""
_BODY = "Your verification code is 482915. It expires in 5 minutes."
_BACKENDS = "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()"


async def _prepare(dsn: str, accounts: int) -> list[str]:
    from bridge.store.accounts import create_account
    from bridge.store.db import open_database
    from bridge.store.keys import create_key
    from bridge.store.migrate import migrate

    await migrate(dsn)
    keys = []
    async with open_database(dsn, min_size=1, max_size=2) as db:
        for i in range(accounts):
            await create_account(db, f"bench{i}", credits=99_999_999)
            _, key = await create_key(db, f"bench{i}", "bench", requests_per_minute=None)
            keys.append(key)
    return keys


async def _backends(dsn: str) -> dict[int, str]:
    from bridge.store.db import open_connection

    async with open_connection(dsn) as conn:
        return {r["pid"]: r["application_name"] for r in await conn.fetch(_BACKENDS)}


async def _wait_idle(dsn: str, limit: float) -> float:
    """Until the daemon has finished what earlier phases queued: each figure starts from a
    running, idle daemon, not from another phase's backlog."""
    import trio

    from bridge.store.db import open_connection

    start = time.perf_counter()
    async with open_connection(dsn) as conn:
        while time.perf_counter() - start < limit:
            if not await conn.fetchval(_ANY_PENDING):
                break
            await trio.sleep(0.2)
    return time.perf_counter() - start


async def _message_ids(dsn: str, n: int) -> list[tuple[str, str]]:
    from bridge.store.db import open_connection

    async with open_connection(dsn) as conn:
        rows = await conn.fetch(
            "SELECT m.public_id, a.name FROM messages m JOIN accounts a ON a.id = m.account_id LIMIT $1", n
        )
    return [(r["public_id"], r["name"]) for r in rows]


@contextmanager
def _system(pool: int, workers: int) -> Iterator[dict[str, Any]]:
    import trio

    from bridge.store.embedded import server_reachable

    work = Path(tempfile.mkdtemp(prefix="smpp-bridge-bench-api-"))
    name = f"smpp_bridge_bench_{secrets.token_hex(4)}"
    embedded = None
    if server_reachable("127.0.0.1", 5432):
        admin = ADMIN_DSN
        dsn = admin.rsplit("/", 1)[0] + "/" + name
    else:
        from bridge.store.embedded import start_embedded

        embedded = start_embedded(work / "pgdata")
        admin, dsn = embedded.dsn, embedded.dsn_for(name)
    trio.run(_admin, admin, f'CREATE DATABASE "{name}"')
    processes: list[subprocess.Popen[bytes]] = []
    try:
        keys = trio.run(_prepare, dsn, 16)
        smsc, api_port = _free_port(), _free_port()
        (work / "sim.toml").write_text(_SIMULATOR.format(port=smsc))
        (work / "bridge.toml").write_text(_CONFIG.format(port=smsc, pool=pool, workers=workers))
        env = {**os.environ, "SMPP_BRIDGE_BENCH_DSN": dsn}
        logs = open(work / "processes.log", "wb")  # noqa: SIM115
        for argv in (
            _cli("simulate", "--config", str(work / "sim.toml"), "--stats-interval", "0"),
            _cli("run", "-c", str(work / "bridge.toml")),
            _cli("api", "-c", str(work / "bridge.toml"), "--listen", f"127.0.0.1:{api_port}"),
        ):
            processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=logs))
        deadline = time.monotonic() + 60
        while not server_reachable("127.0.0.1", api_port, timeout=0.2):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise RuntimeError("the system did not start: " + (work / "processes.log").read_text()[-2000:])
            time.sleep(0.1)
        time.sleep(1.0)  # the daemon's binds, the API's pool
        yield {"dsn": dsn, "keys": keys, "port": api_port, "api": processes[2], "daemon": processes[1],
               "sim": processes[0], "work": work}  # fmt: skip
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        trio.run(_admin, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded is not None:
            embedded.stop()


def _load(system: dict[str, Any], requests: list[list[Any]], *, seconds: float, connections: int,
          rate: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Run the load generator once; add the CPU of the API process and of PostgreSQL's backends."""
    import trio

    spec = {"host": "127.0.0.1", "port": system["port"], "seconds": seconds, "connections": connections,
            "rate": rate, "requests": requests}  # fmt: skip
    path = system["work"] / "spec.json"
    path.write_text(json.dumps(spec))
    trio.run(_wait_idle, system["dsn"], 120.0)
    backends = trio.run(_backends, system["dsn"])
    before = {pid: _safe_cpu(pid) for pid in backends}
    api_before = _api_cpu(system["api"].pid)
    daemon_before, sim_before = _safe_cpu(system["daemon"].pid), _safe_cpu(system["sim"].pid)
    out = subprocess.run([sys.executable, "-m", "bench.http_load", str(path)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    api_cpu = _api_cpu(system["api"].pid) - api_before
    now = trio.run(_backends, system["dsn"])
    pg = _pg_cpu(now, before)
    # The daemon sends what the load queued after the load too: its CPU, its
    # backends' and the simulator's are also taken once it is idle again.
    drain = trio.run(_wait_idle, system["dsn"], 120.0)
    drained = _pg_cpu(trio.run(_backends, system["dsn"]), before)
    daemon_cpu = _safe_cpu(system["daemon"].pid) - daemon_before
    sim_cpu = _safe_cpu(system["sim"].pid) - sim_before
    n = max(1, result["requests"])
    result.update(api_us_per_request=round(api_cpu / n * 1e6, 1), pg_api_us_per_request=round(pg["smpp-bridge-api"] / n * 1e6, 1),
                  pg_daemon_us_per_request=round(pg["smpp-bridge"] / n * 1e6, 1),
                  drained_s=round(drain, 2), daemon_us_per_request=round(daemon_cpu / n * 1e6, 1),
                  pg_daemon_drained_us_per_request=round(drained["smpp-bridge"] / n * 1e6, 1),
                  sim_us_per_request=round(sim_cpu / n * 1e6, 1))  # fmt: skip
    return result


def _pg_cpu(backends: dict[int, str], before: dict[int, float]) -> dict[str, float]:
    """CPU of the API's and the daemon's PostgreSQL backends since ``before``."""
    pg = {"smpp-bridge-api": 0.0, "smpp-bridge": 0.0}
    for pid, app in backends.items():
        if app in pg:
            pg[app] += _safe_cpu(pid) - before.get(pid, 0.0)
    return pg


def _api_cpu(pid: int) -> float:
    """The API process's CPU and its workers' (`--workers`: forked children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu_seconds(pid) + sum(_safe_cpu(int(child)) for child in children)


def _safe_cpu(pid: int) -> float:
    try:
        return _cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def _sends(keys: list[str], recipients: int, count: int = 512) -> list[list[Any]]:
    out = []
    for i in range(count):
        to = [f"+60123{(i * recipients + j) % 1_000_000:06d}" for j in range(recipients)]
        body = json.dumps({"to": to[0] if recipients == 1 else to, "message": _BODY, "reference": f"order-{i}"})
        out.append(["POST", "/api/v1/sms/send", body, keys[i % len(keys)]])
    return out


def _accepted(result: dict[str, Any]) -> float:
    return float(result["statuses"].get("201", 0)) / float(result["seconds"])


def run(quick: bool) -> dict[str, Any]:
    import trio

    seconds = 3.0 if quick else 6.0
    figures, extra_lines = [], []
    targets: dict[str, Any] = {}
    workers = int(os.environ.get("SMPP_BRIDGE_BENCH_API_WORKERS", "1"))
    only_bulk = os.environ.get("SMPP_BRIDGE_BENCH_API_PHASES") == "bulk"
    with _system(pool=20 if workers == 1 else 10, workers=workers) as system:
        keys = system["keys"]
        phases = [] if only_bulk else [
            ("single-recipient sends/s, 1 account", _sends(keys[:1], 1), 32, 1),
            ("single-recipient sends/s, 16 accounts", _sends(keys, 1), 32, 1),
        ]
        phases += [
            ("recipients/s in 100-recipient calls, 1 account", _sends(keys[:1], 100, 64), 8, 100),
            ("recipients/s in 100-recipient calls, 16 accounts", _sends(keys, 100, 64), 8, 100),
        ]
        # The first seconds of a new database are a cold start: the daemon's flushes are
        # planned on tables whose statistics say empty, and cost it about three times
        # the PostgreSQL CPU of the same sends a few seconds later (measured with the
        # phases in either order). That is reported as its own line, then the figures
        # are taken on the running system.
        cold = _load(system, _sends(keys, 1), seconds=seconds / 2, connections=32)
        extra_lines.append(f"  cold start, single sends, 16 accounts (not a figure): {_accepted(cold):,.0f}/s ({cold})")
        peak_single = 0.0
        for label, requests, connections, per_call in phases:
            r = _load(system, requests, seconds=seconds, connections=connections)
            rate = _accepted(r) * per_call
            if per_call == 1:
                peak_single = max(peak_single, _accepted(r))
            figures.append(Rate(label, int(rate * r["seconds"]), (r["seconds"],), unit="/s", extra=r).as_dict())
            extra_lines.append(f"  {label}: {rate:,.0f} ({r})")
        if only_bulk:
            print("\n".join(extra_lines))
            return {"figures": figures, "targets": {}}
        key_of = {f"bench{i}": k for i, k in enumerate(keys)}
        ids = trio.run(_message_ids, system["dsn"], 2000)
        reads = [["GET", f"/api/v1/sms/{mid}", None, key_of[account]] for mid, account in ids]
        r = _load(system, reads, seconds=seconds, connections=32)
        figures.append(Rate("status reads/s", r["requests"], (r["seconds"],), unit="/s", extra=r).as_dict())
        extra_lines.append(f"  status reads/s: {r['requests'] / r['seconds']:,.0f} ({r})")
        half = _load(system, _sends(keys[:1], 1), seconds=seconds, connections=64, rate=max(1.0, peak_single / 2))
        extra_lines.append(f"  half peak ({peak_single / 2:,.0f}/s): {half}")
        figures.append(Rate(f"single sends at half the peak ({peak_single / 2:,.0f}/s)", half["requests"],
                            (half["seconds"],), unit="/s", extra=half).as_dict())  # fmt: skip
    print("\n".join(extra_lines))
    by_name: dict[str, float] = {str(f["name"]): float(f["median_per_s"]) for f in figures}  # type: ignore[arg-type]
    for want_name, want in TARGETS.items():
        got = max((v for k, v in by_name.items() if k.startswith(want_name)), default=0.0)
        targets[want_name] = {"want": f">= {want:,.0f}", "got": round(got, 1), "ok": got >= want}
    targets["p99 at half the peak (ms)"] = {"want": f"< {P99_MS}", "got": half["p99_ms"], "ok": half["p99_ms"] < P99_MS}
    return {"figures": figures, "targets": targets}
