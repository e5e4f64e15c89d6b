"""One bind against our simulator: submit_sm round trips/s, with and without receipts.

Setup: the simulator runs in its own process (its own core on a 2-core
machine, so it is not the bridge's CPU we measure); the bridge runs here, one
bind, window 64 and 512, ``window`` submitters calling ``Carrier.submit`` as the
dispatcher does. Figures:

- ``carrier wN responses``: submit_sm -> submit_sm_resp round trips per second;
- ``carrier wN receipts``: the same with registered_delivery, counting a message
  done when its receipt arrived on the inbound channel and was acked;
- ``carrier wN responses, submit_nowait``: the round trips again through
  ``Carrier.submit_nowait`` (the daemon's path since 64115c4: no task per PDU, the
  outcome comes through a callback), one loop writing while window places are free
  (no target: a figure to compare with the line above, in the same run);
- ``cpu_us_per_msg``: time.process_time() of this (bridge) process per message;
- ``smpplib wN pipelined``: smpplib's Client in a subprocess against the same
  simulator, pipelined by window (send N submit_sm, then read the N resps), the
  best a plain smpplib user gets.

Targets: >= 30,000 round trips/s and >= 3x smpplib, each also given in
CPU time (round trips per bridge CPU-second, CPU per message vs smpplib's), which
the load of a shared machine disturbs far less than the wall clock.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import Rate, target

DESCRIPTION = "carrier: one bind vs our simulator (subprocess), windows 64/512, vs smpplib"

WINDOWS = (64, 512)
REPEATS = 3
_SIM_CODE = """
import sys, trio
from bridge.simulator import Simulator, SimulatorConfig
async def main():
    sim = Simulator(SimulatorConfig(seed=1, receipt_tlvs=True))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, "127.0.0.1", 0)
        print(port, flush=True)
        await trio.to_thread.run_sync(sys.stdin.read)  # until the bench closes stdin
        nursery.cancel_scope.cancel()
