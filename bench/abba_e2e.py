"""The end-to-end run of two source trees in ABBA order, in one sitting.

``python -m bench.abba_e2e --baseline DIR [--rounds 2] [--count 50000]`` runs
``bench_e2e.run_once`` (no webhooks) with the baseline tree's code and with this
tree's, in the order A B B A per round, each in a fresh process started in its own
tree (its own ``.venv`` when it has one), with the metrics endpoint on and scraped.
On a shared 2-core machine the load drifts between runs; ABBA puts both trees on
either side of each drift, and the medians compare like with like. The reference
loop (``python_loop_mops``) is measured before and after. The results go to
``bench/results/<date>-e2e-abba.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import _cpu_model, _python_loop_mops
from bench.common import results_path

HERE = Path(__file__).resolve().parent.parent
_ONE = "import json, sys; from bench.bench_e2e import run_once; print(json.dumps(run_once(int(sys.argv[1]))))"
_KEYS = ("rate", "daemon_us_per_msg", "pg_us_per_msg", "sim_us_per_msg", "daemon_peak_rss_kb")


def _python(tree: Path) -> str:
    venv = tree / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_tree(tree: Path, count: int) -> dict[str, Any]:
    env = {**os.environ, "SMPP_BRIDGE_BENCH_METRICS": "1", "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [_python(tree), "-c", _ONE, str(count)], cwd=tree, env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["rate"] = result["measured"] / result["e2e_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abba_e2e")
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare with (A)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    trees = {"A": args.baseline.resolve(), "B": HERE}
    loop0 = _python_loop_mops()
    print(f"reference loop {loop0} M iterations/s; {_cpu_model()}; A = {trees['A']}, B = {trees['B']}")
    runs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for n in range(args.rounds):
        for label in "ABBA":
            r = run_tree(trees[label], args.count)
            runs[label].append(r)
            print(f"  round {n + 1} {label}: {r['rate']:,.0f} msg/s; daemon {r['daemon_us_per_msg']:.1f} us, "
                  f"PostgreSQL {r['pg_us_per_msg']:.1f} us, simulator {r['sim_us_per_msg']:.1f} us per message; "
                  f"sent {r['sent']} failed {r['failed']} reconciled {r['reconciled']}; part updates per part "
                  f"{r.get('part_updates_per_part', '-')}", flush=True)  # fmt: skip
    loop1 = _python_loop_mops()
    medians = {label: {k: statistics.median(r[k] for r in rs) for k in _KEYS} for label, rs in runs.items()}
    ratios = {k: medians["B"][k] / medians["A"][k] for k in _KEYS}
    print(f"reference loop after: {loop1} M iterations/s")
    for k in _KEYS:
        print(f"  median {k}: A {medians['A'][k]:,.1f}  B {medians['B'][k]:,.1f}  B/A {ratios[k]:.3f}")
    path = results_path(HERE / "bench" / "results", "e2e-abba")
    path.write_text(json.dumps({
        "meta": {"python_loop_mops": [loop0, loop1], "cpu": _cpu_model(), "count": args.count,
                 "rounds": args.rounds, "order": "ABBA", "metrics_endpoint": True, "note": args.note,
                 "A": str(trees["A"]), "B": str(trees["B"])},
        "medians": medians, "ratios_b_over_a": ratios, "runs": runs,
    }, indent=1) + "\n")  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
