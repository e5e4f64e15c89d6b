"""Pipelined requests (RFC 9112 section 9.3.2): answers matched in order, a server's close honoured."""

from __future__ import annotations

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
