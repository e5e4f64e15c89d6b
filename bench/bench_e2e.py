"""End to end: queued -> submitted -> receipt -> sent/failed, billed, with outbox rows.

Three processes, as in production: the daemon (`smpp-bridge run`), the
simulator (`smpp-bridge simulate`, receipts after a few milliseconds) and
PostgreSQL (BENCH_PG_DSN, by default 127.0.0.1:5432, when it answers, else the embedded server), all
on this machine. N recipients are enqueued in bulk first (``enqueue_many``,
its own rate reported), then the daemon starts; the clock runs from its
READY=1 (we play systemd: NOTIFY_SOCKET) until no message is pending. CPU
is read from /proc/<pid>/stat (utime + stime): the daemon's, the
simulator's, and that of the PostgreSQL backends serving our database
(found in pg_stat_activity), each per message.

``SMPP_BRIDGE_BENCH_PROFILE=FILE`` runs the daemon under cProfile and writes
its stats to FILE (slower; for finding where the time goes).
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import common, pgstat
from bench.common import SIM_BRIDGE_CONFIG, Rate, database_dsn, pg_address, target

DESCRIPTION = "messages/s queued -> final (receipts, billing, outbox) through daemon + simulator + PostgreSQL"

TARGET_PER_S = 15_000.0
ADMIN_DSN = common.ADMIN_DSN
_TICKS = os.sysconf("SC_CLK_TCK")
_BODY = "Your verification code is 482915. It expires in 5 minutes."

_CONFIG = SIM_BRIDGE_CONFIG + """
[webhooks]
enabled = true
run_in_daemon = {hooks}
master_key_env = "SMPP_BRIDGE_BENCH_WEBHOOK_KEY"
require_https = false
allow_networks = ["127.0.0.1/32"]
concurrency = 16

