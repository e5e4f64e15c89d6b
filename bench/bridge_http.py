"""smpp-bridge like for like: POST /api/v1/sms/send -> daemon -> signed ``sms.status`` webhook.

Everything as an operator runs it, through the CLI (docs/api.md,
docs/webhooks.md): a fresh database, ``smpp-bridge migrate``, ``accounts
create``, ``keys create --no-rate-limit``, ``webhooks set --account`` (the
secret it prints is what the load client checks every signature against),
then the simulator, ``smpp-bridge run`` (daemon with the webhook sender) and
``smpp-bridge api``, each started and stopped by its PID. The load client
(bench/loadgen.py) sends single-recipient requests over 32 keep-alive
connections and receives the webhooks. CPU per message: daemon, API (and
its children), PostgreSQL backends of the run's database.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import pgstat
from bench.common import ADMIN_DSN, SIM_BRIDGE_CONFIG, database_dsn
from bench.procstat import Analyzer, Group, Sampler, cpu_seconds, postgres_backends

_CONFIG = SIM_BRIDGE_CONFIG.replace("{binds}", "2").replace("{window}", "500") + """
[api]
access_log = false

[webhooks]
enabled = true
master_key_env = "SMPP_BRIDGE_BENCH_MASTER_KEY"
require_https = false
allow_networks = ["127.0.0.1/32"]
concurrency = 32

