"""`smpp-bridge simulate`: run our SMSC simulator until Ctrl-C or SIGTERM.

Settings come from the defaults, then ``--config FILE`` (TOML, see docs/simulator.md),
then the flags given on the command line. It prints the address it listens on, one
stats line every ``--stats-interval`` seconds (totals and rates), and a last line
when it stops.
"""

from __future__ import annotations

import argparse
import errno
from typing import Any

_STATS = ("submits", "receipts_sent", "receipts_acked", "throttled", "queue_full", "mo_sent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 2775; 0 picks one)")
    parser.add_argument("--config", metavar="FILE", help="TOML file of simulator settings")
    parser.add_argument("--system-id", help="system_id in our bind responses")
    parser.add_argument(
        "--account", action="append", metavar="ID:PASSWORD",
        help="accept only these credentials (repeat; default: anyone)",
    )
    parser.add_argument("--max-binds", type=int, metavar="N", help="binds per system_id (0: any)")
    parser.add_argument(
        "--id-format", choices=("decimal", "hex", "uuid", "hex64", "hex70", "hex255", "empty", "latin1"),
        help="message id format (the last four break SMPP 3.4 section 4.4.2, see docs/simulator.md)",
    )
    parser.add_argument(
        "--receipt-delay", metavar="MIN[,MAX]",
        help="seconds from submit to receipt, uniform in [MIN, MAX] (e.g. 0.1,2)",
    )
    parser.add_argument(
        "--fail-rate", type=float, metavar="F",
        help="share of messages that end UNDELIV (err 1); the rest DELIVRD",
    )
    parser.add_argument(
        "--outcome", action="append", metavar="STAT=WEIGHT[:ERR]",
        help="outcome mix entry, e.g. DELIVRD=0.8 UNDELIV=0.1:1 EXPIRED=0.1 (repeat)",
    )
    parser.add_argument(
        "--fail-suffix", action="append", metavar="DIGITS",
        help="destinations ending in DIGITS end UNDELIV (repeat), e.g. 0000",
    )
    parser.add_argument(
        "--no-receipt-tlvs", action="store_true",
        help="receipts carry the Appendix B text only, no receipted_message_id/message_state",
    )
    parser.add_argument(
        "--receipt-before-resp", type=float, metavar="P",
        help="probability that a receipt is written before its submit_sm_resp",
    )
    parser.add_argument(
        "--receipts-on-transmitter", action="store_true",
        help="send receipts on transmitter binds when no receiver is bound",
    )
    parser.add_argument(
        "--intermediate", action="store_true",
        help="send an ENROUTE intermediate notification when registered_delivery asks (0x10)",
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="drop a connection whose ESME sends a malformed response (e.g. a"
             " deliver_sm_resp without its NULL message_id), as SMPPSim 2.6.11 does",
    )
    parser.add_argument("--receipt-window", type=int, metavar="N",
                        help="deliver_sm outstanding per bind (default 1024)")
    parser.add_argument("--throttle-tps", type=float, metavar="N",
                        help="answer ESME_RTHROTTLED above N submits/s per system_id")
    parser.add_argument("--throttle-per-bind", action="store_true",
                        help="the TPS limit applies to each bind, not to the system_id")
    parser.add_argument("--queue-full", type=float, metavar="P",
                        help="probability of ESME_RMSGQFUL per submit")
    parser.add_argument("--disconnect", type=float, metavar="P",
                        help="probability of dropping the connection at a submit")
    parser.add_argument("--late-resp", type=float, metavar="P",
                        help="probability that a submit_sm_resp is written late")
    parser.add_argument("--late-resp-delay", metavar="MIN[,MAX]",
                        help="seconds a late resp is held (default 1,5)")
    parser.add_argument("--no-resp", type=float, metavar="P",
                        help="probability that a submit_sm is never answered")
    parser.add_argument("--lose-receipts", type=float, metavar="FRACTION",
                        help="fraction of final receipts never sent (state stays queryable)")
    parser.add_argument("--message-store", type=int, metavar="N",
                        help="messages remembered for query_sm (default 100000; 0: none)")
    parser.add_argument(
        "--rewrite-sender", action="append", metavar="PREFIX=SENDER",
        help="alphanumeric senders to destinations starting with PREFIX arrive as SENDER",
    )
    parser.add_argument("--mo-rate", type=float, metavar="R", help="MO messages per second")
    parser.add_argument("--mo-count", type=int, metavar="N", help="MO messages in all (0: no end)")
    parser.add_argument("--mo-text", metavar="TEXT", help='MO text; "{n}" is its number')
    parser.add_argument("--enquire-link", type=float, metavar="S",
                        help="send enquire_link after S idle seconds")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible runs")
    parser.add_argument(
        "--stats-interval", type=float, default=5.0, metavar="S",
        help="seconds between stats lines (0: none; default 5)",
    )


def _pair(text: str, sep: str, what: str) -> tuple[str, str]:
    left, found, right = text.partition(sep)
    if not found or not left:
        raise ValueError(f"{what}: expected {sep!r} in {text!r}")
    return left, right