[daemon]
claim_batch = 1000
writer_batch = 1000
poll_interval = "100ms"
drain_timeout = "10s"
"""

_SIMULATOR = """
[simulator]
host = "127.0.0.1"
port = {port}
receipt_delay = [{delay_low}, {delay_high}]
message_id_format = "hex"
receipt_window = 1000
"""


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (psutil is not a dependency)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    # Fields after "(comm)": state is index 0, utime 11, stime 12 (proc(5): 14 and 15).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.cli", *args]


async def _admin(dsn: str, sql: str) -> None:
    from bridge.store.db import open_connection

    async with open_connection(dsn) as conn:
        await conn.execute(sql)


async def _prepare(dsn: str, total: int, hook_url: str | None = None, key_text: str | None = None) -> dict[str, Any]:
    """Migrate, create the account, enqueue ``total`` recipients in bulk; time the enqueue."""
    from bridge.store.accounts import create_account
    from bridge.store.db import open_database
    from bridge.store.enqueue import SendRequest, enqueue_many
    from bridge.store.migrate import migrate
    from bridge.store.routing import RouteTable
    from config.load import parse_config

    await migrate(dsn)
    config = parse_config(_CONFIG.format(port=1, binds=1, window=1, hooks="false"), source="<bench>")
    numbers = [f"+60123{n:06d}" for n in range(1000)]
    per_request, per_tx = 100, 50
    async with open_database(dsn, min_size=1, max_size=2) as db:
        await create_account(db, "bench", credits=total)
        if hook_url is not None and key_text is not None:
            # One signed webhook per message, to a local keep-alive receiver.
            from bridge.webhooks.endpoints import set_endpoint
            from bridge.webhooks.sealing import MasterKey

            await set_endpoint(db, MasterKey.parse(key_text), account="bench", url=hook_url, require_https=False)
        table = RouteTable(config)
        requests = [
            SendRequest(to=[numbers[(i + j) % len(numbers)] for j in range(per_request)], message=_BODY)
            for i in range(0, total, per_request)
        ]
        start = time.perf_counter()
        for i in range(0, len(requests), per_tx):
            await enqueue_many(db, config, "bench", requests[i : i + per_tx], routes=table)
        seconds = time.perf_counter() - start
    return {"enqueue_s": seconds}


# Parts not final, through the partial indexes on queued and in-flight parts:
# cheap however many final rows the table holds (a count over messages is a
# full scan that would compete with the daemon for the same two cores).
_PENDING_PARTS = (
    "SELECT (SELECT count(*) FROM message_parts WHERE state = 'queued')"
    " + (SELECT count(*) FROM message_parts WHERE state IN ('submitting', 'submitted'))"
)
# Polled every 50 ms: whether any part is pending at all, which stops at the first
# index entry (counting 100,000 queued parts each time cost PostgreSQL about 2.4 s
# of CPU in a 100,000-message run, taken from the daemon's two cores).
_ANY_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM message_parts WHERE state = 'queued')"
    " OR EXISTS (SELECT 1 FROM message_parts WHERE state IN ('submitting', 'submitted'))"
)
_FINAL = "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')"
_HOOKS_PENDING = "SELECT EXISTS (SELECT 1 FROM webhook_outbox WHERE state = 'pending')"
_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


async def _monitor(
    dsn: str, daemon: subprocess.Popen[bytes], limit: float, *, hooks: bool = False, quarters: int = 0
) -> dict[str, Any]:
    """From READY until no part (and, with ``hooks``, no webhook) is pending: elapsed
    time, CPU of daemon, simulator and backends; with ``quarters`` (the number of
    messages), when each quarter of them was settled."""
    import trio

    from bench.procstat import rss_kb
    from bench.quarters_e2e import LAST_LEDGER_ID, Quarters
    from bridge.store.db import open_connection

    async with open_connection(dsn) as conn:
        final0 = int(await conn.fetchval(_FINAL))
        start = time.perf_counter()
        daemon_cpu0 = _cpu_seconds(daemon.pid)
        rss0 = rss_kb(daemon.pid)
        pending0 = int(await conn.fetchval(_PENDING_PARTS))
        backends = {r["pid"]: _cpu_seconds(r["pid"]) for r in await conn.fetch(_BACKENDS)}
        cpu0 = dict(backends)
        track = Quarters(quarters, int(await conn.fetchval(LAST_LEDGER_ID))) if quarters else None
        pending = bool(pending0)
        while pending and time.perf_counter() - start < limit:
            # 50 ms: the end of a 20,000-message run (about 3 s) is known to within 2%.
            await trio.sleep(0.05)
            pending = bool(await conn.fetchval(_ANY_PENDING))
            if hooks and not pending:
                pending = bool(await conn.fetchval(_HOOKS_PENDING))
            for row in await conn.fetch(_BACKENDS):
                backends.setdefault(row["pid"], 0.0)
                cpu0.setdefault(row["pid"], 0.0)  # born during the run: all its CPU counts
            for pid in backends:
                try:
                    backends[pid] = _cpu_seconds(pid)
                except FileNotFoundError:
                    pass  # exited: keep its last reading
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited with {daemon.returncode}")
            if track is not None:
                settled = int(await conn.fetchval(LAST_LEDGER_ID)) - track.ledger0
                while track.due(settled) or (not pending and len(track.marks) < 4):
                    track.mark(settled, time.perf_counter() - start, daemon.pid,
                               _cpu_seconds(daemon.pid) - daemon_cpu0,
                               sum(backends[p] - cpu0[p] for p in backends))  # fmt: skip
        seconds = time.perf_counter() - start
        finished = int(await conn.fetchval(_FINAL)) - final0
        left = int(await conn.fetchval(_PENDING_PARTS)) if pending else 0
    return {
        "seconds": seconds, "pending_parts0": pending0, "pending_parts": left,
        "daemon_cpu": _cpu_seconds(daemon.pid) - daemon_cpu0,
        "pg_cpu": sum(backends[p] - cpu0[p] for p in backends), "final": finished,
        **({"quarters": track.summary(rss0), "daemon_rss0_kb": rss0} if track is not None else {}),
    }  # fmt: skip


#: p50 / p99 (ms) from the submit_sm_resp stored to the final state, over every part.
SUBMIT_TO_FINAL = (
    "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50,"
    " percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99 FROM ("
    " SELECT extract(epoch FROM final_at - submitted_at) * 1000 AS d FROM message_parts"
    " WHERE final_at IS NOT NULL AND submitted_at IS NOT NULL) s"
)


async def _summary(dsn: str) -> dict[str, Any]:
    from bridge.store.accounts import reconcile
    from bridge.store.db import open_connection

    async with open_connection(dsn) as conn:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE state = 'delivered') AS sent,"
            " count(*) FILTER (WHERE state = 'failed') AS failed,"
            " (SELECT count(*) FROM webhook_outbox) AS outbox,"
            " (SELECT count(*) FROM webhook_outbox WHERE state = 'delivered') AS hooks_delivered FROM messages"
        )
        check = await reconcile(conn, "bench")
        lat = await conn.fetchrow(SUBMIT_TO_FINAL)
        # Row versions per part after the insert: claim, response, receipt (3), or 2 when
        # the response and its receipt were folded into one UPDATE (docs/flush.md). The
        # daemon has exited, so its backends have reported their counts.
        updates = await conn.fetchval(
            "SELECT n_tup_upd::float8 / greatest((SELECT count(*) FROM message_parts), 1)"
            " FROM pg_stat_user_tables WHERE relname = 'message_parts'"
        )
    assert row is not None and lat is not None
    return {"sent": row["sent"], "failed": row["failed"], "outbox": row["outbox"],
            "hooks_delivered": row["hooks_delivered"], "reconciled": check.ok,
            "submit_to_final_ms": {"50": float(lat["p50"] or 0), "99": float(lat["p99"] or 0)},
            "part_updates_per_part": round(float(updates or 0), 3)}


def _wait_ready(sock: socket.socket, daemon: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited with {daemon.returncode} before READY")
        sock.settimeout(0.2)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        if b"READY=1" in data.split(b"\n"):
            threading.Thread(target=_drain, args=(sock,), daemon=True).start()
            return
    raise RuntimeError("no READY=1 from the daemon")


def _drain(sock: socket.socket) -> None:
    """Read and drop the daemon's later STATUS= datagrams until the socket is closed, as
    systemd would: a full socket makes every sd_notify fail (and log a warning)."""
    while sock.fileno() != -1:
        try:
            sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return


def _hwm_kb(pid: int) -> int:
    """Peak RSS (VmHWM) of a live process, in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class _Scraper:
    """GET /metrics every second and the status page every five, as a Prometheus and a
    person watching would (SMPP_BRIDGE_BENCH_METRICS=1)."""

    def __init__(self, port: int) -> None:
        import threading

        self.base = f"http://127.0.0.1:{port}"
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import urllib.request

        tick = 0
        while not self._stop.wait(1.0):
            for path in ("/metrics", "/") if tick % 5 == 0 else ("/metrics",):
                with urllib.request.urlopen(self.base + path, timeout=5) as resp:
                    resp.read()
                self.scrapes += 1
            tick += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        print(f"  (metrics endpoint on: {self.scrapes} requests during the run)")


