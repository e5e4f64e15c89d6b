"""The Starlette app: /api/v1/sms/send, /api/v1/sms/{id}, /api/v1/balance; /health and /metrics (probes.py).

Thin by design (docs/api.md): authenticate, limit, validate at the edge, call
the store's runtime-free rules through the asyncio executor, encode with
msgspec (money as JSON numbers from Decimal). Every answer that is not a
success is ``{"ok": false, "error": code, "message": text}`` with the code's
status (``bridge.api.errors``); an unexpected exception is logged and answered
``internal_error``, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

import asyncpg
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.api.auth import FailureLimiter, KeyCache
from bridge.api.batcher import SendBatcher
from bridge.api.errors import STATUS, ApiError, error_body
from bridge.api.fastpath import FastPath
from bridge.api.middleware import Metrics, RequestLog
from bridge.api.probes import health, health_live, health_ready, metrics
from bridge.api.ratelimit import RateLimiter
from bridge.api.reads import ReadBatcher
from bridge.api.validate import IDEMPOTENCY_KEY, parse_send
from bridge.notify import Notifier
from bridge.preflight.api import Preflight
from bridge.preflight.api import routes as preflight_routes
from bridge.preflight.networks import sync_networks
from bridge.store.accounts import balance
from bridge.store.aio import AioDatabase, open_aio_database
from bridge.store.enqueue import EnqueueError, enqueue_many
from bridge.store.functions import functions_refusal
from bridge.store.idempotency import keep as idempotency_keep
from bridge.store.idempotency import take as idempotency_take
from bridge.store.keys import KeyRecord
from bridge.store.models import SendResult, to_json
from bridge.store.routing import FixedRoute, RouteTable
from config.schema import Config

__all__ = ["KEYS_CHANNEL", "OPENAPI", "ApiState", "create_app"]

log = structlog.get_logger("bridge.api")

KEYS_CHANNEL = "smpp_bridge_api_keys"  # migration: NOTIFY with the prefix of a revoked key
OPENAPI = resources.files("bridge.api").joinpath("openapi.json").read_bytes()
_JSON = "application/json"
_MESSAGE_ID = re.compile(r"msg_[0-9a-hjkmnp-tv-z]{26}")
_OVERLAP_RECIPIENTS = 100  # waiting recipients that start a second statement of sends
_UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
                asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
                asyncpg.TooManyConnectionsError)  # fmt: skip


class ApiState:
    """Everything a request needs; the pool is opened by the app's lifespan."""

    def __init__(self, config: Config, dsn: str) -> None:
        self.config = config
        self.dsn = dsn
        self.metrics = Metrics()
        self.failures = FailureLimiter(config.api.auth_failures_per_minute)
        self.routes = RouteTable(config)
        test = [r for r in config.routes if config.api.test_route and r.name == config.api.test_route]
        self.test_routes = FixedRoute(config, test[0]) if test else None
        self._db: AioDatabase | None = None
        self.keys: KeyCache | None = None
        self.limiter: RateLimiter | None = None
        self.batcher: SendBatcher | None = None
        self.reads: ReadBatcher | None = None

    @property
    def db(self) -> AioDatabase:
        assert self._db is not None, "the app's lifespan has not started"
        return self._db

    def bind(self, db: AioDatabase) -> None:
        self._db = db
        self.keys = KeyCache(db, ttl=self.config.api.key_cache_ttl.seconds)
        self.limiter = RateLimiter(db)
        # Two statements of sends (and two of reads) at a time: one commits
        # while the next fills (measured: 1, 2 and 5 workers within 15%,
        # larger batches with fewer). The second statement of sends starts
        # only when the sends waiting carry 100 recipients or more: single
        # sends then batch as with one worker (fewer, larger batches) and
        # 100-recipient calls keep their overlap (CHANGELOG "API single
        # sends"); the rest of the pool serves keys and limits.
        self.batcher = SendBatcher(
            db, self.config, workers=min(2, self.config.api.pool_size), overlap_from=_OVERLAP_RECIPIENTS
        )
        self.reads = ReadBatcher(db, workers=min(2, self.config.api.pool_size))

    async def principal(self, request: Request) -> KeyRecord:
        """The request's key, within its rate limit; else the error to answer."""
        assert self.keys is not None and self.limiter is not None
        address = request.client.host if request.client else "unknown"
        self.failures.check(address)
        try:
            key = await self.keys.authenticate(request.headers.get("authorization"))
        except ApiError as exc:
            if exc.code == "invalid_api_key":
                self.failures.failed(address)
            raise
        request.state.key_id = key.id
        wait = await self.limiter.admit(key.id, key.requests_per_minute)
        if wait is not None:
            raise ApiError(
                "rate_limit_exceeded", "Too many requests: back off and retry.",
                headers={"Retry-After": str(int(wait))},
            )  # fmt: skip
        return key

    def routes_for(self, key: KeyRecord) -> RouteTable:
        if key.product == "test":
            if self.test_routes is None:
                raise ApiError("invalid_api_key", "Test keys are not accepted here (no test route).")
            return self.test_routes
        return self.routes

    async def housekeeping(self) -> None:
        """last_used_at once a minute; Idempotency-Key answers kept 24 hours."""
        assert self.keys is not None
        while True:
            await asyncio.sleep(60)
            try:
                await self.keys.flush_last_used()
                await self.db.execute(
                    "DELETE FROM api_idempotency WHERE created_at < now() - interval '24 hours'"
                )
            except Exception as exc:
                log.warning("api housekeeping failed", error=repr(exc))

    async def listen_revocations(self) -> None:
        assert self.keys is not None
        while True:
            try:
                async with self.db.listen(KEYS_CHANNEL, self.keys.forget) as lost:
                    await lost.wait()
                log.warning("the connection listening for key revocations was lost")
            except Exception as exc:  # the cache TTL still bounds revocation
                log.warning("listening for key revocations failed", error=repr(exc))
            await asyncio.sleep(5)


