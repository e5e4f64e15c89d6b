"""A small HTTP/1.1 load generator for bench_api: keep-alive connections on asyncio (uvloop).

Run as its own process (``python -m bench.http_load SPEC.json``) so its CPU is
not the API's; prints one JSON object: requests, statuses, seconds, latency
percentiles. httpx costs 1.5-3 ms of CPU a request (docs/design.md "HTTP"), more than
the server under test: this writes raw requests and reads raw answers.

SPEC: {"host", "port", "seconds", "connections", "rate" (null: closed loop,
else requests/s in an open loop, latency counted from the scheduled time so a
stall is not hidden), "requests": [[method, path, body or null, key], ...]}
(connection i uses requests i, i + connections, ... in turn).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any


def _encode(method: str, path: str, body: str | None, key: str) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = body.encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [_encode(*r) for r in spec["requests"]]
    connections = spec["connections"]
    rate = spec.get("rate")
    stop = time.perf_counter() + spec["seconds"]
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[float] = asyncio.Queue()

    async def schedule(rate: float) -> None:
        interval = 1.0 / rate
        t = time.perf_counter()
        while t < stop:
            queue.put_nowait(t)
            t += interval
            await asyncio.sleep(max(0.0, t - time.perf_counter()))

    async def worker(i: int) -> None:
        reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
        mine = requests[i::connections] or requests
        n = 0
        while True:
            if rate is None:
                start = time.perf_counter()
                if start >= stop:
                    break
            else:
                try:
                    start = await asyncio.wait_for(queue.get(), timeout=max(0.01, stop - time.perf_counter() + 0.5))
                except TimeoutError:
                    break
            writer.write(mine[n % len(mine)])
            n += 1
            statuses[await _answer(reader)] += 1
            latencies.append(time.perf_counter() - start)
        writer.close()

    began = time.perf_counter()
    tasks = [asyncio.create_task(worker(i)) for i in range(connections)]
    if rate is not None:
        tasks.append(asyncio.create_task(schedule(float(rate))))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies), "seconds": round(seconds, 3), "statuses": dict(statuses),
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
    }  # fmt: skip


if __name__ == "__main__":
    import uvloop

    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    print(json.dumps(uvloop.run(main(spec))))
