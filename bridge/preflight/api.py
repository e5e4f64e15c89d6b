"""The SMS Preflight API (seed 004) under ``/api``, served by the API process (bridge/api).

Routes: GET /api/auth/me; GET, POST /api/api-keys; DELETE /api/api-keys/{id};
GET /api/networks (no key); POST, GET /api/sessions; GET /api/sessions/{id}.
Every error is ``{"message": ...}`` (seed 004 "Errors"), 401 ``Unauthenticated.``
for a missing, unknown, revoked or other-product key. The clock (``Preflight.clock``)
is injectable: sessions are stamped and expired by it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge.api.errors import ApiError
from bridge.api.validate import IDEMPOTENCY_KEY
from bridge.preflight import ids
from bridge.preflight.networks import networks_health
from bridge.preflight.outcomes import expire_due
from bridge.preflight.sessions import (
    QuotaExceeded,
    create_session,
    get_session,
    list_sessions,
    tests_this_month,
)
from bridge.preflight.users import User, create_key, get_user, list_keys, revoke_key
from bridge.preflight.validate import PreflightError, parse_key_name, parse_session
from bridge.preflight.verdicts import sender_warnings
from bridge.preflight.views import iso, to_json

__all__ = ["Preflight", "routes"]

log = structlog.get_logger("bridge.preflight.api")

_UNAUTHENTICATED = PreflightError(401, "Unauthenticated.")
_STATUSES = ("pending", "complete", "expired")


def _now() -> datetime:
    return datetime.now(UTC)


class Preflight:
    """The preflight part of the API process; ``api`` is its bridge.api.app.ApiState."""

    def __init__(self, api: Any, clock: Callable[[], datetime] = _now) -> None:
        self.api = api
        self.clock = clock

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.api.config.preflight.session_ttl.seconds)

    async def user(self, request: Request) -> tuple[Any, User]:
        """(the key record, its user), or 401 / 403 / 429."""
        api = self.api
        address = request.client.host if request.client else "unknown"
        try:
            api.failures.check(address)
        except ApiError as exc:
            raise PreflightError(429, "Too many failed authentications.", headers=exc.headers) from None
        try:
            key = await api.keys.authenticate(request.headers.get("authorization"), parse=ids.parse_key)
        except ApiError:
            api.failures.failed(address)
            raise _UNAUTHENTICATED from None
        request.state.key_id = key.id
        wait = await api.limiter.admit(key.id, key.requests_per_minute)
        if wait is not None:
            raise PreflightError(429, "Too many requests.", headers={"Retry-After": str(int(wait))})
        user = await get_user(api.db, key.account_id)
        if user is None:
            raise PreflightError(403, "This account has no SMS Preflight profile.")
        if not user.plan.api_access:
            raise PreflightError(403, "API access is not available on your plan. Upgrade to Pro or Team.")
        return key, user


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(value), status_code=status, headers=headers, media_type="application/json")


def _preflight(request: Request) -> Preflight:
    found: Preflight = request.app.state.preflight
    return found


async def _body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PreflightError(422, f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def auth_me(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    used = await tests_this_month(pf.api.db, user.account_id, pf.clock())
    return _json({"user": user.as_json(), "plan": user.plan.as_json(), "tests_this_month": used})


def _key_json(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "last_used_at": iso(row.last_used_at), "created_at": iso(row.created_at)}


async def keys_list(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    return _json({"api_keys": [_key_json(k) for k in await list_keys(pf.api.db, user.account_id)]})


async def keys_create(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    name = parse_key_name(await _body(request, pf.api.config.api.max_body))
    row, token = await create_key(pf.api.db, user.account_id, name)
    return _json({
        "api_key": {"id": str(row.id), "name": row.name, "key": token, "created_at": iso(row.created_at)},
        "message": "Store this key securely - it will not be shown again.",
    }, 201)  # fmt: skip


def _uuid(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise PreflightError(404, f"{what} not found.") from None


async def keys_revoke(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    outcome, prefix = await revoke_key(pf.api.db, user.account_id, _uuid(request.path_params["id"], "API key"))
    if outcome == "missing":
        raise PreflightError(404, "API key not found.")
    if outcome == "forbidden":
        raise PreflightError(403, "This API key belongs to another account.")
    if prefix is not None:
        pf.api.keys.forget(prefix)  # this process at once; the others within key_cache_ttl
    return _json({"message": "API key revoked"})


async def networks(request: Request) -> Response:
    pf = _preflight(request)
    return _json(await networks_health(pf.api.db, pf.clock()))


async def sessions_create(request: Request) -> Response:
    pf = _preflight(request)
    key, user = await pf.user(request)
    body = await _body(request, pf.api.config.api.max_body)
    new = parse_session(body)
    idempotency = request.headers.get("idempotency-key")
    if idempotency is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency):
        raise PreflightError(422, "The Idempotency-Key header must be 1-255 printable ASCII characters.")
    db = pf.api.db
    async with db.transaction() as tx:
        if idempotency is not None:
            request_hash = hashlib.sha256(b"preflight\x00" + body).digest()
            mine = await tx.fetchval(
                "INSERT INTO api_idempotency (key_id, idem_key, request_hash) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                key.id, idempotency, request_hash,
            )  # fmt: skip
            if not mine:
                row = await tx.fetchrow(
                    "SELECT request_hash, status, body FROM api_idempotency WHERE key_id = $1 AND idem_key = $2",
                    key.id, idempotency,
                )  # fmt: skip
                assert row is not None
                if row["request_hash"] != request_hash:
                    raise PreflightError(422, "This Idempotency-Key was used with another request body.")
                return Response(row["body"], row["status"], {"Idempotent-Replayed": "true"}, media_type="application/json")
        try:
            session_id = await create_session(
                tx, user.account_id, new, now=pf.clock(), ttl=pf.ttl, api_key_id=key.id, plan=user.plan
            )
            found = await get_session(tx, session_id)
            assert found is not None
            status, payload = 201, to_json(msgspec.structs.replace(found[1], warnings=sender_warnings(new.sender_id)))
        except QuotaExceeded:
            status = 422
            payload = to_json({"message": "Monthly test quota exceeded. Upgrade your plan to run more tests."})
        if idempotency is not None:
            await tx.execute(
                "UPDATE api_idempotency SET status = $3, body = $4 WHERE key_id = $1 AND idem_key = $2",
                key.id, idempotency, status, payload,
            )  # fmt: skip
    return Response(payload, status, media_type="application/json")


async def sessions_get(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    session_id = _uuid(request.path_params["id"], "Session")
    db = pf.api.db
    found = await get_session(db, session_id)
    if found is None:
        raise PreflightError(404, "Session not found.")
    owner, view = found
    if owner != user.account_id:
        raise PreflightError(403, "This session belongs to another account.")
    now = iso(pf.clock())
    if view.status == "pending" and view.expires_at is not None and now is not None and view.expires_at <= now:
        # Expired while nobody swept yet: end it now (the same rule as the daemon's sweep).
        await expire_due(db, pf.clock(), session_id)
        found = await get_session(db, session_id)
        assert found is not None
        view = found[1]
    return _json(view)


async def sessions_list(request: Request) -> Response:
    pf = _preflight(request)
    _, user = await pf.user(request)
    params = request.query_params
    status = params.get("filter[status]")
    if status is not None and status not in _STATUSES:
        raise PreflightError(422, "The selected filter.status is invalid.",
                             errors={"filter.status": ["The selected filter.status is invalid."]})  # fmt: skip
    page_text = params.get("page", "1")
    if not page_text.isdigit() or int(page_text) < 1 or int(page_text) > 1_000_000:
        raise PreflightError(422, "The page must be a positive integer.", errors={"page": ["The page must be a positive integer."]})
    now = pf.clock()
    await expire_due(pf.api.db, now)
    history_from = now - timedelta(days=user.plan.history_days)
    page = await list_sessions(pf.api.db, user.account_id, status=status, page=int(page_text), history_from=history_from)
    return _json(page.as_json())


Handler = Callable[[Request], Awaitable[Response]]


def _guard(handler: Handler, unavailable: tuple[type[BaseException], ...]) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except PreflightError as exc:
            return _json(exc.body(), exc.status, exc.headers)
        except unavailable as exc:
            log.warning("database unavailable", error=repr(exc))
            return _json({"message": "Service unavailable, try again shortly."}, 503, {"Retry-After": "1"})
        except ClientDisconnect:
            return _json({"message": "The client went away."}, 400)
        except Exception as exc:
            log.exception("unexpected error", error=repr(exc))
            return _json({"message": "Server Error"}, 500)

    return guarded


def routes(unavailable: tuple[type[BaseException], ...] = (asyncio.TimeoutError,)) -> list[BaseRoute]:
    """The preflight routes, to mount beside the SMS API's."""
    table: list[tuple[str, Handler, str]] = [
        ("/api/auth/me", auth_me, "GET"),
        ("/api/api-keys", keys_list, "GET"),
        ("/api/api-keys", keys_create, "POST"),
        ("/api/api-keys/{id}", keys_revoke, "DELETE"),
        ("/api/networks", networks, "GET"),
        ("/api/sessions", sessions_list, "GET"),
        ("/api/sessions", sessions_create, "POST"),
        ("/api/sessions/{id}", sessions_get, "GET"),
    ]
    merged: dict[str, list[tuple[str, Handler]]] = {}
    for path, handler, method in table:
        merged.setdefault(path, []).append((method, _guard(handler, unavailable)))
    return [_route(path, handlers) for path, handlers in merged.items()]


def _route(path: str, handlers: list[tuple[str, Handler]]) -> Route:
    by_method = dict(handlers)

    async def dispatch(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, dispatch, methods=list(by_method))
