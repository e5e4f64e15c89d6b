"""Plots and bench/REPORT.md from a results file: ``python -m bench.report RESULTS.json [RESULTS.json ...]``.

Reads the JSON ``python -m bench compare`` (and ``soak``) wrote, draws PNGs
next to it (matplotlib, Agg backend) and writes the report (``--report``,
default bench/REPORT.md) with links relative to the report.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench import kannel

HERE = Path(__file__).resolve().parent
COLOURS = {"bridge-http": "#1f77b4", "bridge-core": "#9ecae1", "kannel-pgsql": "#d62728",
           "kannel-internal": "#ff9896"}  # fmt: skip
PARTS = {"kannel": "#d62728", "postgresql": "#7f7f7f", "daemon": "#1f77b4", "api": "#6baed6"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_compare(result: dict[str, Any], stem: Path) -> list[Path]:
    plt = _plt()
    systems = result["summary"]["systems"]
    names = list(systems)
    out = []
    # Throughput: median bar, every round a dot.
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(names) + 1.5))
    for y, name in enumerate(names):
        ax.barh(y, systems[name]["per_s"], color=COLOURS.get(name, "grey"))
        ax.plot(systems[name]["per_s_all"], [y] * len(systems[name]["per_s_all"]), "k.", ms=6)
        ax.text(systems[name]["per_s"], y, f" {systems[name]['per_s']:,.0f}", va="center")
    ax.set_yticks(range(len(names)), [systems[n]["label"] for n in names], fontsize=8)
    ax.set_xlabel("messages/s, request (or queued) -> final (median bar, rounds as dots)")
    ax.set_title("Throughput, same run, ABAB rounds")
    fig.tight_layout()
    out.append(stem.with_name(stem.name + "-throughput.png"))
    fig.savefig(out[-1], dpi=100)
    plt.close(fig)
    # CPU per message, stacked by process group.
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(names) + 1.5))
    for y, name in enumerate(names):
        left = 0.0
        for part, value in systems[name]["cpu_us_per_msg"].items():
            ax.barh(y, value, left=left, color=PARTS.get(part, "#bcbd22"))
            ax.text(left + value / 2, y, part, ha="center", va="center", fontsize=7)
            left += value
        ax.text(left, y, f" {left:,.0f} us", va="center")
    ax.set_yticks(range(len(names)), [systems[n]["label"] for n in names], fontsize=8)
    ax.set_xlabel("CPU microseconds per message (simulator and load client excluded)")
    ax.set_title("CPU per message, summed over each system's processes")
    fig.tight_layout()
    out.append(stem.with_name(stem.name + "-cpu.png"))
    fig.savefig(out[-1], dpi=100)
    plt.close(fig)
    # Latency over time: p99 of request -> final per second, first round of each HTTP system.
    fig, ax = plt.subplots(figsize=(9, 4))
    for name in names:
        run = next((r for r in result["runs"] if r["system"] == name and r["timeline"]), None)
        if run is None:
            continue
        ax.plot(
            [p["t"] for p in run["timeline"]],
            [p["p99_ms"] for p in run["timeline"]],
            label=f"{systems[name]['label']} (round {run['round']})",
            color=COLOURS.get(name),
        )
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("p99 request -> final callback, ms (per second)")
    ax.set_title("Latency over time (closed loop: queues build while the gateway lags)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.append(stem.with_name(stem.name + "-latency.png"))
    fig.savefig(out[-1], dpi=100)
    plt.close(fig)
    return out


def plot_soak(result: dict[str, Any], stem: Path) -> list[Path]:
    plt = _plt()
    run = result["run"]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    timeline = run["timeline"]
    t = [p["t"] for p in timeline]
    axes[0].plot(t, [p["p99_ms"] for p in timeline], label="p99")
    axes[0].plot(t, [p["p50_ms"] for p in timeline], label="p50")
    axes[0].set_ylabel("request -> webhook, ms")
    axes[0].legend(fontsize=7)
    axes[1].plot(t, [p["outstanding"] for p in timeline])
    axes[1].set_ylabel("accepted, not final")
    axes[2].plot([s[0] for s in run["rss_series"]], [s[1] / 1024 for s in run["rss_series"]])
    axes[2].set_ylabel("RSS, MiB (daemon + API)")
    axes[2].set_xlabel("seconds")
    axes[0].set_title(f"Soak: {run['seconds_planned']:.0f} s at {run['rate']:,.0f} msg/s offered")
    fig.tight_layout()
    path = stem.with_name(stem.name + "-soak.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def _ms(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    return f"{d.get('50', 0):,.0f} / {d.get('99', 0):,.0f}"


def _compare_md(meta: dict[str, Any], result: dict[str, Any], plots: list[str]) -> list[str]:
    p, s = result["parameters"], result["summary"]
    lines = [
        f"## Side by side ({meta['started']}, {p['count']:,} messages a run, {p['rounds']} rounds, order "
        f"{' -> '.join(p['order'])})",
        "",
        f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), load average {meta['load_average_1m']} at the "
        f"start, {meta.get('load_average_1m_after', '-')} at the end (per run below), reference loop "
        f"{meta['python_loop_mops']} M iterations/s at the start, {meta.get('python_loop_mops_after', '-')} "
        "at the end, Python "
        f"{meta['python']}, Kannel {p['kannel_version']}. {meta.get('note', '')}",
        "",
        "| system | msg/s (median) | rounds | CPU us/msg (system) | of which | simulator us/msg | client us/msg "
        "| peak RSS MiB | latency p50 / p99 ms |",
        "|---|---:|---|---:|---|---:|---:|---:|---|",
    ]
    for x in s["systems"].values():
        parts = ", ".join(f"{k} {v:,.0f}" for k, v in x["cpu_us_per_msg"].items())
        lat = "; ".join(f"{k.replace('_', ' ')} {_ms(v)}" for k, v in x["latency_ms"].items())
        lines.append(
            f"| {x['label']} | {x['per_s']:,.0f} | {', '.join(f'{v:,.0f}' for v in x['per_s_all'])} "
            f"| {x['cpu_us_per_msg_total']:,.0f} | {parts} | {x['simulator_us_per_msg']:,.0f} "
            f"| {x['client_us_per_msg']:,.0f} | {x['peak_rss_kb'] / 1024:,.1f} | {lat} |"
        )
    apart = [
        f"{x['label']}: " + ", ".join(f"{k} {v:,.0f}" for k, v in x["apart_us_per_msg"].items())
        for x in s["systems"].values()
        if x.get("apart_us_per_msg")
    ]
    if apart:
        lines += [
            "",
            "CPU counted apart from the systems' (us/msg, medians; the server's processes "
            "write every database's WAL and pages, other work's included):",
            "",
        ]
        lines += [f"- {a}" for a in apart]
    lines += ["", "Every run: " + "; ".join(
        f"{r['system']} {r['round']}: {r['per_s']:,.0f} msg/s, load "
        + ("{}-{}-{}".format(*r["load_average_during"]) if r.get("load_average_during") else str(r["load_average_1m"]))
        for r in result["runs"]
    ) + " (load average min-mean-max during the run)."]
    lines += ["", "Ratios (medians of the same run):", ""]
    lines += [f"- {k}: **{v:.2f}x**" for k, v in result["ratios"].items()]
    if p.get("like_for_like_skipped"):
        lines += ["", f"Like for like **not run**: {p['like_for_like_skipped']}."]
    lines += ["", "Targets:", ""]
    for k, t in (result.get("targets") or {}).items():
        lines.append(f"- [{'ok' if t['ok'] else 'MISS'}] {k}: want {t['want']}, got {t['got']}")
    lines += [""] + [f"![{Path(x).stem}]({x})" for x in plots] + [""]
    for system, x in s["systems"].items():
        run = next(
            (
                r
                for r in reversed(result["runs"])
                if r["system"] == system and r.get("pg_statements")
            ),
            None,
        )
        if run is not None:
            lines += _statements_md(f"{x['label']}, round {run['round']}", run["pg_statements"])
    return lines


def _statements_md(title: str, stats: dict[str, Any]) -> list[str]:
    """The top statements of one run by total execution time (bench/pgstat.py)."""
    lines = [
        f"### Where PostgreSQL's time goes: {title}",
        "",
        f"pg_stat_statements over the timed part of the run: {stats['us_per_msg']:,.0f} us per message "
        f"inside the server (wall clock, lock waits included; planning {stats['plan_us_per_msg']:,.0f}), "
        f"{stats['calls_per_msg']:,.2f} top-level statements per message. Share: of the top-level total "
        "(a nested statement's time is inside its caller's).",
        "",
        "| statement | level | calls/msg | rows/call | total ms | share | mean ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in stats["top"]:
        query = t["query"].replace("|", "\\|")
        lines.append(f"| `{query}` | {t['level']} | {t['calls_per_msg']:.3f} | {t['rows_per_call']:,.1f} "
                     f"| {t['total_ms']:,.0f} | {t['share']:.0%} | {t['mean_ms']:.2f} |")  # fmt: skip
    return [*lines, ""]


def _soak_md(meta: dict[str, Any], result: dict[str, Any], plots: list[str]) -> list[str]:
    run = result["run"]
    lines = [
        f"## Soak ({meta['started']}): {run['seconds_planned']:.0f} s at {run['rate']:,.0f} msg/s offered, "
        f"{run['system_label']}",
        "",
        f"{run.get('note', '')} Load average {meta['load_average_1m']} at the start.",
        "",
    ]
    for k, t in (result.get("targets") or {}).items():
        lines.append(f"- [{'ok' if t['ok'] else 'MISS'}] {k}: want {t['want']}, got {t['got']}")
    lines += [""] + [f"![{Path(x).stem}]({x})" for x in plots] + [""]
    if run.get("pg_statements"):
        lines += _statements_md("the soak", run["pg_statements"])
    return lines


def _generic_md(name: str, meta: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Any other benchmark of the file (``carrier``: one bind against smpplib's client)."""
    lines = [
        f"## `{name}` ({meta['started']}, load average {meta['load_average_1m']} at the start)",
        "",
        "| figure | median | CPU us/msg |",
        "|---|---:|---:|",
    ]
    for fig in result.get("figures", []):
        cpu = fig.get("cpu_us_per_msg")
        lines.append(
            f"| {fig['name']} | {fig['median_per_s']:,.0f} {fig['unit']} | {'' if cpu is None else cpu} |"
        )
    lines += [""] + [f"- ratio {k}: **{v:.2f}x**" for k, v in (result.get("ratios") or {}).items()]
    for k, t in (result.get("targets") or {}).items():
        lines.append(f"- [{'ok' if t['ok'] else 'MISS'}] {k}: want {t['want']}, got {t['got']}")
    return [*lines, ""]


