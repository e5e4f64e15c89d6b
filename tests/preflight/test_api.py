"""The preflight API over HTTP (the API process): keys, plans, sessions, errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from bridge.preflight.plans import PLANS
from bridge.preflight.sessions import NewSession, create_session
from bridge.store.db import Database
from bridge.store.keys import create_key as create_sms_key
from tests.api.harness import wait_for
from tests.preflight.system import EE, System

JSON = {"Content-Type": "application/json"}


def test_auth_me_and_keys(system: System) -> None:
    key = system.user("jane")
    with system.http(key) as http:
        me = http.get("/auth/me")
        assert me.status_code == 200, me.text
        body = me.json()
        assert list(body) == ["user", "plan", "tests_this_month"]
        assert list(body["user"]) == ["id", "name", "email", "plan", "company", "webhook_url", "has_webhook_secret"]
        assert uuid.UUID(body["user"]["id"]).version == 7 and body["user"]["plan"] == "pro"
        assert body["plan"] == {"tests_per_month": 100, "api_access": True, "webhooks": True, "history_days": 90}
        assert body["tests_this_month"] == 0
        made = http.post("/api-keys", json={"name": "Staging"})
        assert made.status_code == 201
        new = made.json()
        assert new["message"] == "Store this key securely - it will not be shown again."
        assert new["api_key"]["key"].startswith("sp_") and len(new["api_key"]["key"]) == 43
        listed = http.get("/api-keys").json()["api_keys"]
        assert [k["name"] for k in listed] == ["Production", "Staging"]
        assert all("key" not in k for k in listed)
        assert http.post("/api-keys", json={}).json() == {
            "message": "The name field is required.", "errors": {"name": ["The name field is required."]}}
        assert http.post("/api-keys", json={"name": "x" * 101}).status_code == 422
    with system.http(new["api_key"]["key"]) as other:
        assert other.get("/auth/me").status_code == 200
        assert other.delete(f"/api-keys/{new['api_key']['id']}").json() == {"message": "API key revoked"}
    with system.http(new["api_key"]["key"]) as revoked:
        answer = revoked.get("/auth/me")
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthenticated."})


def test_keys_of_the_other_product_and_no_key_are_401(system: System) -> None:
    key = system.user("cross")
    sms_key = system.run(lambda db: create_sms_key(db, "cross", "sms"))[1]
    with system.http(sms_key) as http:
        assert http.get("/auth/me").json() == {"message": "Unauthenticated."}
    with system.http() as http:
        assert http.get("/auth/me").status_code == 401
        assert http.get("/sessions").status_code == 401
    with httpx.Client(base_url=system.server.url + "/api/v1", headers={"Authorization": f"Bearer {key}"}) as sms:
        answer = sms.get("/balance")
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_api_key"


def test_free_plan_has_no_api_access_and_the_quota_is_422(system: System) -> None:
    free = system.user("free-user", plan="free")
    with system.http(free) as http:
        assert http.post("/sessions", json={"sender_id": "A"}).status_code == 403
    key = system.user("busy")

    async def use_up(db: Database) -> None:
        account = await db.fetchval("SELECT id FROM accounts WHERE name = 'busy'")
        now = datetime.now(UTC)
        for _ in range(100):
            await create_session(db, account, NewSession(sender_id="A"), now=now, ttl=timedelta(minutes=5))

    system.run(use_up)
    with system.http(key) as http:
        answer = http.post("/sessions", json={"sender_id": "A"})
        assert answer.status_code == 422
        assert answer.json() == {"message": "Monthly test quota exceeded. Upgrade your plan to run more tests."}
        assert http.get("/auth/me").json()["tests_this_month"] == PLANS["pro"].tests_per_month


def test_create_validate_idempotency_403_and_pagination(system: System) -> None:
    key = system.user("pager", plan="team")
    other = system.user("stranger")
    with system.http(key) as http:
        bad = http.post("/sessions", json={"expected_body": "x", "client_ref": "r" * 256})
        assert bad.status_code == 422
        assert bad.json()["message"] == "The sender id field is required. (and 1 more error)"
        assert set(bad.json()["errors"]) == {"sender_id", "client_ref"}
        assert http.post("/sessions", json={"sender_id": "A" * 21}).status_code == 422
        assert http.post("/sessions", json={"sender_id": "A", "webhook_url": "http://x.example"}).status_code == 422
        created = http.post("/sessions", json={"sender_id": "MYAPPLICATION", "expected_body": "Hello!"})
        assert created.status_code == 201, created.text
        session = created.json()
        assert list(session)[:10] == ["id", "test_code", "status", "sender_id", "expected_body", "client_ref",
                                      "webhook_url", "expires_at", "created_at", "results"]  # fmt: skip
        assert "cannot arrive intact" in session["warnings"][0]
        assert len(session["results"]) == 5 and session["results"][0]["phone_number"] == EE
        assert list(session["results"][0])[:10] == [
            "network", "network_name", "phone_number", "status", "verdict", "latency_ms", "sender_received",
            "body_received", "body_matched", "received_at"]  # fmt: skip
        created_at = datetime.fromisoformat(session["created_at"])
        assert datetime.fromisoformat(session["expires_at"]) - created_at == timedelta(minutes=5)
        idem = {"Idempotency-Key": str(uuid.uuid4())}
        first = http.post("/sessions", json={"sender_id": "A", "client_ref": "x"}, headers=idem)
        again = http.post("/sessions", json={"sender_id": "A", "client_ref": "x"}, headers=idem)
        assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
        assert http.post("/sessions", json={"sender_id": "B"}, headers=idem).status_code == 422
        for n in range(21):
            assert http.post("/sessions", json={"sender_id": f"S{n}"}).status_code == 201
        page1 = http.get("/sessions", params={"filter[status]": "pending", "page": 1}).json()
        page2 = http.get("/sessions?filter[status]=pending&page=2").json()
        assert page1["meta"] == {"current_page": 1, "last_page": 2, "per_page": 20, "total": 23}
        assert page2["meta"]["current_page"] == 2 and len(page2["data"]) == 3
        assert page1["data"][0]["sender_id"] == "S20"  # newest first
        assert http.get("/sessions?filter[status]=complete").json()["meta"]["total"] == 0
        assert http.get("/sessions?filter[status]=nope").status_code == 422
        assert http.get(f"/sessions/{session['id']}").json()["id"] == session["id"]
        assert http.get(f"/sessions/{uuid.uuid4()}").status_code == 404
    with system.http(other) as http:
        answer = http.get(f"/sessions/{session['id']}")
        assert (answer.status_code, answer.json()) == (403, {"message": "This session belongs to another account."})


def test_networks_needs_no_key(system: System) -> None:
    with system.http() as http:
        answer = http.get("/networks")
    assert answer.status_code == 200
    networks = answer.json()["networks"]
    assert [n["slug"] for n in networks] == ["ee", "vodafone", "o2", "three", "giffgaff"]
    assert list(networks[0]) == ["id", "name", "slug", "is_active", "status", "last_heartbeat_at", "uptime_24h",
                                 "avg_latency_ms", "signal_bars", "signal_dbm", "network_type", "recent_heartbeats"]  # fmt: skip
    assert wait_for(lambda: True, 1) >= 0
