"""Keys and limits across API processes: revocation, requests per minute, failed
authentications, the 402 race, the Idempotency-Key."""

from __future__ import annotations

import concurrent.futures
import time
from decimal import Decimal
from pathlib import Path

import httpx

from bridge.store.accounts import reconcile
from tests.api.harness import Api, run_api, wait_for, write_config

GOOD = {"to": "+60123456789", "message": "Hello"}


def test_a_revoked_key_is_refused_by_every_process_within_a_second(api: Api) -> None:
    key = api.key(api.account())
    with run_api(api.config) as second, api.client(key) as one, second.client(key) as two:
        assert one.get("/balance").status_code == 200  # both caches hold the key now
        assert two.get("/balance").status_code == 200
        api.revoke(key)
        elapsed = wait_for(
            lambda: one.get("/balance").status_code == 401 and two.get("/balance").status_code == 401,
            timeout=1.0,
        )
    assert elapsed < 1.0


def test_without_the_notify_the_cache_ttl_still_refuses_within_a_second(api: Api) -> None:
    """The revocation NOTIFY lost: the cached row is read again after key_cache_ttl (0.5 s)."""
    key = api.key(api.account())
    with api.client(key) as http:
        assert http.get("/balance").status_code == 200
        api.run(lambda db: db.execute("ALTER TABLE api_keys DISABLE TRIGGER api_keys_revoked"))
        try:
            api.revoke(key)
            elapsed = wait_for(lambda: http.get("/balance").status_code == 401, timeout=1.0)
        finally:
            api.run(lambda db: db.execute("ALTER TABLE api_keys ENABLE TRIGGER api_keys_revoked"))
    assert 0.0 <= elapsed < 1.0


def _wait_for_a_fresh_minute(margin: float = 6.0) -> None:
    """The limit counts per clock minute: keep a short test inside one."""
    second = time.time() % 60
    if second > 60 - margin:
        time.sleep(60 - second + 0.2)


def test_requests_per_minute_hold_across_two_processes(api: Api) -> None:
    key = api.key(api.account(), requests_per_minute=10)
    _wait_for_a_fresh_minute()
    with run_api(api.config) as second, api.client(key) as one, second.client(key) as two:
        answers = [(one if i % 2 else two).get("/balance") for i in range(16)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 6, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"] == "rate_limit_exceeded"
            assert 1 <= int(answer.headers["Retry-After"]) <= 60


def test_failed_authentications_are_limited_per_address(api: Api, tmp_path: Path) -> None:
    key = api.key(api.account())
    config = write_config(tmp_path / "strict.toml", api.dsn, auth_failures=3)
    with run_api(config) as strict:
        with strict.client("psk_live_0000000000000000000000000000000z") as bad:
            assert [bad.get("/balance").status_code for _ in range(3)] == [401, 401, 401]
            blocked = bad.get("/balance")
        assert blocked.status_code == 429
        assert blocked.json()["error"] == "rate_limit_exceeded"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        with strict.client(key) as good:  # the address is refused, whatever key it tries now
            assert good.get("/balance").status_code == 429
    # last_used_at: written when the process stops (and once a minute)
    key_id = api.key_id(key)
    assert api.run(lambda db: db.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", key_id)) is None
    with run_api(api.config) as other, other.client(key) as http:
        assert http.get("/balance").status_code == 200
    used = api.run(lambda db: db.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", key_id))
    assert used is not None


def test_concurrent_sends_cannot_overdraw(api: Api) -> None:
    """1.00 MYR covers 20 sends of 0.05: of 40 at once, exactly 20 are accepted."""
    account = api.account("1.0000")
    key = api.key(account, requests_per_minute=None)
    with api.client(key, limits=httpx.Limits(max_connections=40)) as http:
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda _: http.post("/sms/send", json=GOOD), range(40)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 20 + [402] * 20
        assert http.get("/balance").json()["balance"] == 0
    assert api.run(reconcile, account).ok


def test_idempotency_key_returns_the_first_answer(api: Api) -> None:
    account = api.account()
    key = api.key(account, requests_per_minute=None)
    body = {"to": "+60123456789", "message": "Your code is 1234", "reference": "order-1"}
    with api.client(key) as http:
        first = http.post("/sms/send", json=body, headers={"Idempotency-Key": "order-1-try"})
        again = http.post("/sms/send", json=body, headers={"Idempotency-Key": "order-1-try"})
        other = http.post("/sms/send", json={**body, "message": "Other"}, headers={"Idempotency-Key": "order-1-try"})
        balance = http.get("/balance").json()["balance"]
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert Decimal(str(balance)) == Decimal("42.4500")  # charged once
    campaigns = api.run(
        lambda db: db.fetchval(
            "SELECT count(*) FROM campaigns c JOIN accounts a ON a.id = c.account_id WHERE a.name = $1", account
        )
    )
    assert campaigns == 1


def test_idempotency_key_under_concurrency_makes_one_campaign(api: Api) -> None:
    account = api.account()
    key = api.key(account, requests_per_minute=None)
    with api.client(key, limits=httpx.Limits(max_connections=8)) as http, \
            concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda _: http.post("/sms/send", json=GOOD, headers={"Idempotency-Key": "same"}), range(8)
        ))  # fmt: skip
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["campaignId"] for a in answers}) == 1