def _kannel_md() -> list[str]:
    return [
        "## Kannel's configuration (rerun it)",
        "",
        "`bench/kannel.py` writes it (`render()`). The first eight lines are the hand tuning "
        "done on this machine over about 40 configurations before this harness existed (Kannel "
        "was fastest with them); the last two are this harness's:",
        "",
        *[f"- {k}: {v}" for k, v in kannel.TUNING.items()],
        "",
        "Kannel 1.4.5's PostgreSQL DLR store deletes `WHERE oid = ...`; PostgreSQL 12 and later have "
        "no oid column, so the table is created with one (without it every delete fails and rows "
        "pile up; each run checks `dlr_rows_left` is 0):",
        "",
        "```sql",
        kannel.PG_TABLE.strip(),
        "```",
        "",
    ]


def write(paths: list[Path], report: Path) -> Path:
    lines = [
        "# Benchmark report: smpp-bridge beside Kannel",
        "",
        "Generated by `python -m bench.report` from the results files named below; rerun with "
        "`./dev bench compare` (about 10 minutes; `--quick`: one small round, what CI runs, no targets "
        "checked there) and `./dev bench soak`. Every figure comes from one run on the machine named "
        "with it; the ratios compare systems measured side by side in that run (ABAB rounds), "
        "which is what a shared 2-core machine whose speed moves from day to day can support.",
        "",
        "What is measured: `bench/bench_compare.py`'s docstring. Like for like is smpp-bridge from "
        "`POST /api/v1/sms/send` to the signed `sms.status` webhook received, against Kannel from "
        "`sendsms` to its dlr-url callback; both durable when Kannel uses its PostgreSQL DLR store. "
        "The core path (queued -> final with billing and outbox rows, no HTTP) is **not like for "
        "like** and labelled so.",
        "",
    ]
    notes = HERE / "REPORT-notes.md"  # the reading of the figures, by hand, kept with them
    if notes.is_file() and report.parent == HERE:
        lines += [notes.read_text().strip(), ""]
    for path in paths:
        data = json.loads(path.read_text())
        meta = data["meta"]
        stem = path.with_suffix("")
        rel = os.path.relpath(path, report.parent)
        lines.append(f"Results: [`{rel}`]({rel})")
        lines.append("")
        if "compare" in data["results"]:
            made = plot_compare(data["results"]["compare"], stem)
            lines += _compare_md(meta, data["results"]["compare"],
                                 [os.path.relpath(p, report.parent) for p in made])  # fmt: skip
        for name, other in data["results"].items():
            if name not in ("compare", "soak"):
                lines += _generic_md(name, meta, other)
        if "soak" in data["results"]:
            made = plot_soak(data["results"]["soak"], stem)
            lines += _soak_md(
                meta, data["results"]["soak"], [os.path.relpath(p, report.parent) for p in made]
            )
    lines += _kannel_md()
    report.write_text("\n".join(lines))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--report", type=Path, default=HERE / "REPORT.md")
    args = parser.parse_args()
    print(f"wrote {write(args.results, args.report)}")


if __name__ == "__main__":
    main()
