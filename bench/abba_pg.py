"""PostgreSQL's CPU on the core path without SMPP, two schemas alternated batch by batch.

``python -m bench.abba_pg --baseline DIR [--count 50000] [--repeats 3] [--what path|finalize]``
creates two databases on the benchmark server (BENCH_PG_DSN), A migrated and filled
(``bench_e2e._prepare``: bulk enqueue) by the baseline tree's code, B by this tree's,
then drives both from this process, alternating A B / B A per batch of 1,000 parts:

- ``path``: ``claim_parts`` (its backend CPU reported apart), then ``apply_flush``
  with an accepted outcome per part and its final receipt folded into it (the
  daemon's common flush; apply.py);
- ``finalize``: ``claim_parts``, the parts set delivered (not timed), then
  ``finalize_messages`` on their one-part messages (the messages' UPDATE, ledger,
  accounts).

The Python is this tree's for both, so only the SQL (functions, triggers, indexes)
differs. CPU is the backend's time on a CPU from ``/proc/PID/schedstat`` (ns), around
each call; alternating per batch puts both schemas on either side of every drift of a
shared machine. The results go to ``bench/results/<date>-pg-abba-<what>[-<topic>].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
from pathlib import Path
from typing import Any

import trio

from bench.__main__ import _cpu_model, _python_loop_mops
from bench.common import results_path

HERE = Path(__file__).resolve().parent.parent
BATCH = 1000
_PREPARE = "import sys, trio; from bench.bench_e2e import _prepare; trio.run(_prepare, sys.argv[1], int(sys.argv[2]))"


def _on_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


async def _batch(db: Any, s: dict[str, Any], what: str) -> int:
    """One claim and its flush (or finalize); adds the backend's CPU to ``s``; parts done."""
    import dlr
    from bridge.dispatch import apply
    from bridge.dispatch.claim import CLAIM_SQL
    from bridge.dispatch.inbound import ReceiptRow
    from bridge.dispatch.parts import ClaimedPart, Resolution, Result

    c0 = _on_cpu(s["pid"])
    rows = await db.fetch(CLAIM_SQL, s["owner"], BATCH, s["routes"], [])
    s["claim_cpu"] += _on_cpu(s["pid"]) - c0
    if not rows:
        return 0
    if what == "finalize":
        ids = [r[0] for r in rows]
        await db.execute("UPDATE message_parts SET state = 'delivered', final_at = now()"
                         " WHERE message_id = ANY ($1::bigint[])", ids)  # fmt: skip
        c0 = _on_cpu(s["pid"])
        done = await db.fetchval(
            "SELECT count(*) FROM finalize_messages($1::bigint[], $2::text[], $3::text[], '{}'::bigint[], false, NULL)",
            ids, ["delivered"] * len(ids), [None] * len(ids),
        )  # fmt: skip
        s["cpu"] += _on_cpu(s["pid"]) - c0
        assert done == len(ids), done
        return len(rows)
    results, receipts = [], []
    for row in rows:
        part = ClaimedPart(*row)
        carrier_id = f"{part.message_id:016x}"
        results.append(Result(part, Resolution.ACCEPTED, "sim", carrier_id, carrier_id, written_at=trio.current_time()))
        receipts.append(ReceiptRow("sim", carrier_id, dlr.Status.SENT, "DELIVRD", None, {}, b""))
    c0 = _on_cpu(s["pid"])
    out, unmatched = await apply._apply(db, results, receipts, webhooks=False, default_url=None)
    s["cpu"] += _on_cpu(s["pid"]) - c0
    assert not unmatched and out.folded == len(rows), (out, unmatched)
    return len(rows)