def test_idempotency_key_keeps_an_error_answer(api: Api) -> None:
    key = api.key(api.account("0.0100"), requests_per_minute=None)
    with api.client(key) as http:
        answers = [http.post("/sms/send", json=GOOD, headers={"Idempotency-Key": "k"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [402, 402]
    assert answers[0].content == answers[1].content


def test_concurrent_sends_of_several_accounts_each_get_their_own_answer(api: Api) -> None:
    """Sends batched into one transaction (bridge/api/batcher.py) answer as if alone."""
    accounts = [api.account("10") for _ in range(3)]
    keys = [api.key(a, requests_per_minute=None) for a in accounts]
    bodies = [GOOD, {"message": "no recipient"}, {"to": ["123"], "message": "none valid"}]
    jobs = [(keys[i % 3], bodies[i % 3 if i % 5 == 0 else 0]) for i in range(45)]
    with api.client(limits=httpx.Limits(max_connections=45)) as http, \
            concurrent.futures.ThreadPoolExecutor(45) as pool:
        answers = list(pool.map(
            lambda job: http.post("/sms/send", json=job[1], headers={"Authorization": f"Bearer {job[0]}"}), jobs
        ))  # fmt: skip
    for (_key, body), answer in zip(jobs, answers, strict=True):
        want = {0: 201, 1: 400, 2: 400}[bodies.index(body)]
        assert answer.status_code == want, (body, answer.text)
    for key, account in zip(keys, accounts, strict=True):
        accepted = sum(1 for (k, body), a in zip(jobs, answers, strict=True) if k == key and a.status_code == 201)
        with api.client(key) as http:
            balance = Decimal(str(http.get("/balance").json()["balance"]))
        assert balance == Decimal("10") - accepted * Decimal("0.05")
        assert api.run(reconcile, account).ok


def test_recipients_per_call_are_configurable_per_key(api: Api) -> None:
    account = api.account("1000")
    numbers = [f"+6012{n:07d}" for n in range(4_000_000, 4_000_151)]
    small, large = api.key(account, max_recipients=5), api.key(account, max_recipients=150)
    with api.client(small) as http:
        assert http.post("/sms/send", json={"to": numbers[:5], "message": "Hi"}).status_code == 201
        refused = http.post("/sms/send", json={"to": numbers[:6], "message": "Hi"})
        assert (refused.status_code, refused.json()["error"]) == (413, "too_many_recipients")
    with api.client(large) as http:
        accepted = http.post("/sms/send", json={"to": numbers[:150], "message": "Hi"})
        assert accepted.status_code == 201 and accepted.json()["totals"]["accepted"] == 150
        assert http.post("/sms/send", json={"to": numbers, "message": "Hi"}).status_code == 413
        once = http.post("/sms/send", json={"to": numbers[:150], "message": "Hi"}, headers={"Idempotency-Key": "k"})
        assert once.status_code == 201
