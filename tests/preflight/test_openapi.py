"""The preflight routes in the committed OpenAPI document: every route and method, and real answers match it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import msgspec
from starlette.routing import Route

from bridge.preflight.api import routes
from tests.api.schema import check_answer
from tests.preflight.system import System

COMMITTED = Path(__file__).resolve().parents[2] / "bridge" / "api" / "openapi.json"
DOC: dict[str, Any] = msgspec.json.decode(COMMITTED.read_bytes())


def test_every_preflight_route_and_method_is_documented_under_api() -> None:
    served = {}
    for route in routes():
        assert isinstance(route, Route) and route.path.startswith("/api/")
        served[route.path.removeprefix("/api")] = {m.lower() for m in route.methods or ()} - {"head"}
    documented = {path: item for path, item in DOC["paths"].items() if item.get("servers") == [{"url": "/api"}]}
    assert {path: set(item) - {"servers"} for path, item in documented.items()} == served


def test_preflight_answers_match_the_document(system: System) -> None:
    key = system.user("openapi-user", plan="pro")
    with system.http(key) as http:
        created = http.post("/sessions", json={"sender_id": "MYAPP", "expected_body": "Hello!"})
        check_answer(DOC, "/sessions", "post", created)
        assert created.status_code == 201
        check_answer(DOC, "/sessions", "post", http.post("/sessions", json={"sender_id": ""}))
        check_answer(DOC, "/sessions/{id}", "get", http.get(f"/sessions/{created.json()['id']}"))
        check_answer(DOC, "/sessions/{id}", "get", http.get(f"/sessions/{uuid.uuid4()}"))
        check_answer(DOC, "/sessions", "get", http.get("/sessions"))
        check_answer(DOC, "/sessions", "get", http.get("/sessions?filter[status]=nope"))
        check_answer(DOC, "/auth/me", "get", http.get("/auth/me"))
        check_answer(DOC, "/api-keys", "get", http.get("/api-keys"))
        check_answer(DOC, "/api-keys/{id}", "delete", http.delete(f"/api-keys/{uuid.uuid4()}"))
    with system.http() as http:
        check_answer(DOC, "/networks", "get", http.get("/networks"))
        check_answer(DOC, "/sessions", "get", http.get("/sessions"))
