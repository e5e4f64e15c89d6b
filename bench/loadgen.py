"""HTTP load client and callback receiver for the gateway comparison (its own process).

``python -m bench.loadgen SPEC.json`` sends ``count`` single-recipient requests
over ``connections`` keep-alive connections (raw HTTP/1.1 on asyncio: an HTTP
library would cost more CPU per request than the gateways under test), listens
for the gateway's callbacks on ``callback_port`` and prints one JSON object when
every message had its final callback (or ``timeout`` passed).

SPEC keys: ``kind`` ("kannel": GET sendsms with a dlr-url; "bridge": POST
/api/v1/sms/send with a Bearer key, signed ``sms.status`` webhooks back),
``host``, ``port``, ``count``, ``connections``, ``rate`` (0: as fast as the
gateway answers; else an open loop at that many requests/s, latency counted
from the scheduled time), ``callback_port``, ``timeout``, and for "kannel"
``user``, ``password``, ``smsc``; for "bridge" ``key`` and ``secret`` (every
webhook's HMAC-SHA256 signature is checked).

Latencies, per message: ``accept`` from the request written (or scheduled) to
the gateway's answer; ``final`` from the request to the final callback. A
series per second (completions, outstanding messages, p50/p99 of ``final``)
feeds the plots and the soak's checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import resource
import sys
import time
import urllib.parse
from typing import Any

BODY = "Your verification code is 482915. It expires in 5 minutes."
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def number(i: int) -> str:
    return f"60123{i % 1_000_000:06d}"


def _kannel_request(spec: dict[str, Any], i: int) -> bytes:
    dlr = f"http://127.0.0.1:{spec['callback_port']}/d?r={i}&t=%d"
    query = urllib.parse.urlencode({
        "username": spec["user"], "password": spec["password"], "from": "ProSignals",
        "to": number(i), "text": BODY, "charset": "UTF-8", "smsc": spec["smsc"],
        "dlr-mask": "3", "dlr-url": dlr,
    })  # fmt: skip
    return f"GET /cgi-bin/sendsms?{query} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def _bridge_request(spec: dict[str, Any], i: int) -> bytes:
    body = json.dumps({"to": "+" + number(i), "message": BODY, "reference": str(i)}).encode()
    head = (
        f"POST /api/v1/sms/send HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {spec['key']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return head, body


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    count, kind = int(spec["count"]), spec["kind"]
    rate = float(spec.get("rate") or 0)
    build = _kannel_request if kind == "kannel" else _bridge_request
    secret = str(spec.get("secret") or "").encode()
    sent = [0.0] * count
    accepted = [0.0] * count
    final = [0.0] * count
    statuses: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    errors: list[str] = []
    state = {"next": 0, "done": 0, "answered": 0, "bad_signatures": 0}
    bucket: list[float] = []  # final latencies since the last series tick
    all_done = asyncio.Event()

    def finished(i: int, outcome: str) -> None:
        if 0 <= i < count and not final[i]:
            final[i] = time.monotonic()
            bucket.append(final[i] - sent[i])
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            state["done"] += 1
            if state["done"] >= count:
                all_done.set()

    async def callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, body = await _read_message(reader)
                writer.write(_OK)
                line = head.split(b"\r\n", 1)[0].decode()
                if kind == "kannel":
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(line.split(" ")[1]).query)
                    finished(
                        int(query["r"][0]),
                        {"1": "delivered", "2": "failed"}.get(query["t"][0], "other"),
                    )
                else:
                    if secret:
                        sig = b""
                        for hline in head.split(b"\r\n"):
                            name, _, value = hline.partition(b":")
                            if name.strip().lower() == b"x-prosignals-signature":
                                sig = value.strip()
                        want = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
                        if not hmac.compare_digest(sig, want):
                            state["bad_signatures"] += 1
                    event = json.loads(body)
                    if event.get("status") in (
                        "sent",
                        "delivered",
                        "failed",
                        "undelivered",
                        "rejected",
                    ):
                        finished(int(event.get("reference") or -1), str(event["status"]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # the run is over (main cancels the open callback connections): end quietly
        finally:
            writer.close()

    server = await asyncio.start_server(
        callback, "127.0.0.1", int(spec["callback_port"]), backlog=512
    )
    start = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(spec["host"], int(spec["port"]))
        try:
            while state["next"] < count:
                i = state["next"]
                state["next"] += 1
                if rate:
                    due = start + i / rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sent[i] = due
                else:
                    sent[i] = time.monotonic()
                writer.write(build(spec, i))
                head, body = await _read_message(reader)
                accepted[i] = time.monotonic()
                code = head[9:12].decode()
                statuses[code] = statuses.get(code, 0) + 1
                state["answered"] += 1
                if code not in ("200", "201", "202"):
                    if len(errors) < 5:
                        errors.append(f"{code} {body[:200]!r}")
                    finished(i, "refused")
                if b"connection: close" in head.lower():
                    writer.close()
                    reader, writer = await asyncio.open_connection(spec["host"], int(spec["port"]))
        finally:
            writer.close()

    async def series(out: list[dict[str, Any]]) -> None:
        second = 0
        while True:
            second += 1
            await asyncio.sleep(max(0.0, start + second - time.monotonic()))
            window = bucket[:]
            bucket.clear()
            out.append({
                "t": second, "answered": state["answered"], "final": state["done"],
                "outstanding": state["answered"] - state["done"],
                "p50_ms": round((_pct(window, 50) or 0) * 1e3, 2),
                "p99_ms": round((_pct(window, 99) or 0) * 1e3, 2),
            })  # fmt: skip
            if second % 10 == 0:  # progress on long runs (the harness lets stderr through)
                last = out[-1]
                print(f"    {second:>5} s: {last['answered']:,} answered, {last['final']:,} final, "
                      f"{last['outstanding']:,} outstanding, p99 {last['p99_ms']:,.0f} ms",
                      file=sys.stderr, flush=True)  # fmt: skip

    timeline: list[dict[str, Any]] = []
    ticker = asyncio.create_task(series(timeline))
    workers = [asyncio.create_task(worker()) for _ in range(int(spec["connections"]))]
    timed_out = False
    try:
        await asyncio.wait_for(all_done.wait(), float(spec["timeout"]))
    except TimeoutError:
        timed_out = True
    end = time.monotonic()
    for task in (*workers, ticker):
        task.cancel()
    for task in workers:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # reported in the result, not hidden
            errors.append(repr(exc))
    server.close()
    for handler in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
        handler.cancel()  # callback connections still open: end them quietly
        try:
            await handler
        except (asyncio.CancelledError, Exception):
            pass
    done = [i for i in range(count) if final[i] and accepted[i]]
    accept_lat = [accepted[i] - sent[i] for i in range(count) if accepted[i]]
    final_lat = [final[i] - sent[i] for i in done]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    first = min((sent[i] for i in range(count) if sent[i]), default=start)
    last = max(final, default=end) or end
    return {
        "count": count, "answered": state["answered"], "final": state["done"], "timed_out": timed_out,
        "statuses": statuses, "outcomes": outcomes, "errors": errors,
        "bad_signatures": state["bad_signatures"],
        "seconds": last - first, "first_send": first, "last_final": last,
        "accept_ms": {p: round((_pct(accept_lat, p) or 0) * 1e3, 2) for p in (50, 99)},
        "final_ms": {p: round((_pct(final_lat, p) or 0) * 1e3, 2) for p in (50, 99)},
        "cpu_s": usage.ru_utime + usage.ru_stime, "timeline": timeline,
    }  # fmt: skip


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec_ = json.load(handle)
    result = asyncio.run(main(spec_))
    print(json.dumps(result))
