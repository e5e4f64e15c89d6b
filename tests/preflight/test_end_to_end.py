"""The whole loop: the customer sends to the probe numbers, the simulator plays the networks,
the daemon stores the MO, the preflight service matches them, the API shows the verdicts,
the session expires at 5 minutes (injectable clock), a signed session.complete is delivered."""

from __future__ import annotations

from typing import Any

import trio

from bridge.preflight.webhook import SESSION_COMPLETE_POLICY
from bridge.store.db import Database
from bridge.webhooks.endpoints import set_endpoint
from bridge.webhooks.policy import sign
from tests.preflight.helpers import Clock
from tests.preflight.system import GIFFGAFF, THREE, VODAFONE, System, platform_account, send
from tests.webhooks.helpers import KEY, running_sender
from tests.webhooks.receiver import receiver


async def _get(system: System, key: str, path: str) -> Any:
    def call() -> Any:
        with system.http(key) as http:
            answer = http.get(path)
            assert answer.status_code == 200, answer.text
            return answer.json()

    return await trio.to_thread.run_sync(call)


async def _post(system: System, key: str, path: str, body: dict[str, Any]) -> Any:
    def call() -> Any:
        with system.http(key) as http:
            answer = http.post(path, json=body)
            assert answer.status_code == 201, answer.text
            return answer.json()

    return await trio.to_thread.run_sync(call)


def test_verdicts_latency_multipart_expiry_and_webhook(system: System) -> None:
    key = system.user("e2e")

    async def scenario(db: Database) -> None:
        await platform_account(db, "platform")
        clock = Clock()
        async with receiver() as rec:
            _, secret = await set_endpoint(db, KEY, account="e2e", url=rec.url("/pf"), require_https=False)
            assert secret is not None
            policies = {SESSION_COMPLETE_POLICY.event: SESSION_COMPLETE_POLICY}
            async with system.running(db, clock) as service, running_sender(db, policies=policies):
                session = await _post(system, key, "/sessions", {
                    "sender_id": "MYAPP", "expected_body": "Hello!", "client_ref": "deploy-42"})  # fmt: skip
                clock.now = clock.now.fromisoformat(session["created_at"])  # to the second
                for result in session["results"]:
                    await send(db, system.config, "platform", "MYAPP", result["phone_number"], "Hello!")
                with trio.fail_after(20):
                    while True:
                        view = await _get(system, key, f"/sessions/{session['id']}")
                        got = {r["network"]: r for r in view["results"]}
                        if sum(r["status"] == "received" for r in got.values()) == 4:
                            break
                        await trio.sleep(0.1)
                assert view["status"] == "pending"
                assert (got["ee"]["verdict"], got["ee"]["sender_received"], got["ee"]["body_matched"]) == (
                    "clean", "MYAPP", True)
                assert (got["vodafone"]["verdict"], got["vodafone"]["sender_received"]) == (
                    "intercepted", "447700123456")
                assert got["vodafone"]["phone_number"] == VODAFONE
                assert got["three"]["phone_number"] == THREE and got["three"]["latency_ms"] >= 1500  # slow network
                assert got["three"]["body_received"] == "Hello!"  # two SAR parts
                assert got["giffgaff"]["phone_number"] == GIFFGAFF and got["giffgaff"]["body_received"] == "Hello!"
                assert got["ee"]["latency_ms"] < got["three"]["latency_ms"]
                assert got["o2"]["status"] == "pending" and got["o2"]["verdict"] is None
                assert service.stats.expired == 0
                clock.advance(299)
                await trio.sleep(0.3)
                assert service.stats.expired == 0
                clock.advance(2)  # five minutes (created_at is to the second): the session expires, O2 is lost
                (hook,) = await rec.wait_for(1, "/pf")
            view = await _get(system, key, f"/sessions/{session['id']}")
            lost = {r["network"]: r for r in view["results"]}["o2"]
            assert (view["status"], lost["status"], lost["verdict"]) == ("expired", "expired", "lost")
            assert hook.headers["content-type"] == "application/json"
            assert hook.headers["user-agent"] == "SMSProbe-Webhook/1.0"
            assert hook.headers["x-smsprobe-event"] == "session.complete"
            assert hook.headers["x-smsprobe-signature"] == "sha256=" + sign(secret, hook.body)
            assert hook.headers["x-smsprobe-delivery"].startswith("dlv_")
            assert b'"event":"session.complete","session":{"id":"' + session["id"].encode() in hook.body

    system.run(scenario)