trio.run(main)
"""


def _submit_pdu(receipt: bool) -> Any:
    from bridge.smpp.pdus import SubmitSm

    return SubmitSm(source_addr_ton=5, source_addr="Bridge", dest_addr_ton=1, dest_addr_npi=1,
                    destination_addr="447700900123", short_message=b"Your code is 123456",
                    registered_delivery=1 if receipt else 0)


def _ours(
    port: int, window: int, count: int, receipts: bool, nowait: bool = False
) -> tuple[list[float], list[float]]:
    """(wall seconds, cpu seconds) per repeat, after one warm-up round."""
    import structlog
    import trio

    from bridge.carrier import Accepted, Carrier, Inbound
    from bridge.smpp.constants import CommandStatus
    from config.schema import Carrier as CarrierConfig

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    cfg = CarrierConfig(name="bench", host="127.0.0.1", port=port, system_id="bench",
                        window=window, tps=1e9)
    pdu = _submit_pdu(receipts)
    walls: list[float] = []
    cpus: list[float] = []

    async def main() -> None:
        send, receive = trio.open_memory_channel[Inbound](4096)
        carrier = Carrier(cfg, password="bench", inbound=send)
        ok = CommandStatus.ESME_ROK

        async def one_round(n: int) -> None:
            left = n
            acked = 0

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    outcome = await carrier.submit(pdu)
                    if type(outcome) is not Accepted:
                        raise RuntimeError(f"bench submit failed: {outcome!r}")

            async def acker() -> None:
                # As the daemon would: take what is there, then wait for more.
                nonlocal acked
                while acked < n:
                    try:
                        item = receive.receive_nowait()
                    except trio.WouldBlock:
                        item = await receive.receive()
                    item.ack(ok)
                    acked += 1

            async def writer() -> None:
                # As the daemon's dispatch: write while places are free, else wait for an answer.
                nonlocal left
                answered = 0
                failed: list[object] = []
                room = trio.Event()

                def done(outcome: object) -> None:
                    nonlocal answered
                    answered += 1
                    if type(outcome) is not Accepted:
                        failed.append(outcome)
                    room.set()

                while answered < n:
                    if left > 0 and carrier.submit_nowait(pdu, done):
                        left -= 1
                        if left % 128 == 0:
                            await trio.lowlevel.checkpoint()  # the bind's reader and writer run
                        continue
                    room = trio.Event()
                    await room.wait()
                if failed:
                    raise RuntimeError(f"bench submit failed: {failed[0]!r}")

            async with trio.open_nursery() as nursery:
                if receipts:
                    nursery.start_soon(acker)
                if nowait:
                    nursery.start_soon(writer)
                else:
                    for _ in range(window):
                        nursery.start_soon(worker)

        async with trio.open_nursery() as nursery:
            await nursery.start(carrier.run)
            if not carrier.up:
                raise RuntimeError("bench: could not bind to the simulator")
            await one_round(min(count, 5000))  # warm-up
            for _ in range(REPEATS):
                t0, c0 = time.perf_counter(), time.process_time()
                await one_round(count)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            await carrier.stop(5.0)
            nursery.cancel_scope.cancel()

    trio.run(main)
    return walls, cpus


def smpplib_pipelined(port: int, window: int, count: int) -> dict[str, float]:
    """Runs in a subprocess: bind, then rounds of `window` submits and their resps."""
    import smpplib.client
    import smpplib.smpp

    client = smpplib.client.Client("127.0.0.1", port, timeout=30)
    client.connect()
    client.bind_transceiver(system_id="bench", password="bench")
    t0, c0 = time.perf_counter(), time.process_time()
    sent = 0
    while sent < count:
        batch = min(window, count - sent)
        for _ in range(batch):
            client.send_pdu(smpplib.smpp.make_pdu(
                "submit_sm", client=client, source_addr_ton=5, source_addr="Bridge",
                dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900123",
                short_message=b"Your code is 123456", registered_delivery=0))
        for _ in range(batch):
            resp = client.read_pdu()
            if resp.command != "submit_sm_resp" or resp.status != 0:
                raise RuntimeError(f"smpplib bench: {resp.command} {resp.status}")
        sent += batch
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    client.unbind()
    client.disconnect()
    return {"wall": wall, "cpu": cpu}


def _smpplib(port: int, window: int, count: int) -> tuple[list[float], list[float]] | None:
    try:
        import smpplib  # noqa: F401
    except ImportError:
        return None
    walls, cpus = [], []
    for _ in range(REPEATS):
        code = ("import json, sys; from bench.bench_carrier import smpplib_pipelined; "
                f"print(json.dumps(smpplib_pipelined({port}, {window}, {count})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=600)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        walls.append(result["wall"])
        cpus.append(result["cpu"])
    return walls, cpus


def run(quick: bool) -> dict[str, Any]:
    count = 10_000 if quick else 60_000
    peer_count = 5_000 if quick else 20_000
    sim = subprocess.Popen([sys.executable, "-c", _SIM_CODE], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    figures: list[Rate] = []
    ratios: dict[str, float] = {}
    targets: dict[str, Any] = {}
    try:
        assert sim.stdout is not None
        port = int(sim.stdout.readline())
        for window in WINDOWS:
            ours: Rate | None = None
            for receipts in (False, True):
                walls, cpus = _ours(port, window, count, receipts)
                kind = "receipts" if receipts else "responses"
                rate = Rate(f"carrier w{window} {kind}", count, tuple(walls), unit="messages/s",
                            extra={"cpu_us_per_msg": round(statistics.median(cpus) / count * 1e6, 2)})
                figures.append(rate)
                if not receipts:
                    ours = rate
                    walls, cpus = _ours(port, window, count, False, nowait=True)
                    figures.append(Rate(
                        f"carrier w{window} responses, submit_nowait", count, tuple(walls),
                        unit="messages/s",
                        extra={"cpu_us_per_msg": round(statistics.median(cpus) / count * 1e6, 2)},
                    ))
                    targets[f"w{window} round trips/s"] = target(30_000, rate.median)
                    # The same target in bridge CPU time, which a loaded shared
                    # machine disturbs far less than the wall clock.
                    per_cpu_s = count / statistics.median(cpus)
                    targets[f"w{window} round trips per bridge CPU-second"] = target(
                        30_000, per_cpu_s)
            peer_run = _smpplib(port, window, peer_count)
            if peer_run is not None and ours is not None:
                peer_walls, peer_cpus = peer_run
                peer_cpu = statistics.median(peer_cpus) / peer_count * 1e6
                peer = Rate(f"smpplib w{window} pipelined", peer_count, tuple(peer_walls),
                            unit="messages/s", extra={"cpu_us_per_msg": round(peer_cpu, 2)})
                figures.append(peer)
                ratios[f"carrier / smpplib w{window}"] = ours.median / peer.median
                targets[f"w{window} x smpplib"] = target(3.0, ratios[f"carrier / smpplib w{window}"])
                cpu_ratio = peer_cpu / float(ours.extra["cpu_us_per_msg"])
                ratios[f"carrier / smpplib w{window} (CPU per message)"] = cpu_ratio
                targets[f"w{window} x smpplib (CPU)"] = target(3.0, cpu_ratio)
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
    return {
        "figures": [f.as_dict() for f in figures],
        "ratios": ratios,
        "targets": targets,
        "setup": {"messages": count, "smpplib_messages": peer_count, "repeats": REPEATS,
                  "simulator": "subprocess, defaults (accept all, DELIVRD receipts at once)"},
    }