def run_once(
    total: int, *, binds: int = 2, window: int = 500, hooks: bool = False, sender_process: bool = False,
    receipt_delay: tuple[float, float] = (0.001, 0.01), quarters: bool = False,
) -> dict[str, Any]:
    """One run; ``hooks``: every message has a webhook URL and one signed sms.status per
    message reaches a local receiver process before the clock stops, sent by the daemon's
    sender, or with ``sender_process`` by `smpp-bridge webhooks run` beside the daemon."""
    import trio

    from bridge.store.embedded import server_reachable

    work = Path(tempfile.mkdtemp(prefix="smpp-bridge-bench-"))
    name = f"smpp_bridge_bench_{secrets.token_hex(4)}"
    embedded = None
    if server_reachable(*pg_address()):
        admin = ADMIN_DSN
        dsn = database_dsn(name)
    else:
        from bridge.store.embedded import start_embedded

        embedded = start_embedded(work / "pgdata")
        admin, dsn = embedded.dsn, embedded.dsn_for(name)
    trio.run(_admin, admin, f'CREATE DATABASE "{name}"')
    processes: list[subprocess.Popen[bytes]] = []
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver = None
    try:
        key_text = hook_url = None
        if hooks:
            from bench.bench_webhooks import start_receiver
            from bridge.webhooks.sealing import MasterKey

            _key, key_text = MasterKey.generate()
            receiver, hook_port = start_receiver(work)
            processes.append(receiver)
            hook_url = f"http://127.0.0.1:{hook_port}/hook"
        prep = trio.run(_prepare, dsn, total, hook_url, key_text)
        port = _free_port()
        (work / "sim.toml").write_text(
            _SIMULATOR.format(port=port, delay_low=receipt_delay[0], delay_high=receipt_delay[1])
        )
        config = _CONFIG.format(port=port, binds=binds, window=window,
                                hooks="true" if hooks and not sender_process else "false")
        scrape_port = _free_port() if os.environ.get("SMPP_BRIDGE_BENCH_METRICS") == "1" else None
        if scrape_port is not None:  # the endpoint on, scraped every second (docs/operations.md "Metrics")
            config = config.replace("[daemon]\n", f'[daemon]\nmetrics_listen = "127.0.0.1:{scrape_port}"\n', 1)
        (work / "bridge.toml").write_text(config)
        sim = subprocess.Popen(
            _cli("simulate", "--config", str(work / "sim.toml"), "--stats-interval", "0"),
            stdout=subprocess.DEVNULL, stderr=open(work / "sim.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        processes.append(sim)
        deadline = time.monotonic() + 20
        while not server_reachable("127.0.0.1", port, timeout=0.2):
            if sim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start: {(work / 'sim.log').read_text()[-2000:]}")
            time.sleep(0.05)
        notify.bind(str(work / "notify.sock"))
        env = {**os.environ, "SMPP_BRIDGE_BENCH_DSN": dsn, "NOTIFY_SOCKET": str(work / "notify.sock"),
               "SMPP_BRIDGE_BENCH_WEBHOOK_KEY": key_text or ""}
        profile = os.environ.get("SMPP_BRIDGE_BENCH_PROFILE")
        argv = _cli("run", "-c", str(work / "bridge.toml"))
        if profile:
            argv = [sys.executable, "-m", "cProfile", "-o", profile, *argv[1:]]
        daemon = subprocess.Popen(argv, env=env, stderr=open(work / "daemon.log", "wb"))  # noqa: SIM115
        processes.append(daemon)
        spawned = time.perf_counter()
        sender = None
        if hooks and sender_process:
            sender = subprocess.Popen(_cli("webhooks", "run", "-c", str(work / "bridge.toml")), env=env,
                                      stderr=open(work / "sender.log", "wb"))  # noqa: SIM115
            processes.append(sender)
        _wait_ready(notify, daemon, 60)
        pgstat.reset()  # the statements from READY on (the bulk enqueue is not timed either)
        sender_cpu0 = _cpu_seconds(sender.pid) if sender is not None else 0.0
        sim_cpu0 = _cpu_seconds(sim.pid)
        rec_cpu0 = _cpu_seconds(receiver.pid) if receiver is not None else 0.0
        scraper = _Scraper(scrape_port) if scrape_port is not None else None
        try:
            watch = trio.run(functools.partial(_monitor, dsn, daemon, 300.0 + total / 1000, hooks=hooks,
                                               quarters=total if quarters else 0))
        finally:
            if scraper is not None:
                scraper.stop()
        sim_cpu = _cpu_seconds(sim.pid) - sim_cpu0
        daemon_hwm_kb = _hwm_kb(daemon.pid)
        rec_cpu = _cpu_seconds(receiver.pid) - rec_cpu0 if receiver is not None else 0.0
        sender_cpu = _cpu_seconds(sender.pid) - sender_cpu0 if sender is not None else 0.0
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        summary = trio.run(_summary, dsn)
        measured = max(watch["final"], 1)  # messages that became final after READY
        summary["pg_statements"] = pgstat.top(name, measured)
        seconds = watch["seconds"]
        return {
            "total": total, "pending_left": watch["pending_parts"], "enqueue_s": prep["enqueue_s"],
            "e2e_s": seconds, "measured": measured, "from_spawn_s": time.perf_counter() - spawned,
            "daemon_us_per_msg": watch["daemon_cpu"] / measured * 1e6,
            "pg_us_per_msg": watch["pg_cpu"] / measured * 1e6,
            "sim_us_per_msg": sim_cpu / measured * 1e6, "receiver_us_per_msg": rec_cpu / measured * 1e6,
            "sender_process_us_per_msg": sender_cpu / measured * 1e6,
            "daemon_exit": daemon.returncode, "daemon_peak_rss_kb": daemon_hwm_kb, **summary,
            **{k: watch[k] for k in ("quarters", "daemon_rss0_kb") if k in watch},
        }  # fmt: skip
    finally:
        notify.close()
        for process in reversed(processes):
            if process.poll() is None:
                process.kill()
                process.wait()
        trio.run(_admin, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded is not None:
            embedded.stop()


def _line(label: str, total: int, r: dict[str, Any]) -> None:
    print(
        f"  {label}: enqueue {total / r['enqueue_s']:,.0f}/s; end to end {r['measured'] / r['e2e_s']:,.0f} msg/s "
        f"({r['measured']} in {r['e2e_s']:.2f}s); CPU per message: daemon {r['daemon_us_per_msg']:.1f} us, "
        f"PostgreSQL {r['pg_us_per_msg']:.1f} us, simulator {r['sim_us_per_msg']:.1f} us, "
        f"webhook receiver {r['receiver_us_per_msg']:.1f} us, sender process {r['sender_process_us_per_msg']:.1f} us;"
        f" sent {r['sent']} failed {r['failed']} "
        f"outbox {r['outbox']} webhooks delivered {r['hooks_delivered']} reconciled {r['reconciled']}"
    )


def run(quick: bool) -> dict[str, Any]:
    total = 20_000 if quick else 100_000
    r = run_once(total)
    _line("without webhooks", total, r)
    h = run_once(total, hooks=True)
    _line("one webhook per message (the daemon's sender)", total, h)
    p = run_once(total, hooks=True, sender_process=True)
    _line("one webhook per message (`webhooks run` beside the daemon)", total, p)
    extra = {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
    e2e = Rate("end to end (READY -> all final)", r["measured"], (r["e2e_s"],), unit="msg/s", extra=extra)
    extra_h = {k: round(v, 2) if isinstance(v, float) else v for k, v in h.items()}
    e2e_h = Rate("end to end with one webhook per message (READY -> all delivered)", h["measured"],
                 (h["e2e_s"],), unit="msg/s", extra=extra_h)  # fmt: skip
    extra_p = {k: round(v, 2) if isinstance(v, float) else v for k, v in p.items()}
    e2e_p = Rate("end to end with one webhook per message, sender process (READY -> all delivered)",
                 p["measured"], (p["e2e_s"],), unit="msg/s", extra=extra_p)  # fmt: skip
    enqueue = Rate("enqueue_many (bulk, before timing)", total, (r["enqueue_s"],), unit="msg/s")
    complete = r["pending_left"] == 0 and r["reconciled"] and r["outbox"] == 0
    hooked = h["pending_left"] == 0 and h["reconciled"] and h["hooks_delivered"] == h["sent"] + h["failed"]
    ratio = e2e_h.median / e2e.median
    ratio_p = e2e_p.median / e2e.median
    return {
        "figures": [e2e.as_dict(), e2e_h.as_dict(), e2e_p.as_dict(), enqueue.as_dict()],
        "ratios": {"with webhooks / without": ratio, "with webhooks (sender process) / without": ratio_p},
        "targets": {
            "end-to-end msg/s": target(TARGET_PER_S, e2e.median),
            "with webhooks, share of the run without (%)": target(40.0, 100 * ratio),
            "with webhooks (sender process), share of the run without (%)": target(40.0, 100 * ratio_p),
            "every message final, ledger reconciles, no outbox row without a URL": {
                "want": "yes", "got": "yes" if complete else "no", "ok": complete,
            },
            "one delivered webhook per final message": {
                "want": "yes", "got": "yes" if hooked else "no", "ok": hooked,
            },
        },
    }
