"""The demo's webhook side: a local receiver, the demo account's endpoint, the sender.

The receiver is what a customer runs: it checks every request's
``X-ProSignals-Signature`` with ``bridge.webhooks.verify`` and the secret that
`smpp-bridge webhooks set` would have printed, and counts one ``sms.status``
per message. The sender runs in the demo's process, as the daemon runs it.
"""

from __future__ import annotations

import collections
import functools
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Hooks", "start_webhooks", "wait_for"]


@dataclass
class Hooks:
    """What the receiver saw."""

    secret: str = ""
    port: int = 0
    requests: int = 0
    verified: int = 0
    messages: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/sms"

    def record(self, headers: dict[str, str], body: bytes) -> None:
        from bridge.webhooks import verify

        self.requests += 1
        if verify(self.secret, body, headers.get("x-prosignals-signature")):
            self.verified += 1
        try:
            event = json.loads(body)
            self.messages[str(event["id"])] += 1
            self.statuses[str(event["status"])] += 1
        except (ValueError, KeyError, TypeError):
            pass

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.messages.values())


async def _serve(hooks: Hooks, stream: Any) -> None:
    """One connection: h11, keep-alive, 200 to every request."""
    import h11
    import trio

    conn = h11.Connection(h11.SERVER)
    headers: dict[str, str] = {}
    body = bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data:
                    return
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
                body = bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                hooks.record(headers, bytes(body))
                answer = conn.send(h11.Response(status_code=200, headers=[("content-length", "2")]))
                await stream.send_all(answer + conn.send(h11.Data(data=b"ok")) + conn.send(h11.EndOfMessage()))
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
            else:  # ConnectionClosed, or a PAUSED peer
                return
    except (h11.RemoteProtocolError, h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        return
    finally:
        await stream.aclose()


async def start_webhooks(db: Any, config: Any, dsn: str, account: str, nursery: Any) -> Hooks:
    """Receiver on a free loopback port, the account's endpoint on it, and the sender."""
    import trio

    from bridge.webhooks.endpoints import set_endpoint
    from bridge.webhooks.sealing import MasterKey
    from bridge.webhooks.service import run_sender

    hooks = Hooks()
    listeners = await nursery.start(functools.partial(trio.serve_tcp, functools.partial(_serve, hooks), 0,
                                                      host="127.0.0.1"))  # fmt: skip
    hooks.port = listeners[0].socket.getsockname()[1]
    master, _text = MasterKey.generate()  # the demo's own; real ones come from [webhooks] master_key_*
    _info, secret = await set_endpoint(db, master, account=account, url=hooks.url(), require_https=False)
    assert secret is not None
    hooks.secret = secret
    await nursery.start(run_sender, config, dsn, master)
    return hooks


async def wait_for(hooks: Hooks, count: int, limit: float) -> None:
    """Until one webhook per final message has come, or ``limit`` seconds."""
    import trio

    with trio.move_on_after(limit):
        while len(hooks.messages) < count:  # noqa: ASYNC110 (a poll, as the demo's progress lines are)
            await trio.sleep(0.1)
    await trio.sleep(0.3)  # a duplicate would come now
