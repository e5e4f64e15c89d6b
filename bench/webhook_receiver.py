"""A keep-alive webhook receiver for the benchmarks, in a process of its own (its CPU is its own).

`python -m bench.webhook_receiver PORT_FILE`: listens on 127.0.0.1 (a free port, written to
PORT_FILE), answers every request 200 with h11 (the answers to pipelined requests that came in one
read go out in one write, as servers do), counts them; SIGTERM ends it and prints
``{"requests": N}`` on stdout.
"""

from __future__ import annotations

import json
import signal
import sys

import h11
import trio

_count = 0


async def _serve(stream: trio.SocketStream) -> None:
    global _count
    conn = h11.Connection(h11.SERVER)
    out: list[bytes] = []  # answers to requests read so far, sent before waiting for more
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if out:
                    # Pipelined requests (RFC 9112 section 9.3.2): one write answers all that came in one read.
                    await stream.send_all(b"".join(out))
                    out.clear()
                data = await stream.receive_some(65536)
                if not data:
                    return
                conn.receive_data(data)
            elif isinstance(event, h11.EndOfMessage):
                _count += 1
                out.append(conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")])) or b"")
                out.append(conn.send(h11.EndOfMessage()) or b"")
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (trio.BrokenResourceError, h11.ProtocolError):
        return
    finally:
        await trio.aclose_forcefully(stream)


async def main(port_file: str) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(trio.serve_tcp, _serve, 0)
            await trio.Path(port_file).write_text(str(listeners[0].socket.getsockname()[1]))
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
    print(json.dumps({"requests": _count}), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
