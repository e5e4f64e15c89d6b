"""The API process: /health, /metrics, JSON logs with request ids, HTTPS, plain HTTP refused."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.harness import Api, run_api, wait_for, write_config

SEED_SEND = {"to": "+60123456789", "message": "Your verification code is 482915", "reference": "order-9821"}


def test_health_and_metrics(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as http:
        health = http.get("/health").json()
        assert http.get("/health/live").json() == {"live": True}
        assert http.get("/health/ready").json() == {"ready": True}
        http.get("/api/v1/balance")  # a 401 to count
        metrics = http.get("/metrics").text
    # the daemon's /health shape (bridge/ops/health.py), without carriers
    assert health["ok"] is True and health["status"] == "live" and health["database"] == {"reachable": True}
    assert health["instance"]["role"] == "api" and health["networks"] == [] and health["at"].endswith("Z")
    assert 'smpp_bridge_api_requests_total{route="/api/v1/balance",status="401"}' in metrics
    assert "smpp_bridge_api_request_seconds_bucket" in metrics
    # the daemon's families too (bridge/ops/export.py): requests by route and status, the process
    assert 'smpp_bridge_http_requests_total{route="/api/v1/balance",status="401"} 1.0' in metrics
    assert 'smpp_bridge_http_requests_total{route="/health/ready",status="200"} 1.0' in metrics
    assert "process_cpu_seconds_total" in metrics and "process_resident_memory_bytes" in metrics


def test_health_without_the_database_is_down() -> None:
    from bridge.api.probes import health_document

    doc = health_document(False, now=0.0)
    assert (doc["ok"], doc["status"], doc["database"]) == (False, "down", {"reachable": False})
    assert doc["at"] == "1970-01-01T00:00:00Z"


def test_logs_are_json_with_request_ids_no_bodies_masked_numbers(api: Api) -> None:
    key = api.key(api.account())
    with api.client(key) as http:
        sent = http.post("/sms/send", json=SEED_SEND)
        echoed = http.get("/balance", headers={"X-Request-Id": "caller-chosen-1"})
    request_id = sent.headers["X-Request-Id"]
    assert echoed.headers["X-Request-Id"] == "caller-chosen-1"

    def logged() -> list[dict[str, object]]:
        return [json.loads(line) for line in list(api.server.lines)]

    # the line is written once the answer has gone out: wait for it
    wait_for(lambda: any(line.get("request_id") == "caller-chosen-1" for line in logged()), timeout=5)
    lines = logged()
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert mine and mine[-1]["event"] == "request" and mine[-1]["status"] == 201
    assert any(line.get("request_id") == "caller-chosen-1" for line in lines)
    text = "".join(api.server.lines)
    assert "482915" not in text and "+60123456789" not in text and key not in text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_with_a_certificate(api: Api, tmp_path: Path) -> None:
    cert, private = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(private), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    config = write_config(
        tmp_path / "tls.toml", api.dsn, api_extra=f'tls_certificate = "{cert}"\ntls_key = "{private}"'
    )
    key = api.key(api.account())
    with run_api(config) as server:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        with server.client(key, verify=context) as http:
            assert http.get("/balance").status_code == 200


def test_plain_http_is_refused_off_loopback(api: Api) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "api", "-c", str(api.config), "--listen", "0.0.0.0:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "plain HTTP on 0.0.0.0 is refused" in done.stderr


def test_workers_share_the_socket_and_stop_with_the_parent(api: Api) -> None:
    key = api.key(api.account(), requests_per_minute=None)
    with run_api(api.config, workers=3) as server:
        parent = server.process.pid
        wait_for(lambda: len(_children(parent)) == 2, timeout=10)
        children = _children(parent)
        wait_for(lambda: sum('"api ready"' in line for line in server.lines) == 3, timeout=20)
        with server.client(key) as http:
            assert {http.get("/balance").status_code for _ in range(30)} == {200}
    for pid in children:  # the parent stopped them and waited for them
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]