def _seconds_range(text: str, flag: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise ValueError(f"{flag}: MIN or MIN,MAX seconds, not {text!r}")
    return parts[0], parts[-1]


def _outcome(text: str) -> dict[str, Any]:
    stat, value = _pair(text, "=", "--outcome")
    weight, _, err = value.partition(":")
    try:
        return {"stat": stat.upper(), "weight": float(weight), "err": int(err or 0)}
    except ValueError:
        raise ValueError(f"--outcome: STAT=WEIGHT[:ERR], not {text!r}") from None


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives explicitly (ValueError when malformed)."""
    out: dict[str, Any] = {}
    simple = {
        "host": "host", "port": "port", "system_id": "system_id", "max_binds": "max_binds",
        "id_format": "message_id_format", "receipt_before_resp": "receipt_before_resp",
        "receipt_window": "receipt_window", "throttle_tps": "throttle_tps",
        "queue_full": "queue_full", "disconnect": "disconnect", "seed": "seed",
        "late_resp": "late_resp", "no_resp": "no_resp",
        "lose_receipts": "lose_receipts", "message_store": "message_store",
        "enquire_link": "enquire_link_interval",
    }  # fmt: skip
    for flag, key in simple.items():
        value = getattr(args, flag, None)
        if value is not None:
            out[key] = value
    if args.account:
        out["accounts"] = dict(_pair(a, ":", "--account") for a in args.account)
    for flag, key in (("receipt_delay", "receipt_delay"), ("late_resp_delay", "late_resp_delay")):
        text = getattr(args, flag)
        if text is not None:
            out[key] = _seconds_range(text, "--" + flag.replace("_", "-"))
    if args.outcome:
        out["outcomes"] = [_outcome(o) for o in args.outcome]
    elif args.fail_rate is not None:
        if not 0.0 <= args.fail_rate <= 1.0:
            raise ValueError("--fail-rate must be between 0 and 1")
        out["outcomes"] = [
            {"stat": "DELIVRD", "weight": 1.0 - args.fail_rate},
            {"stat": "UNDELIV", "weight": args.fail_rate, "err": 1},
        ]
    if args.fail_suffix:
        out["destination_rules"] = [
            {"suffix": s, "stat": "UNDELIV", "err": 1} for s in args.fail_suffix
        ]
    if args.no_receipt_tlvs:
        out["receipt_tlvs"] = False
    if args.receipts_on_transmitter:
        out["receipts_on_transmitter"] = True
    if args.intermediate:
        out["intermediate_notifications"] = True
    if args.strict:
        out["strict"] = True
    if args.throttle_per_bind:
        out["throttle_scope"] = "bind"
    if args.rewrite_sender:
        out["sender_rewrites"] = [
            dict(zip(("dest_prefix", "sender"), _pair(r, "=", "--rewrite-sender"), strict=True))
            for r in args.rewrite_sender
        ]
    mo = {
        key: value
        for key, value in (("rate", args.mo_rate), ("count", args.mo_count), ("text", args.mo_text))
        if value is not None
    }
    if mo:
        out["mo"] = mo
    return out


def build_config(args: argparse.Namespace) -> Any:
    """The SimulatorConfig for these arguments; ConfigError / ValueError when invalid."""
    from bridge.simulator import SimulatorConfig, load_config, with_overrides

    base = load_config(args.config) if args.config else SimulatorConfig()
    changes = overrides(args)
    if "mo" in changes:  # merge into the file's MO settings rather than replace them
        import msgspec

        changes["mo"] = {**msgspec.to_builtins(base.mo), **changes["mo"]}
    return with_overrides(base, **changes) if changes else base


def run(args: argparse.Namespace) -> int:
    from bridge.commands.common import first_error, report
    from bridge.simulator import ConfigError

    try:
        config = build_config(args)
    except (ConfigError, ValueError) as exc:
        return report(str(exc))
    import trio

    from bridge.gc_tuning import tune_gc

    tune_gc()  # a benchmark peer: the same settings as the daemon (bridge/gc_tuning.py)
    try:
        trio.run(_main, config, args.stats_interval)
    except Exception as exc:  # trio wraps what the nursery's tasks raise in a group
        error = first_error(exc, OSError)
        if error is None:
            raise
        hint = "stop what listens there or choose another --port" if error.errno == errno.EADDRINUSE else (
            "choose an address of this machine with --host"
        )
        return report(f"cannot listen on {config.host}:{config.port}: {error.strerror or error}; {hint}")
    return 0


async def _main(config: Any, interval: float) -> None:
    import signal

    import trio

    from bridge.simulator import Simulator

    sim = Simulator(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(sim.serve)
            print(
                f"smpp-bridge simulate: listening on {config.host}:{port}"
                f" (system_id {config.system_id}, ids {config.message_id_format},"
                f" receipt delay {config.receipt_delay[0]}-{config.receipt_delay[1]} s)",
                flush=True,
            )
            if interval > 0:
                nursery.start_soon(_report, sim, interval)
            async for signum in signals:
                print(f"smpp-bridge simulate: {signal.Signals(signum).name}, stopping", flush=True)
                break
            nursery.cancel_scope.cancel()
    print("smpp-bridge simulate: stopped; " + _totals(sim), flush=True)


def _totals(sim: Any) -> str:
    stats = sim.stats
    resps = " ".join(f"{k}={v}" for k, v in stats.as_dict()["resps"].items())
    return (
        f"binds={stats.binds} bound={stats.bound} "
        + " ".join(f"{name}={getattr(stats, name)}" for name in _STATS)
        + (f" resps[{resps}]" if resps else "")
    )


async def _report(sim: Any, interval: float) -> None:
    import trio

    last = {name: 0 for name in _STATS}
    then = trio.current_time()
    while True:
        await trio.sleep(interval)
        now = trio.current_time()
        elapsed = max(now - then, 1e-9)
        rates = " ".join(
            f"{name}/s={(getattr(sim.stats, name) - last[name]) / elapsed:.0f}"
            for name in ("submits", "receipts_sent")
        )
        print(f"stats: {_totals(sim)} | {rates}", flush=True)
        last = {name: getattr(sim.stats, name) for name in _STATS}
        then = now
