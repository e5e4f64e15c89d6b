"""A sender process killed with SIGKILL mid-retry resumes the schedule from the table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import trio

from bridge.store.db import Database, open_database
from tests.webhooks.helpers import KEY_TEXT, account_with_url, final_messages, outbox, wait_rows
from tests.webhooks.receiver import Behaviour, Received, receiver

REPO = Path(__file__).resolve().parents[2]


def _config(tmp: Path, dsn: str) -> Path:
    key = tmp / "webhook.key"
    key.write_text(KEY_TEXT + "\n")
    os.chmod(key, 0o600)
    cfg = tmp / "bridge.toml"
    cfg.write_text(f"""
[database]
dsn = "{dsn}"

[webhooks]
master_key_file = "{key}"
require_https = false
allow_networks = ["127.0.0.1/32"]
retry_delays = ["1s", "3s", "30s"]

[logging]
format = "json"
""")
    return cfg


async def _start(cfg: Path) -> trio.Process:
    return await trio.lowlevel.open_process(
        [sys.executable, "-m", "bridge.cli", "webhooks", "run", "-c", str(cfg)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def test_sigkill_mid_retry_resumes_the_schedule_with_no_attempt_lost_or_repeated(
    pg_dsn: str, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, pg_dsn)

    def answer(request: Received) -> Behaviour:
        attempt = json.loads(request.body)["attempt"]
        return Behaviour(status=204 if attempt >= 3 else 500)

    async with receiver() as rec, open_database(pg_dsn, min_size=1, max_size=2) as db:
        rec.routes["/hook"] = answer
        await account_with_url(db, "acme", rec.url())
        await final_messages(db, "acme", 1)
        proc = await _start(cfg)
        try:
            await rec.wait_for(2, limit=30)
            await _wait(db, "SELECT attempts = 2 AND claimed_by IS NULL FROM webhook_outbox")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        (row,) = await outbox(db)
        assert row["state"] == "pending" and row["attempts"] == 2
        due = row["next_attempt_at"]
        assert due > await db.fetchval("SELECT now()")  # killed while waiting for the 3 s retry
        proc = await _start(cfg)
        try:
            third = (await rec.wait_for(3, limit=30))[2]
            await _wait(db, "SELECT state = 'delivered' FROM webhook_outbox")
        finally:
            proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        (row,) = await outbox(db)
    assert [r.headers["x-prosignals-attempt"] for r in rec.received] == ["1", "2", "3"]
    assert third.headers["x-prosignals-delivery"] == rec.received[0].headers["x-prosignals-delivery"]
    assert row["attempts"] == 3 and row["delivered_at"] >= due
    # The third attempt waited for the 3 s of the schedule, not a fresh start.
    assert row["delivered_at"] - due < timedelta(seconds=5)


async def _wait(db: Database, sql: str) -> None:
    await wait_rows(db, sql, limit=30)
