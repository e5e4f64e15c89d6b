"""Sends through the REST API (`smpp-bridge api`) come back as signed webhooks.

Real processes over loopback: the simulator (`smpp-bridge simulate`), the
daemon with its webhook sender (`smpp-bridge run`), the API process, and a
local HTTP receiver; the endpoints are set with `smpp-bridge webhooks set`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.webhooks import verify
from tests.api.harness import Api, child, run_api, write_config
from tests.webhooks.helpers import KEY_TEXT
from tests.webhooks.receiver import Receiver

OTP = "Your verification code is 482915"


@contextlib.contextmanager
def bridge(dsn: str, tmp: Path) -> Iterator[Api]:
    """Simulator, daemon (with the webhook sender) and API process on one database."""
    key_file = tmp / "webhook.key"
    key_file.write_text(KEY_TEXT + "\n")
    os.chmod(key_file, 0o600)
    hooks = f"""
[webhooks]
master_key_file = "{key_file}"
require_https = false
allow_networks = ["127.0.0.1/32"]
"""
    with child("simulate", "--port", "0", "--receipt-delay", "0.05", "--fail-suffix", "0077") as smsc:
        assert smsc.stdout is not None
        line = smsc.stdout.readline()
        assert "listening on" in line, line
        port = int(line.rsplit(":", 1)[1].split()[0])
        config = write_config(tmp / "bridge.toml", dsn, smsc_port=port, api_extra=hooks)
        with child("run", "-c", str(config)), run_api(config) as server:
            yield Api(dsn, config, server)


def set_url(api: Api, account: str, url: str, capsys: pytest.CaptureFixture[str], *key: str) -> str:
    """`smpp-bridge webhooks set` (with ``--key PREFIX`` if given); the secret it prints once."""
    argv = ["webhooks", "set", "--account", account, url, "-c", str(api.config)]
    assert main([*argv, *(("--key", key[0]) if key else ())]) == 0, capsys.readouterr().err
    found = re.search(r"secret: (whsec_\S+)", capsys.readouterr().out)
    assert found is not None
    return found.group(1)


def prefix(token: str) -> str:
    return token.split("_")[2][:8]


def wait_received(receiver: Receiver, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # nothing more arrives


def test_a_keys_endpoint_gets_its_sends_and_the_account_gets_the_others(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], threaded_receiver: Receiver
) -> None:
    with bridge(pg_dsn_sync, tmp_path) as api:
        account = api.account("10")
        with_own, without = api.key(account), api.key(account)
        account_secret = set_url(api, account, threaded_receiver.url("/account"), capsys)
        key_secret = set_url(api, account, threaded_receiver.url("/key"), capsys, prefix(with_own))
        assert key_secret != account_secret
        sent = {}
        for token in (with_own, without):
            with api.client(token) as http:
                answer = http.post("/sms/send", json={"to": "+60123456789", "message": OTP})
                assert answer.status_code == 201, answer.text
                sent[token] = answer.json()["recipients"][0]["id"]
        wait_received(threaded_receiver, 2)
    (to_key,) = threaded_receiver.on("/key")
    (to_account,) = threaded_receiver.on("/account")
    assert len(threaded_receiver.received) == 2
    assert json.loads(to_key.body)["id"] == sent[with_own]
    assert verify(key_secret, to_key.body, to_key.headers["x-prosignals-signature"])
    assert not verify(account_secret, to_key.body, to_key.headers["x-prosignals-signature"])
    assert json.loads(to_account.body)["id"] == sent[without]
    assert verify(account_secret, to_account.body, to_account.headers["x-prosignals-signature"])


def test_post_sms_send_comes_back_as_one_signed_sms_status_per_message(
    pg_dsn_sync: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], threaded_receiver: Receiver
) -> None:
    numbers = [f"+6012345{n:04d}" for n in range(1, 9)] + ["+60123450077", "+6012"]  # one UNDELIV, one invalid
    with bridge(pg_dsn_sync, tmp_path) as api:
        account = api.account("10")
        token = api.key(account)
        secret = set_url(api, account, threaded_receiver.url(), capsys)
        with api.client(token) as http:
            answer = http.post("/sms/send", json={"to": numbers, "message": OTP, "reference": "order-9821"})
            assert answer.status_code == 201, answer.text
            sent = answer.json()
            queued = [r for r in sent["recipients"] if r["status"] == "pending"]
            assert len(queued) == 9
            wait_received(threaded_receiver, 9)
            shown = {r["id"]: http.get(f"/sms/{r['id']}").json()["status"] for r in queued}
    bodies = {}
    for request in threaded_receiver.received:
        assert request.headers["x-prosignals-event"] == "sms.status"
        assert verify(secret, request.body, request.headers["x-prosignals-signature"])
        body = json.loads(request.body)
        assert body["id"] not in bodies, "two webhooks for one message"
        bodies[body["id"]] = body
    assert set(bodies) == set(shown)  # exactly one per message; none for the invalid number
    for message_id, body in bodies.items():
        assert body["status"] == shown[message_id] != "pending"
        assert body["campaignId"] == sent["campaignId"] and body["reference"] == "order-9821"
    failed = [b["to"] for b in bodies.values() if b["status"] == "failed"]
    assert failed == ["+60123450077"]
