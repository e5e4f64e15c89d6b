"""Pipelined requests (RFC 9112 section 9.3.2): answers matched in order, a server's close honoured."""

from __future__ import annotations

import functools

import trio

from bridge.store.db import Database
from bridge.webhooks.client import HttpClient, parse_url
from tests.webhooks.helpers import (
    LOCAL,
    account_with_url,
    fast_settings,
    final_messages,
    running_sender,
    wait_rows,
)
from tests.webhooks.receiver import Behaviour, Received, receiver


def _by_number(request: Received) -> Behaviour:
    number = int(request.target.split("n=", 1)[1])
    return Behaviour(status=500 if number % 3 == 0 else 200 + number % 2)


async def test_pipelined_answers_are_matched_to_their_requests_in_order() -> None:
    async with receiver() as rec:
        rec.routes["/hook"] = _by_number
        origin, _target = parse_url(rec.url())
        client = HttpClient(LOCAL)
        requests = [(f"/hook?n={n}", b"", b"{}") for n in range(12)]
        answers = await client.post_many(origin, requests, timeout=5)
        await client.aclose()
    assert [a.status for a in answers] == [500 if n % 3 == 0 else 200 + n % 2 for n in range(12)]
    assert [r.target for r in rec.received] == [target for target, _h, _b in requests]
    # The first request alone on the new connection, the other eleven in one write on it.
    assert rec.connections == 1


async def test_requests_after_an_answer_that_closes_the_connection_go_again_on_a_new_one() -> None:
    async with receiver() as rec:
        # The fourth answer says "Connection: close": the server acts on none of the
        # requests behind it on that connection (RFC 9112 section 9.6).
        rec.routes["/hook"] = lambda r: Behaviour(
            headers=[("Connection", "close")] if r.target.endswith("n=3") else []
        )
        origin, _target = parse_url(rec.url())
        client = HttpClient(LOCAL)
        answers = await client.post_many(origin, [(f"/hook?n={n}", b"", b"{}") for n in range(10)], timeout=5)
        await client.aclose()
    assert [a.status for a in answers] == [200] * 10
    assert [r.target for r in rec.received] == [f"/hook?n={n}" for n in range(10)]  # each once
    assert rec.connections == 2


async def test_without_pipelining_one_request_per_write() -> None:
    async with receiver() as rec:
        origin, _target = parse_url(rec.url())
        client = HttpClient(LOCAL)
        answers = await client.post_many(origin, [("/hook", b"", b"{}")] * 3, timeout=5, pipeline=False)
        await client.aclose()
    assert [a.status for a in answers] == [200] * 3 and len(rec.received) == 3 and rec.connections == 1


async def test_a_healthy_endpoint_gets_its_deliveries_pipelined_on_few_connections(db: Database) -> None:
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 200)
        settings = fast_settings(endpoint_concurrency=4, pipeline_depth=16)
        async with running_sender(db, settings=settings) as sender:
            await wait_rows(db, "SELECT bool_and(state = 'delivered') FROM webhook_outbox")
    assert sender.stats.delivered == 200 and len(rec.received) == 200
    assert len({r.headers["x-prosignals-delivery"] for r in rec.received}) == 200
    assert rec.connections <= settings.endpoint_concurrency


async def test_an_answer_of_another_shape_hands_the_rest_of_the_connection_to_h11() -> None:
    # The second answer is chunked: h11 reads it, and the two behind it that came in the
    # same write, from the bytes the common-shape reader had not used.
    scripted = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]
    connections = 0

    async def serve(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        pending, answered = b"", 0
        while answered < len(scripted):
            data = await stream.receive_some(65536)
            if not data:
                return
            pending += data
            out = b""
            while b"\r\n\r\n{}" in pending:  # each request's head ends, then its body "{}"
                pending = pending.split(b"\r\n\r\n{}", 1)[1]
                out += scripted[answered]
                answered += 1
            await stream.send_all(out)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        origin, _target = parse_url(f"http://127.0.0.1:{port}/hook")
        client = HttpClient(LOCAL)
        answers = await client.post_many(origin, [("/hook", b"", b"{}")] * 4, timeout=5)
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert [a.status for a in answers] == [200, 201, 202, 204]
    assert connections == 1
