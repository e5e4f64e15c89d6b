"""smpp-bridge beside Kannel 1.4.5 (tuned), in the same run, in ABAB rounds.

Systems, each run on fresh state (new database, new directory, every process
started and stopped by its PID), against the same simulator configuration
(ours, in its own process: receipts 200 ms after the submit, hex ids), the same
message and the same count:

- ``kannel-internal``: sendsms (32 keep-alive connections) -> SMPP -> receipt ->
  dlr-url callback; DLR store in bearerbox's memory (not durable);
- ``kannel-pgsql``: the same with the PostgreSQL DLR store (durable);
- ``bridge-http`` (like for like): POST /api/v1/sms/send (32 keep-alive
  connections) -> daemon -> receipt -> signed ``sms.status`` webhook received;
  needs ``smpp-bridge api`` and the webhook sender (skipped, and said so, when
  this tree has neither);
- ``bridge-core`` (NOT like for like): messages enqueued in bulk first, timed
  from the daemon's READY until every message is final with billing and outbox
  rows; no HTTP in, no webhook out.

CPU per message is summed over each system's processes (gateway processes,
API, PostgreSQL backends of its database, each from its birth when born during
the run); the simulator, the load client, the harness's ``ANALYZE`` backend
and the server's own processes (checkpointer, WAL writer) are reported apart.
Every run starts after a ``CHECKPOINT``; with pg_stat_statements loaded
(``BENCH_PG_DSN`` naming a server of the benchmarks' own, bench/pgstat.py)
each run records its top statements. Peak memory: summed RSS of the gateway processes (not
PostgreSQL's, whose shared buffers make RSS meaningless). Figures are medians
over rounds; ratios compare medians of the same run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import kannel, pgstat
from bench.common import ADMIN_DSN, database_dsn, target
from bench.procstat import Analyzer, Group, Sampler, cpu_seconds, postgres_backends

DESCRIPTION = "smpp-bridge vs Kannel 1.4.5 tuned (internal and PostgreSQL DLR stores), ABAB rounds"

RECEIPT_DELAY = 0.2
CONNECTIONS = int(os.environ.get("BENCH_COMPARE_CONNECTIONS", "32"))  # the same client for every system
KANNEL_BINDS = int(os.environ.get("BENCH_KANNEL_BINDS", "1"))
_SIM = """
[simulator]
host = "127.0.0.1"
port = {port}
receipt_delay = [{delay}, {delay}]
message_id_format = "hex"
receipt_window = 1000
"""

#: The like-for-like median of the last full run in this process: the soak's default
#: rate is half of it (``python -m bench compare soak``).
LIKE_FOR_LIKE_MEDIAN = 0.0
LABELS = {
    "bridge-http": "smpp-bridge, HTTP in, signed webhook out (like for like)",
    "kannel-pgsql": "Kannel 1.4.5, PostgreSQL DLR store (durable)",
    "kannel-internal": "Kannel 1.4.5, internal DLR store (in memory, not durable)",
    "bridge-core": "smpp-bridge core path, queued -> final, no HTTP (not like for like)",
}


def _progress(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _sql(dsn: str, sql: str) -> None:
    import trio

    from bench.bench_e2e import _admin

    trio.run(_admin, dsn, sql)


def _start_simulator(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    from bridge.store.embedded import server_reachable

    port = kannel.free_ports(1)[0]
    (work / "sim.toml").write_text(_SIM.format(port=port, delay=RECEIPT_DELAY))
    sim = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "simulate", "--config", str(work / "sim.toml"),
         "--stats-interval", "0"],
        stdout=subprocess.DEVNULL, stderr=open(work / "sim.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not server_reachable("127.0.0.1", port, timeout=0.2):
        if sim.poll() is not None or time.monotonic() > deadline:
            sim.kill()
            raise RuntimeError(
                f"the simulator did not start: {(work / 'sim.log').read_text()[-2000:]}"
            )
        time.sleep(0.05)
    return sim, port


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _load(work: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load client to the end; its CPU comes back in the result."""
    path = work / "load.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    # stderr is let through: the client's progress lines and its errors, as they come.
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", str(path)], stdout=subprocess.PIPE,
                         text=True, env=env, timeout=float(spec["timeout"]) + 60)  # fmt: skip
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"load client failed ({out.returncode}); its errors are above")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _figure(system: str, count: int, load: dict[str, Any], sampler: Sampler, own: list[str],
            memory: list[str], sim_cpu: float) -> dict[str, Any]:  # fmt: skip
    cpu = sampler.cpu()
    done = max(int(load["final"]), 1)
    per_msg = {name: round(cpu[name] / done * 1e6, 1) for name in own}
    apart = {
        name: round(seconds / done * 1e6, 1) for name, seconds in cpu.items() if name not in own
    }
    return {
        "system": system, "label": LABELS[system], "count": count, "final": load["final"],
        "outcomes": load["outcomes"], "statuses": load["statuses"], "errors": load["errors"],
        "timed_out": load["timed_out"], "seconds": round(load["seconds"], 3),
        "per_s": round(load["final"] / load["seconds"], 1) if load["seconds"] else 0.0,
        "cpu_us_per_msg": per_msg, "cpu_us_per_msg_total": round(sum(per_msg.values()), 1),
        "apart_us_per_msg": apart, "simulator_us_per_msg": round(sim_cpu / done * 1e6, 1),
        "client_us_per_msg": round(load["cpu_s"] / done * 1e6, 1),
        "peak_rss_kb": sampler.peak_rss_kb(memory),
        "latency_ms": {"http_accept": load["accept_ms"], "request_to_final_callback": load["final_ms"]},
        "timeline": load["timeline"],
        "rss_series": [(t, sum(r.get(n, 0) for n in memory)) for t, r in sampler.series],
        # Each process group apart (which one grows): one value a sample, in rss_series' order.
        "rss_series_by_group": {n: [r.get(n, 0) for _, r in sampler.series] for n in memory},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "load_average_during": [round(min(sampler.load), 1), round(statistics.mean(sampler.load), 1),
                                round(max(sampler.load), 1)],
    }  # fmt: skip