async def run_pair(trees: dict[str, Path], count: int, what: str) -> dict[str, float]:
    from bench.bench_e2e import _admin
    from bench.common import ADMIN_DSN, database_dsn
    from bridge.store.db import open_database

    names = {k: f"smpp_bridge_pg_abba_{k.lower()}_{secrets.token_hex(4)}" for k in trees}
    try:
        for k, tree in trees.items():
            await _admin(ADMIN_DSN, f'CREATE DATABASE "{names[k]}"')
            python = tree / ".venv" / "bin" / "python"
            await trio.run_process([str(python), "-c", _PREPARE, database_dsn(names[k]), str(count)],
                                   cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})  # fmt: skip
        state: dict[str, dict[str, Any]] = {}
        async with open_database(database_dsn(names["A"]), min_size=1, max_size=1) as db_a, \
                open_database(database_dsn(names["B"]), min_size=1, max_size=1) as db_b:  # fmt: skip
            dbs = {"A": db_a, "B": db_b}
            for k, db in dbs.items():
                owner = await db.fetchval("INSERT INTO daemon_instances (name, hostname, pid, lease_until)"
                                          " VALUES ('abba_pg', 'bench', 1, now() + interval '1 hour') RETURNING id")
                routes = [r[0] for r in await db.fetch("SELECT DISTINCT route FROM message_parts")]
                state[k] = {"owner": owner, "routes": routes, "pid": await db.fetchval("SELECT pg_backend_pid()"),
                            "cpu": 0.0, "claim_cpu": 0.0, "n": 0, "done": False}  # fmt: skip
            await db_a.execute("CHECKPOINT")
            order = ["A", "B"]
            while not all(s["done"] for s in state.values()):
                for k in order:
                    if not state[k]["done"]:
                        n = await _batch(dbs[k], state[k], what)
                        state[k]["n"] += n
                        state[k]["done"] = n == 0
                order.reverse()
        out = {k: s["cpu"] / max(s["n"], 1) * 1e6 for k, s in state.items()}
        out.update({f"{k}_claim": s["claim_cpu"] / max(s["n"], 1) * 1e6 for k, s in state.items()})
        return out
    finally:
        for name in names.values():
            await _admin(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abba_pg")
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare with (A)")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--what", choices=("path", "finalize"), default="path")
    parser.add_argument("--note", default="")
    parser.add_argument("--topic", default="", help="suffix of the results file's name")
    args = parser.parse_args(argv)
    trees = {"A": args.baseline.resolve(), "B": HERE}
    loop0 = _python_loop_mops()
    print(f"reference loop {loop0} M iterations/s; {_cpu_model()}; A = {trees['A']}, B = {trees['B']}; {args.what}")
    runs = []
    for n in range(args.repeats):
        r = trio.run(run_pair, trees, args.count, args.what)
        r["ratio"] = r["B"] / r["A"]
        r["claim_ratio"] = r["B_claim"] / r["A_claim"]
        runs.append(r)
        print(f"  run {n + 1}: A {r['A']:.2f} us, B {r['B']:.2f} us per message of backend CPU; B/A {r['ratio']:.3f};"
              f" claim A {r['A_claim']:.2f} us, B {r['B_claim']:.2f} us, B/A {r['claim_ratio']:.3f}",
              flush=True)  # fmt: skip
    loop1 = _python_loop_mops()
    medians = {k: statistics.median(r[k] for r in runs) for k in ("A", "B", "ratio", "A_claim", "B_claim", "claim_ratio")}
    print(f"reference loop after: {loop1} M iterations/s")
    print(f"  median: A {medians['A']:.2f} us  B {medians['B']:.2f} us  B/A (median of runs) {medians['ratio']:.3f};"
          f" claim A {medians['A_claim']:.2f} us  B {medians['B_claim']:.2f} us  B/A {medians['claim_ratio']:.3f}")
    suffix = f"-{args.topic}" if args.topic else ""
    path = results_path(HERE / "bench" / "results", f"pg-abba-{args.what}{suffix}")
    path.write_text(json.dumps({
        "meta": {"python_loop_mops": [loop0, loop1], "cpu": _cpu_model(), "count": args.count, "what": args.what,
                 "batch": BATCH, "note": args.note, "A": str(trees["A"]), "B": str(trees["B"])},
        "medians": medians, "runs": runs,
    }, indent=1) + "\n")  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