def _json(body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=_JSON)


def _api(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _too_large(limit: int) -> ApiError:
    return ApiError("body_too_large", f"The body is larger than {limit} bytes.")


async def _body(request: Request, limit: int) -> bytes:
    headers = request.headers
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != _JSON:
        raise ApiError("unsupported_media_type", "Send the body as Content-Type: application/json.")
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise _too_large(limit)
    # The ASGI messages read as ``Request.stream`` reads them, without its
    # async generator (a request's body is nearly always one message).
    chunks, size, receive = [], 0, request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


async def send_sms(request: Request) -> Response:
    api = _api(request)
    key = await api.principal(request)
    body = await _body(request, api.config.api.max_body)
    send = parse_send(body)
    count = 1 if isinstance(send.to, str) else len(send.to or ())
    if count > key.max_recipients:
        raise ApiError("too_many_recipients", f"{count} recipients; at most {key.max_recipients} per call.")
    routes = api.routes_for(key)
    idempotency = request.headers.get("idempotency-key")
    if idempotency is None:
        assert api.batcher is not None
        try:
            result = await api.batcher.send(key, routes, send)
        except EnqueueError as exc:
            raise ApiError(exc.code, exc.message, status=exc.http_status) from None
        _count(api, result)
        return _json(to_json(result), 201)
    if not IDEMPOTENCY_KEY.fullmatch(idempotency):
        raise ApiError("invalid_field", "Idempotency-Key: 1-255 printable ASCII characters.")
    return await _send_once(api, key, idempotency, body, send, routes)


async def _send_once(
    api: ApiState, key: KeyRecord, idempotency: str, body: bytes, send: Any, routes: RouteTable
) -> Response:
    """The first answer for this Idempotency-Key, stored in the send's own transaction.

    A concurrent request with the same key waits on the unique index until
    the first commits, then reads its answer: one campaign, never two.
    """
    request_hash = hashlib.sha256(body).digest()
    async with api.db.transaction() as tx:
        stored = await idempotency_take(tx, key.id, idempotency, request_hash)
        if stored is not None:
            if not stored.same_request:
                raise ApiError("idempotency_key_reused", "This Idempotency-Key was used with another body.")
            return _json(stored.body, stored.status, {"Idempotent-Replayed": "true"})
        try:
            (result,) = await enqueue_many(
                tx, api.config, key.account_id, [send], routes=routes, api_key_id=key.id,
                max_recipients=key.max_recipients,
            )  # fmt: skip
            status, payload = 201, to_json(result)
        except EnqueueError as exc:  # the savepoint rolled back; the answer is kept
            result, status, payload = None, exc.http_status, error_body(exc.code, exc.message)
        await idempotency_keep(tx, key.id, idempotency, status, payload)
    if result is not None:
        _count(api, result)
    return _json(payload, status)


def _count(api: ApiState, result: SendResult) -> None:
    # One counter per status, not per recipient.
    counts: dict[str, int] = {}
    for recipient in result.recipients:
        counts[recipient.status] = counts.get(recipient.status, 0) + 1
    for status, n in counts.items():
        api.metrics.accepted(str(status), n)


async def get_sms(request: Request) -> Response:
    api = _api(request)
    key = await api.principal(request)
    message_id = request.path_params["id"]
    view = None
    if _MESSAGE_ID.fullmatch(message_id):
        assert api.reads is not None
        view = await api.reads.get(message_id, key.account_id)
    if view is None:  # unknown, or another account's: never say which
        raise ApiError("not_found", "The requested message id doesn't belong to your account.")
    return _json(to_json(view))


async def get_balance(request: Request) -> Response:
    api = _api(request)
    key = await api.principal(request)
    return _json(to_json(await balance(api.db, key.account_id)))


async def openapi(_request: Request) -> Response:
    return _json(OPENAPI)


Handler = Callable[[Request], Awaitable[Response]]


def _guard(handler: Handler) -> Handler:
    """Every exception of a handler becomes an answer here, none reaches the server.

    (Starlette's handler for ``Exception`` answers but then raises again for
    the server to log, so it is not used.)
    """

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(error_body(exc.code, exc.message), exc.status, exc.headers)
        except _UNAVAILABLE as exc:
            log.warning("database unavailable", error=repr(exc))
            return _json(
                error_body("unavailable", "Try again shortly."), STATUS["unavailable"], {"Retry-After": "1"}
            )
        except ClientDisconnect:  # gone while sending its body: nobody to answer
            return _json(error_body("invalid_json", "The client went away."), 400)
        except Exception as exc:
            log.exception("unexpected error", error=repr(exc))
            return _json(error_body("internal_error", "Internal error; it has been logged."), 500)

    return guarded


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _json(error_body("method_not_allowed", "Method not allowed."), 405, exc.headers)
    return _json(error_body("not_found", "No such endpoint."), 404)


def create_app(config: Config, dsn: str, *, url: str | None = None, notifier: Notifier | None = None) -> Any:
    """The ASGI application (Starlette wrapped in the request log).

    ``notifier``: systemd's (Type=notify): READY=1 once the pool is open and
    the schema checked, STOPPING=1 when the server shuts down.
    """
    state = ApiState(config, dsn)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with open_aio_database(dsn, min_size=1, max_size=config.api.pool_size) as db:
            if await db.fetchval("SELECT to_regclass('api_keys')") is None:
                raise RuntimeError("the database has no api_keys table: run `smpp-bridge migrate`")
            refusal = await functions_refusal(db)
            if refusal is not None:
                raise RuntimeError(refusal)
            state.bind(db)
            await sync_networks(db, config.preflight)
            assert state.batcher is not None and state.reads is not None
            state.batcher.start()
            state.reads.start()
            log.info("api ready", url=url)
            if notifier is not None:
                notifier.ready(f"serving {url}")
            tasks = [asyncio.create_task(state.housekeeping()), asyncio.create_task(state.listen_revocations())]
            try:
                yield
            finally:
                if notifier is not None:
                    notifier.stopping("finishing requests")
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await state.batcher.stop()
                await state.reads.stop()
                if state.keys is not None:
                    with contextlib.suppress(Exception):
                        await state.keys.flush_last_used()

    send_route, status_route, balance_route = _guard(send_sms), _guard(get_sms), _guard(get_balance)
    app = Starlette(
        routes=[
            Route("/api/v1/sms/send", send_route, methods=["POST"]),
            Route("/api/v1/sms/{id}", status_route, methods=["GET"]),
            Route("/api/v1/balance", balance_route, methods=["GET"]),
            Route("/api/v1/openapi.json", openapi, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/health/live", health_live, methods=["GET"]),
            Route("/health/ready", health_ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *preflight_routes(_UNAVAILABLE),  # seed 004 under /api (docs/preflight.md)
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    # No 307 from /sms/x/ to /sms/x: an answer the document does not list; 404.
    app.router.redirect_slashes = False
    app.state.api = state
    app.state.preflight = Preflight(state)
    fast = FastPath(app, send=send_route, status=status_route, balance=balance_route)
    return RequestLog(fast, state.metrics, access_log=config.api.access_log)
