"""Run the benchmarks: `python -m bench [NAME ...] [--quick] [--out DIR]`.

Every module ``bench/bench_<name>.py`` is a benchmark. It exposes
``DESCRIPTION`` and ``run(quick: bool) -> dict`` returning
``{"figures": [Rate.as_dict(), ...], "ratios": {...}, "targets": {...}}``;
``targets`` maps a figure to ``{"want": ..., "got": ..., "ok": bool}``.
Results are printed and written as JSON (and a PNG plot when matplotlib is
installed) under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path
from typing import Any

import bench
from bench.common import results_path

RESULTS = Path(__file__).resolve().parent / "results"


def available() -> dict[str, str]:
    names = {}
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name.startswith("bench_"):
            names[info.name.removeprefix("bench_")] = f"bench.{info.name}"
    return dict(sorted(names.items()))


def _print_result(name: str, result: dict[str, Any]) -> None:
    print(f"\n## {name}")
    for fig in result.get("figures", []):
        print(f"  {fig['name']:<48} {fig['median_per_s']:>14,.0f} {fig['unit']} (median)")
    for key, value in (result.get("ratios") or {}).items():
        print(f"  ratio {key:<42} {value:>14.1f}x")
    for key, t in (result.get("targets") or {}).items():
        mark = "ok " if t["ok"] else "MISS"
        print(f"  target [{mark}] {key}: want {t['want']}, got {t['got']}")


def _plot(all_results: dict[str, dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels, values = [], []
    for name, result in all_results.items():
        for fig in result.get("figures", []):
            labels.append(f"{name}: {fig['name']}")
            values.append(fig["median_per_s"])
    fig_, ax = plt.subplots(figsize=(10, 0.4 * len(labels) + 1))
    ax.barh(labels, values)
    ax.set_xscale("log")
    ax.set_xlabel("per second (median, log scale)")
    fig_.tight_layout()
    fig_.savefig(path)
    return True


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _python_loop_mops() -> float:
    """A fixed pure-Python loop, best of 5: how fast this machine runs Python right now.

    The same code gave 12,900-13,600 end-to-end msg/s on one session's machine and
    16,100-17,600 on the next one's (docs/operations.md): figures from different
    machines compare only next to a reference like this one.
    """
    n = 2_000_000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(n):
            total += i & 7
        best = min(best, time.perf_counter() - start)
    return round(n / best / 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. what else loaded the machine)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
    chosen = args.names or list(names)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python_loop_mops": _python_loop_mops(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "note": args.note,
    }
    print(
        f"smpp-bridge benchmarks on Python {meta['python']}, {meta['cpus']} CPUs ({meta['cpu_model']}); "
        f"load {meta['load_average_1m']}; reference loop {meta['python_loop_mops']} M iterations/s"
    )
    results: dict[str, dict[str, Any]] = {}
    missed = []
    for name in chosen:
        module = importlib.import_module(names[name])
        print(f"\n... {name}: {module.DESCRIPTION}", flush=True)
        result = module.run(quick=args.quick)
        results[name] = result
        _print_result(name, result)
        missed += [f"{name}: {k}" for k, t in (result.get("targets") or {}).items() if not t["ok"]]
    meta["python_loop_mops_after"] = _python_loop_mops()  # the machine may have changed meanwhile
    meta["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    suite = "-".join(chosen) if len(chosen) <= 3 else "all"
    out = results_path(args.out, f"{suite}{'-quick' if args.quick else ''}")
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"\nwrote {out}")
    if _plot(results, out.with_suffix(".png")):
        print(f"wrote {out.with_suffix('.png')}")
    if {"compare", "soak"} & set(results):
        from bench import report

        # A quick run's report stays beside its results (CI, the smoke test);
        # a full run's is bench/REPORT.md, over the files named in REPORT_SOURCES.
        target_md = report.HERE / "REPORT.md" if not args.quick and args.out == RESULTS else out.with_suffix(".md")
        print(f"wrote {report.write([out], target_md)}")
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
