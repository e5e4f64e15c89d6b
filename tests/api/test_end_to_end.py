"""POST /sms/send through the daemon and the simulator to GET /sms/{id}: sent and charged."""

from __future__ import annotations

import time
from pathlib import Path

from tests.api.harness import Api, child, run_api, write_config

SEED_SEND = {"to": "+60123456789", "message": "Your verification code is 482915", "reference": "order-9821"}


def test_a_send_goes_out_and_comes_back_sent_and_charged(pg_dsn_sync: str, tmp_path: Path) -> None:
    with child("simulate", "--port", "0", "--receipt-delay", "0.05") as smsc:
        assert smsc.stdout is not None
        line = smsc.stdout.readline()
        assert "listening on" in line, line
        port = int(line.rsplit(":", 1)[1].split()[0])
        config = write_config(tmp_path / "bridge.toml", pg_dsn_sync, smsc_port=port)
        with child("run", "-c", str(config)), run_api(config) as server:
            api = Api(pg_dsn_sync, config, server)
            key = api.key(api.account("42.5"))
            with api.client(key) as http:
                sent = http.post("/sms/send", json=SEED_SEND)
                assert sent.status_code == 201, sent.text
                message_id = sent.json()["recipients"][0]["id"]
                deadline = time.monotonic() + 60
                while True:
                    status = http.get(f"/sms/{message_id}").json()
                    if status["status"] != "pending" or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert (status["status"], status["charged"]) == ("sent", True), status
                assert status["carrierRef"]  # the carrier's id, once it answered
                assert status["cost"] == 0.05
                assert http.get("/balance").json() == {"balance": 42.45, "currency": "MYR"}
