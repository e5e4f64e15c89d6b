"""`smpp-bridge run` with its webhook sender: the daemon process delivers one signed sms.status per message."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import trio

from bridge.simulator import DestinationRule, SimulatorConfig
from bridge.store.db import open_database
from bridge.webhooks import verify
from bridge.webhooks.endpoints import set_endpoint
from tests.service.helpers import config_text
from tests.service.procs import DaemonProcess, enqueue, states, wait_final
from tests.service.simthread import simulator_thread
from tests.webhooks.helpers import KEY, KEY_TEXT
from tests.webhooks.receiver import Receiver


async def _set_url(dsn: str, url: str) -> str:
    async with open_database(dsn, min_size=1, max_size=1) as db:
        _info, secret = await set_endpoint(db, KEY, account="acme", url=url, require_https=False)
    assert secret is not None
    return secret


def test_the_daemon_sends_one_signed_webhook_per_final_message(
    pg_dsn_sync: str, tmp_path: Path, threaded_receiver: Receiver
) -> None:
    key = tmp_path / "webhook.key"
    key.write_text(KEY_TEXT)
    os.chmod(key, 0o600)
    text = config_text(port=0) + f"""
[webhooks]
master_key_file = "{key}"
require_https = false
allow_networks = ["127.0.0.1/32"]
"""
    sim_config = SimulatorConfig(receipt_delay=(0.01, 0.05),
                                 destination_rules=(DestinationRule(suffix="0000", stat="UNDELIV"),))  # fmt: skip
    with simulator_thread(sim_config) as sim:
        text = text.replace("port = 0", f"port = {sim.port}", 1)
        (tmp_path / "c.toml").write_text(text)
        numbers = [f"+6012345{n:04d}" for n in range(30)]  # ...0000 is undelivered
        ids = enqueue(pg_dsn_sync, text, [("Your code is 482915", numbers[i : i + 10]) for i in range(0, 30, 10)])
        secret = trio.run(_set_url, pg_dsn_sync, threaded_receiver.url())
        daemon = DaemonProcess(tmp_path / "c.toml", pg_dsn_sync, tmp_path)
        try:
            daemon.until("READY")
            final = wait_final(pg_dsn_sync, 30)
            deadline = time.monotonic() + 20
            while len(threaded_receiver.received) < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(20) == 0
        finally:
            daemon.close()
    assert final == {"delivered": 29, "failed": 1} == states(pg_dsn_sync)
    got = threaded_receiver.received
    assert len(got) == 30
    bodies = [json.loads(r.body) for r in got]
    assert sorted(b["id"] for b in bodies) == sorted(ids)
    assert sorted(b["status"] for b in bodies).count("failed") == 1
    assert all(verify(secret, r.body, r.headers["x-prosignals-signature"]) for r in got)
    assert secret not in daemon.log_text()