def server_groups(analyzer: Analyzer) -> list[Group]:
    """CPU counted apart from every system's: the harness's ANALYZE backend, and the
    server's own processes (checkpointer, WAL writer, background writer: the WAL and
    dirty pages a run makes are written there; on a shared server other work's too)."""

    async def background() -> list[int]:
        from bridge.store.db import open_connection

        async with open_connection(ADMIN_DSN) as conn:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname IS NULL")
        return [int(r["pid"]) for r in rows]

    import trio

    server = trio.run(background)
    return [
        Group("harness ANALYZE", lambda: sorted(analyzer.pids), memory=False),
        Group("postgresql server processes", lambda: server, memory=False),
    ]


def run_kannel(
    store: kannel.Store, count: int, *, rate: float = 0.0, timeout: float = 600.0, binds: int = KANNEL_BINDS
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-kannel-{store}-"))
    database = f"kannel_bench_{secrets.token_hex(4)}"
    dsn = database_dsn(database)
    sim, port = _start_simulator(work)
    gateway = None
    try:
        if store == "pgsql":
            _sql(ADMIN_DSN, f'CREATE DATABASE "{database}"')
            _sql(dsn, kannel.PG_TABLE)
        gateway = kannel.Kannel(work / "kannel", port, store, database, binds)
        gateway.start()
        spec = {
            "kind": "kannel", "host": "127.0.0.1", "port": gateway.sendsms_port, "count": count,
            "connections": CONNECTIONS, "rate": rate, "callback_port": kannel.free_ports(1)[0],
            "timeout": timeout, "user": kannel.USER[0], "password": kannel.USER[1], "smsc": kannel.SMSC_ID,
        }  # fmt: skip
        own = ["kannel"]
        # The same upkeep as smpp-bridge's tables get (none without a table).
        with Analyzer(dsn, ["dlr"] if store == "pgsql" else []) as analyzer:
            groups = [Group("kannel", gateway.pids)]
            if store == "pgsql":
                groups.append(Group("postgresql", lambda: postgres_backends(database, but=analyzer.pids),
                                    memory=False))  # fmt: skip
                own.append("postgresql")
                groups += server_groups(analyzer)
                pgstat.reset()
            sampler = Sampler(groups)
            sim0 = cpu_seconds(sim.pid)
            sampler.start()
            load = _load(work, spec)
            sampler.stop()
        sim_cpu = cpu_seconds(sim.pid) - sim0
        figure = _figure(f"kannel-{store}", count, load, sampler, own, ["kannel"], sim_cpu)
        if store == "pgsql":
            figure["pg_statements"] = pgstat.top(database, int(load["final"]))
            import trio

            from bridge.store.db import open_connection

            async def left() -> int:
                async with open_connection(dsn) as conn:
                    return int(await conn.fetchval("SELECT count(*) FROM dlr"))

            figure["dlr_rows_left"] = trio.run(left)
            figure["analyze_runs"] = analyzer.count
        return figure
    finally:
        if gateway is not None:
            gateway.stop()
        _stop(sim)
        if store == "pgsql":
            _sql(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def run_core(count: int) -> dict[str, Any]:
    """bench_e2e's run with this suite's receipt delay, in this suite's shape."""
    from bench.bench_e2e import run_once

    load_average = round(os.getloadavg()[0], 2)
    r = run_once(count, receipt_delay=(RECEIPT_DELAY, RECEIPT_DELAY))
    ok = r["pending_left"] == 0 and r["reconciled"] and r["outbox"] == r["sent"] + r["failed"]
    per_msg = {
        "daemon": round(r["daemon_us_per_msg"], 1),
        "postgresql": round(r["pg_us_per_msg"], 1),
    }
    return {
        "system": "bridge-core", "label": LABELS["bridge-core"], "count": count, "final": r["measured"],
        "outcomes": {"delivered": r["sent"], "failed": r["failed"]}, "statuses": {}, "errors": [],
        "timed_out": r["pending_left"] != 0, "complete": ok, "outbox_rows": r["outbox"],
        "pg_statements": r.get("pg_statements"), "apart_us_per_msg": {},
        "seconds": round(r["e2e_s"], 3), "per_s": round(r["measured"] / r["e2e_s"], 1),
        "cpu_us_per_msg": per_msg, "cpu_us_per_msg_total": round(sum(per_msg.values()), 1),
        "simulator_us_per_msg": round(r["sim_us_per_msg"], 1), "client_us_per_msg": 0.0,
        "peak_rss_kb": r["daemon_peak_rss_kb"],
        "latency_ms": {"submit_to_final": r["submit_to_final_ms"]},
        "timeline": [], "rss_series": [], "load_average_1m": load_average,
    }  # fmt: skip


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per system and the ratios of the same run."""
    systems: dict[str, dict[str, Any]] = {}
    for system in LABELS:
        mine = [r for r in runs if r["system"] == system]
        if not mine:
            continue
        latency: dict[str, dict[str, float]] = {}
        for kind in mine[0]["latency_ms"]:
            latency[kind] = {
                p: float(statistics.median(r["latency_ms"][kind][p] for r in mine))
                for p in mine[0]["latency_ms"][kind]
            }
        systems[system] = {
            "label": LABELS[system], "rounds": len(mine), "per_s": _median(mine, "per_s"),
            "per_s_all": [r["per_s"] for r in mine],
            "cpu_us_per_msg_total": _median(mine, "cpu_us_per_msg_total"),
            "cpu_us_per_msg": {k: float(statistics.median(r["cpu_us_per_msg"][k] for r in mine))
                               for k in mine[0]["cpu_us_per_msg"]},
            "apart_us_per_msg": {k: float(statistics.median(r["apart_us_per_msg"].get(k, 0.0) for r in mine))
                                 for k in mine[0].get("apart_us_per_msg", {})},
            "simulator_us_per_msg": _median(mine, "simulator_us_per_msg"),
            "client_us_per_msg": _median(mine, "client_us_per_msg"),
            "peak_rss_kb": _median(mine, "peak_rss_kb"), "latency_ms": latency,
            "every_message_final": all(r["final"] >= r["count"] and not r["timed_out"] for r in mine),
            "every_signature_valid": all(r.get("bad_signatures", 0) == 0 for r in mine),
        }  # fmt: skip
    ratios = {}
    for ours in ("bridge-http", "bridge-core"):
        for peer in ("kannel-pgsql", "kannel-internal"):
            if ours in systems and peer in systems and systems[peer]["per_s"]:
                ratios[f"{ours} / {peer}"] = round(
                    systems[ours]["per_s"] / systems[peer]["per_s"], 2
                )
    return {"systems": systems, "ratios": ratios}


def _targets(summary: dict[str, Any]) -> dict[str, Any]:
    ratios, systems = summary["ratios"], summary["systems"]
    out: dict[str, Any] = {}
    if "bridge-http / kannel-pgsql" in ratios:
        out["like for like vs Kannel PostgreSQL DLR"] = target(
            4.0, ratios["bridge-http / kannel-pgsql"]
        )
        out["like for like vs Kannel internal DLR"] = target(
            1.5, ratios["bridge-http / kannel-internal"]
        )
        ours, theirs = systems["bridge-http"], systems["kannel-pgsql"]
        half = theirs["cpu_us_per_msg"]["kannel"] / 2
        out["CPU/msg, all our processes <= half Kannel's gateway CPU (PostgreSQL store)"] = {
            "want": f"<= {half:,.0f} us",
            "got": ours["cpu_us_per_msg_total"],
            "ok": ours["cpu_us_per_msg_total"] <= half,
        }
    if "bridge-core / kannel-internal" in ratios:
        out["core path vs Kannel internal DLR (not like for like)"] = target(
            3.6, ratios["bridge-core / kannel-internal"]
        )
    return out


def _bridge_http_available() -> str | None:
    """Why the like-for-like run cannot run on this tree, or None."""
    import importlib.util

    for module in ("bridge.api", "bridge.commands.webhooks", "bridge.commands.keys"):
        if importlib.util.find_spec(module) is None:
            return f"smpp-bridge api or the webhook sender is not on this tree ({module} missing)"
    return None


def run(quick: bool) -> dict[str, Any]:
    if not kannel.available():
        raise RuntimeError(
            "Kannel is not installed (apt-get install kannel): the comparison needs it"
        )
    count = 2_000 if quick else int(os.environ.get("BENCH_COMPARE_COUNT", "40000"))
    rounds = 1 if quick else int(os.environ.get("BENCH_COMPARE_ROUNDS", "3"))
    order = ["kannel-internal", "bridge-core", "kannel-pgsql"]
    skipped = _bridge_http_available()
    if skipped is None:
        from bench.bridge_http import run_bridge_http

        order.insert(0, "bridge-http")
    runs: list[dict[str, Any]] = []
    for round_ in range(1, rounds + 1):
        for system in order:
            # Fresh server state too: the previous run's WAL and dirty pages are written
            # now, not by a checkpoint in the middle of the next system's run.
            _sql(ADMIN_DSN, "CHECKPOINT")
            _progress(
                f"round {round_}/{rounds}: {system}, {count:,} messages (load {os.getloadavg()[0]:.1f})"
            )
            if system == "bridge-core":
                figure = run_core(count)
            elif system == "bridge-http":
                figure = run_bridge_http(count, timeout=max(120.0, count / 50))
            else:
                store: kannel.Store = "pgsql" if system == "kannel-pgsql" else "internal"
                figure = run_kannel(store, count, timeout=max(120.0, count / 50))
            figure["round"] = round_
            runs.append(figure)
            _progress(
                f"  {figure['per_s']:,.0f} msg/s, {figure['cpu_us_per_msg_total']:,.0f} us CPU/msg"
            )
    summary = summarise(runs)
    if not quick and "bridge-http" in summary["systems"]:
        global LIKE_FOR_LIKE_MEDIAN
        LIKE_FOR_LIKE_MEDIAN = summary["systems"]["bridge-http"]["per_s"]
    figures = [
        {"name": s["label"], "unit": "msg/s", "median_per_s": s["per_s"], "items": count}
        for s in summary["systems"].values()
    ]
    return {
        "figures": figures, "ratios": summary["ratios"], "targets": _targets(summary),
        "parameters": {
            "count": count, "rounds": rounds, "order": order, "receipt_delay_s": RECEIPT_DELAY,
            "connections": CONNECTIONS, "kannel_tuning": kannel.TUNING, "kannel_version": kannel.version(),
            "like_for_like_skipped": skipped,
        },
        "summary": summary, "runs": runs,
    }  # fmt: skip