[daemon]
metrics_listen = "127.0.0.1:{metrics_port}"
claim_batch = 1000
writer_batch = 1000
poll_interval = "100ms"
drain_timeout = "10s"
"""

# Accept -> submit from the database: to ``submitted_at``, when the daemon wrote the
# submit_sm that the SMSC accepted (stored by the writer's flush of its response, but
# the time of the write: migration 0023), from the accept. The accept is the
# API transaction's commit when the server keeps commit timestamps
# (``track_commit_timestamp = on``, as on the benchmarks' own server): the commit time of
# the message's reservation row, which nothing updates later. Else it is
# ``messages.created_at``, the transaction's start (earlier than the accept by the
# transaction's length: lock waits on the account row, the commit).
_ACCEPT_TO_SUBMIT = (
    "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50,"
    " percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99, count(*) AS n FROM ("
    " SELECT extract(epoch FROM p.submitted_at - {accepted}) * 1000 AS d"
    " FROM message_parts p JOIN messages m ON m.id = p.message_id {join}"
    " WHERE p.submitted_at IS NOT NULL) s"
)
# The same latency per second of accept (seconds from the first accept): whether the tail
# sits in a few bursts (a stall: a checkpoint, a pause) or is spread over the run (cadence).
_ACCEPT_TO_SUBMIT_BY_SECOND = (
    "SELECT s, count(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50,"
    " percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99, max(d) AS max FROM ("
    " SELECT floor(extract(epoch FROM a - min(a) OVER ()))::int AS s, d FROM ("
    " SELECT {accepted} AS a, extract(epoch FROM p.submitted_at - {accepted}) * 1000 AS d"
    " FROM message_parts p JOIN messages m ON m.id = p.message_id {join}"
    " WHERE p.submitted_at IS NOT NULL) x) y GROUP BY s ORDER BY s"
)
_BY_COMMIT = {
    "accepted": "pg_xact_commit_timestamp(l.xmin)",
    "join": "JOIN ledger l ON l.message_id = m.id AND l.kind = 'reservation'",
}
_BY_START = {"accepted": "m.created_at", "join": ""}


def _children(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn workers), from /proc/*/stat."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in parents or current == pid:
            found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def _keep_logs(work: Path, name: str) -> None:
    """The processes' logs are in the run's temporary directory, removed at its end:
    with ``BENCH_KEEP_LOGS=DIR`` they are copied to DIR first (``<database>-daemon.log``,
    ``<database>-api.log``)."""
    keep = os.environ.get("BENCH_KEEP_LOGS")
    if not keep:
        return
    Path(keep).mkdir(parents=True, exist_ok=True)
    for log_file in work.glob("*.log"):
        shutil.copyfile(log_file, Path(keep) / f"{name}-{log_file.name}")
    print(f"  logs kept in {keep} ({name}-*.log)", flush=True)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.cli", *args]


def _check(argv: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[3:])} failed: {out.stdout[-1000:]} {out.stderr[-2000:]}"
        )
    return out.stdout


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _queue_to_submit(port: int) -> dict[str, float]:
    """p50 / p99 (ms) of the daemon's ``queue_to_submit_seconds`` histogram, from its
    metrics endpoint once the run is over: enqueue (the API's transaction start) to the
    part claimed, its submit_sm written next. Each percentile is the upper bound of the
    bucket it falls in (bounds ..., 25, 50, 100, 250 ms, ...), so ``< 50 ms`` can be told;
    ``share_under_50ms`` is exact."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    buckets: dict[float, int] = {}
    for line in text.splitlines():
        if line.startswith("smpp_bridge_queue_to_submit_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            upper = float("inf") if le == "+Inf" else float(le)
            buckets[upper] = buckets.get(upper, 0) + int(float(line.rsplit(" ", 1)[1]))
    total = buckets.get(float("inf"), 0)
    if not total:
        return {"50": 0.0, "99": 0.0, "share_under_50ms": 0.0}

    def bound(share: float) -> float:
        return next(le for le, n in sorted(buckets.items()) if n >= share * total) * 1e3

    return {"50": bound(0.5), "99": bound(0.99), "share_under_50ms": round(buckets.get(0.05, 0) / total, 4)}


def run_bridge_http(count: int, *, rate: float = 0.0, timeout: float = 600.0) -> dict[str, Any]:
    import trio

    from bench import bench_compare as compare
    from bench.bench_e2e import SUBMIT_TO_FINAL, _admin, _wait_ready
    from bench.kannel import free_ports

    work = Path(tempfile.mkdtemp(prefix="bench-bridge-http-"))
    name = f"smpp_bridge_l4l_{secrets.token_hex(4)}"
    dsn = database_dsn(name)
    trio.run(_admin, ADMIN_DSN, f'CREATE DATABASE "{name}"')
    explain_ms = os.environ.get("BENCH_AUTO_EXPLAIN_MS")
    if explain_ms:
        # A diagnosis: the server's log gets the plan of every statement of the run's
        # database (nested ones too: the SQL functions' own) that ran longer than this.
        for setting in (
            "session_preload_libraries = 'auto_explain'",
            f"auto_explain.log_min_duration = '{int(explain_ms)}ms'",
            "auto_explain.log_nested_statements = on",
        ):
            trio.run(_admin, ADMIN_DSN, f'ALTER DATABASE "{name}" SET {setting}')
    processes: list[subprocess.Popen[bytes]] = []
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sim, sim_port = compare._start_simulator(work)
        processes.append(sim)
        api_port, hook_port, metrics_port = free_ports(3)
        conf = work / "bridge.toml"
        config = _CONFIG.format(port=sim_port, metrics_port=metrics_port)
        # The daemon's log level for a diagnosis (debug: one line per claim and flush).
        level = os.environ.get("BENCH_DAEMON_LOG_LEVEL")
        if level:
            config = config.replace('level = "warning"', f'level = "{level}"', 1)
        # A diagnosis: the daemon logs its trio task steps at least this long (bridge/slow_steps.py).
        slow_ms = os.environ.get("BENCH_SLOW_STEP_MS")
        if slow_ms:
            config = config.replace("[daemon]\n", f'[daemon]\nslow_step = "{float(slow_ms)}ms"\n', 1)
            if not level:
                config = config.replace('level = "warning"', 'level = "info"', 1)
        conf.write_text(config)
        env = {
            **os.environ, "SMPP_BRIDGE_BENCH_DSN": dsn,
            "SMPP_BRIDGE_BENCH_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }  # fmt: skip
        c = str(conf)
        _check(_cli("migrate", "-c", c), env)
        _check(_cli("accounts", "create", "bench", "--credits", str(count), "-c", c), env)
        key = _check(
            _cli("keys", "create", "bench", "--name", "bench", "--no-rate-limit", "-c", c), env
        )
        key = key.strip().splitlines()[0].strip()
        hook = _check(
            _cli(
                "webhooks",
                "set",
                "--account",
                "bench",
                f"http://127.0.0.1:{hook_port}/hook",
                "-c",
                c,
            ),
            env,
        )
        secret = next(
            line.split(":", 1)[1].strip()
            for line in hook.splitlines()
            if line.startswith("secret:")
        )
        notify.bind(str(work / "notify.sock"))
        daemon = subprocess.Popen(
            _cli("run", "-c", c), env={**env, "NOTIFY_SOCKET": str(work / "notify.sock")},
            stdout=subprocess.DEVNULL, stderr=open(work / "daemon.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        processes.append(daemon)
        _wait_ready(notify, daemon, 60)
        api = subprocess.Popen(
            _cli("api", "-c", c, "--listen", f"127.0.0.1:{api_port}"), env=env,
            stdout=subprocess.DEVNULL, stderr=open(work / "api.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        processes.append(api)
        deadline = time.monotonic() + 60
        while not _health(api_port):
            if api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the API did not start: {(work / 'api.log').read_text()[-2000:]}"
                )
            time.sleep(0.1)
        spec = {
            "kind": "bridge", "host": "127.0.0.1", "port": api_port, "count": count,
            "connections": compare.CONNECTIONS, "rate": rate, "callback_port": hook_port,
            "timeout": timeout, "key": key, "secret": secret,
        }  # fmt: skip
        with Analyzer(dsn, ["message_parts", "messages", "webhook_outbox"]) as analyzer:
            groups = [
                Group("daemon", lambda: [daemon.pid]),
                Group("api", lambda: _children(api.pid)),
                Group(
                    "postgresql", lambda: postgres_backends(name, but=analyzer.pids), memory=False
                ),
                *compare.server_groups(analyzer),
            ]
            pgstat.reset()
            sampler = Sampler(groups)
            sim0 = cpu_seconds(sim.pid)
            sampler.start()
            load = compare._load(work, spec)
            sampler.stop()
        sim_cpu = cpu_seconds(sim.pid) - sim0
        figure = compare._figure(
            "bridge-http",
            count,
            load,
            sampler,
            ["daemon", "api", "postgresql"],
            ["daemon", "api"],
            sim_cpu,
        )
        figure["bad_signatures"] = load["bad_signatures"]
        figure["pg_statements"] = pgstat.top(name, int(load["final"]))
        figure["analyze_runs"] = analyzer.count
        # Warnings of the daemon worth seeing beside the figure (a claim that timed out, ...).
        warnings: dict[str, int] = {}
        for line in (work / "daemon.log").read_text("utf-8", "replace").splitlines():
            if '"level": "warning"' in line or '"level": "error"' in line:
                event = line.split('"event": "', 1)[-1].split('"', 1)[0]
                warnings[event] = warnings.get(event, 0) + 1
        figure["daemon_warnings"] = warnings

        async def accept_to_submit() -> dict[str, Any]:
            from bridge.store.db import open_connection

            async with open_connection(dsn) as conn:
                final = await conn.fetchrow(SUBMIT_TO_FINAL)
                assert final is not None
                figure["latency_ms"]["submit_to_final"] = {"50": float(final["p50"] or 0), "99": float(final["p99"] or 0)}
                row = None
                if await conn.fetchval("SELECT current_setting('track_commit_timestamp') = 'on'"):
                    row = await conn.fetchrow(_ACCEPT_TO_SUBMIT.format(**_BY_COMMIT))
                basis = "commit"
                if row is None or not row["n"]:
                    row, basis = await conn.fetchrow(_ACCEPT_TO_SUBMIT.format(**_BY_START)), "start"
                by_second = await conn.fetch(
                    _ACCEPT_TO_SUBMIT_BY_SECOND.format(**(_BY_COMMIT if basis == "commit" else _BY_START))
                )
            assert row is not None
            figure["accept_to_submit_by_second"] = [
                [int(r["s"]), int(r["n"]), round(float(r["p50"]), 1), round(float(r["p99"]), 1), round(float(r["max"]), 1)]
                for r in by_second
            ]  # fmt: skip
            # What "submit" is, beside the figures (compare takes the median of every key
            # of a latency): the part's submitted_at, the write of the submit_sm.
            figure["accept_to_submit_is"] = "accept (commit or start) -> submit_sm written (submitted_at)"
            return {"50": float(row["p50"] or 0), "99": float(row["p99"] or 0), "from_commit": basis == "commit"}

        figure["latency_ms"]["accept_to_submit"] = trio.run(accept_to_submit)
        figure["latency_ms"]["accept_to_claimed"] = _queue_to_submit(metrics_port)
        return figure
    finally:
        notify.close()
        _keep_logs(work, name)
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        trio.run(_admin, ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
