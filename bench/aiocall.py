"""What one asyncpg round trip costs the daemon: trio-asyncio against plain asyncio.

``python -m bench.aiocall [--calls 2000] [--rounds 4]`` opens a pool of two
connections on the benchmark server (``BENCH_PG_DSN``) and awaits N
``fetchval('SELECT 1')`` and N flush-shaped statements (three arrays of
``FLUSH_ROWS`` elements, the size of a writer's flush at full load) one after
the other, through the pool (a borrow per call, as the daemon's helpers do) and
on one borrowed connection, under plain asyncio (``bridge.store.aio``) and
under trio (``bridge.store.db``: trio-asyncio, ``aio_as_trio``), each with
and without the pool's ``command_timeout`` (a timer per statement), all in one
process, the order reversed every other round. Each figure is process CPU per
call (``time.process_time``: this process only, not the server's), median of
the rounds. The wrapper alone (a no-op asyncio coroutine) is measured too. A counting
pass also gives the asyncio callbacks (``call_soon`` and timers) that
trio-asyncio's loop runs per call: each is one step of its loop task.
The results go to ``bench/results/<date>-aiocall-<topic>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
import trio_asyncio

from bench.__main__ import _cpu_model, _python_loop_mops
from bench.common import results_path
from bridge.store.aio import open_aio_database
from bridge.store.db import open_database

DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5433/postgres")
FLUSH_ROWS = 400
FLUSH_SQL = "SELECT count(*) FROM unnest($1::bigint[], $2::text[], $3::int[])"
_FLUSH_ARGS = (
    list(range(FLUSH_ROWS)),
    [f"id-{i:08d}" for i in range(FLUSH_ROWS)],
    [2] * FLUSH_ROWS,
)
RESULTS = Path(__file__).resolve().parent / "results"


def _statements(db: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "select1": lambda: db.fetchval("SELECT 1"),
        "flush": lambda: db.fetchval(FLUSH_SQL, *_FLUSH_ARGS),
    }


async def _timed(call: Callable[[], Awaitable[Any]], n: int) -> float:
    for _ in range(20):  # prepared statement cached, codecs loaded
        await call()
    start = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - start) / n * 1e6


async def _aio_round(n: int, command_timeout: float | None) -> dict[str, float]:
    async with open_aio_database(
        DSN, min_size=2, max_size=2, command_timeout=command_timeout
    ) as db:
        out = {f"pool_{name}": await _timed(call, n) for name, call in _statements(db).items()}
        async with db.acquire() as conn:
            out.update(
                {f"conn_{name}": await _timed(call, n) for name, call in _statements(conn).items()}
            )
        return out


async def _trio_round(n: int, command_timeout: float | None) -> dict[str, float]:
    async with open_database(DSN, min_size=2, max_size=2, command_timeout=command_timeout) as db:
        out = {f"pool_{name}": await _timed(call, n) for name, call in _statements(db).items()}
        async with db.acquire() as conn:
            out.update(
                {f"conn_{name}": await _timed(call, n) for name, call in _statements(conn).items()}
            )
        return out


async def _noop() -> None:
    """An asyncio coroutine that never suspends: what ``aio_as_trio`` costs by itself."""


async def _aio_machinery(n: int) -> dict[str, float]:
    async def sleep0() -> None:
        await asyncio.sleep(0)

    return {"await_noop": await _timed(_noop, n), "await_sleep0": await _timed(sleep0, n)}


async def _trio_machinery(n: int) -> dict[str, float]:
    """The wrapper alone: a Task, its first step, the done callback, trio's reschedule."""
    async with trio_asyncio.open_loop():
        return {
            "await_noop": await _timed(trio_asyncio.aio_as_trio(_noop), n),
            "await_sleep0": await _timed(lambda: trio_asyncio.aio_as_trio(asyncio.sleep)(0), n),
            "trio_checkpoint": await _timed(trio.lowlevel.checkpoint, n),
        }


async def _trio_callbacks(n: int, command_timeout: float | None) -> dict[str, float]:
    """asyncio callbacks trio-asyncio's loop task runs per call (each one loop step)."""
    async with open_database(DSN, min_size=2, max_size=2, command_timeout=command_timeout) as db:
        loop = trio_asyncio.current_loop.get()
        queued = 0
        send = loop._q_send.send_nowait

        def counting(handle: object) -> None:
            nonlocal queued
            queued += 1
            send(handle)

        out = {}
        async with db.acquire() as conn:
            calls = {f"pool_{name}": call for name, call in _statements(db).items()}
            calls.update({f"conn_{name}": call for name, call in _statements(conn).items()})
            for name, call in calls.items():
                await call()
                queued = 0
                loop._q_send.send_nowait = counting
                for _ in range(n):
                    await call()
                loop._q_send.send_nowait = send
                out[name] = queued / n
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--topic", default="aioloop")
    args = parser.parse_args()
    mops = [_python_loop_mops()]
    variants: dict[str, Callable[[], dict[str, float]]] = {
        "asyncio": lambda: asyncio.run(_aio_round(args.calls, 60.0)),
        "trio_asyncio": lambda: trio.run(_trio_round, args.calls, 60.0),
        "asyncio_no_command_timeout": lambda: asyncio.run(_aio_round(args.calls, None)),
        "trio_asyncio_no_command_timeout": lambda: trio.run(_trio_round, args.calls, None),
    }
    variants["asyncio_machinery"] = lambda: asyncio.run(_aio_machinery(args.calls * 10))
    variants["trio_asyncio_machinery"] = lambda: trio.run(_trio_machinery, args.calls * 10)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        # ABBA: whatever drifts during a sitting falls on every variant alike.
        for name, run in variants.items() if round_ % 2 == 0 else reversed(variants.items()):
            runs[name].append(run())
    mops.append(_python_loop_mops())
    medians = {
        name: {stmt: round(statistics.median(r[stmt] for r in rs), 1) for stmt in rs[0]}
        for name, rs in runs.items()
    }
    callbacks = {
        "command_timeout_60": trio.run(_trio_callbacks, 500, 60.0),
        "no_command_timeout": trio.run(_trio_callbacks, 500, None),
    }
    result = {
        "meta": {"python_loop_mops": mops, "cpu": _cpu_model(), "calls": args.calls,
                 "rounds": args.rounds, "flush_rows": FLUSH_ROWS, "unit": "us of process CPU per call"},
        "medians": medians,
        "trio_over_asyncio": {stmt: round(medians["trio_asyncio"][stmt] / medians["asyncio"][stmt], 3)
                              for stmt in medians["asyncio"]},
        "trio_over_asyncio_no_command_timeout": {
            stmt: round(medians["trio_asyncio_no_command_timeout"][stmt]
                        / medians["asyncio_no_command_timeout"][stmt], 3)
            for stmt in medians["asyncio"]},
        "trio_asyncio_callbacks_per_call": callbacks,
        "runs": runs,
    }  # fmt: skip
    print(json.dumps({k: result[k] for k in ("meta", "medians", "trio_over_asyncio",
                                               "trio_asyncio_callbacks_per_call")}, indent=1))  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    path = results_path(RESULTS, f"aiocall-{args.topic}")
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(path)


if __name__ == "__main__":
    main()
