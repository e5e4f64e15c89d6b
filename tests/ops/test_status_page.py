"""The status page in a real browser: headless Chromium (driven through chromedriver)
loads ``/`` from `smpp-bridge run` with the simulator and traffic, and the rendered
page shows the carrier with its state, no console error, no number, no body.

Chromium and chromedriver are Debian packages (.ci/system-packages). Under CI=true
their absence fails the test; on a developer machine it is skipped with the reason.
``SMPP_BRIDGE_SCREENSHOT=docs/status-page.png`` keeps a screenshot.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.simulator import DestinationRule, SimulatorConfig
from tests.ops.webdriver import browser, find
from tests.service.helpers import write_config
from tests.service.procs import DaemonProcess, enqueue, wait_final
from tests.service.simthread import SimulatorThread, simulator_thread

OTP = "Your verification code is 482915"
FAILURES = "return Array.from(document.querySelectorAll('#failures tr')).slice(1).map(r => r.cells[0].innerText)"


@pytest.fixture
def chromium() -> tuple[str, str]:
    found, driver = find()
    if found is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", found), ("chromedriver", driver)) if p is None)
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} not installed (.ci/system-packages installs chromium and chromium-driver)")
        pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver)")
    return found, driver


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    config = SimulatorConfig(handset_log=100_000, receipt_delay=(0.05, 0.3),
                             destination_rules=(DestinationRule(suffix="0000", stat="UNDELIV"),))  # fmt: skip
    with simulator_thread(config) as s:
        yield s


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_status_page_in_headless_chromium(
    chromium: tuple[str, str], pg_dsn_sync: str, sim: SimulatorThread, tmp_path: Path
) -> None:
    port = _free_port()
    config = write_config(tmp_path / "c.toml", port=sim.port, binds=2)
    text = config.read_text().replace("[daemon]\n", f'[daemon]\nmetrics_listen = "127.0.0.1:{port}"\n', 1)
    config.write_text(text)
    numbers = [f"+6012345{n:04d}" for n in range(300)]
    enqueue(pg_dsn_sync, text, [(OTP, numbers[i : i + 50]) for i in range(0, 300, 50)])
    daemon = DaemonProcess(config, pg_dsn_sync, tmp_path)
    try:
        daemon.until("READY")
        wait_final(pg_dsn_sync, 60)
        url = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url + "health", timeout=10) as resp:
            assert resp.status == 200
        with browser(*chromium) as page:
            page.get(url)
            deadline = time.monotonic() + 20
            while not page.script("return document.querySelectorAll('#carriers td[data-status]').length"):
                assert time.monotonic() < deadline, page.script("return document.body.innerText")
                time.sleep(0.2)
            body = page.script("return document.body.innerText")
            states = page.script(
                "return Array.from(document.querySelectorAll('#carriers tr')).slice(1)"
                ".map(r => [r.cells[0].innerText, r.cells[1].dataset.status])")
            assert states == [["sim", "live"]], body
            assert body.count("bound_trx") == 2, body
            # The number ending 0000 fails (UNDELIV): its reason shows once the page reads
            # the database's counts again (at most every second; the page reloads itself).
            while page.script(FAILURES) in ([], ["none"]):
                assert time.monotonic() < deadline + 20, page.script("return document.body.innerText")
                time.sleep(1.0)
                page.get(url)
            assert page.script(FAILURES) == ["UNDELIV"]
            queue = page.script("return document.querySelector('#queue').innerText")
            assert "queued\t0" in queue and "submitting\t0" in queue, queue  # every part final
            console = page.console()
            errors = [e for e in console if e.get("level") == "SEVERE"]
            assert not errors, errors
            assert "482915" not in body and "+60123450001" not in body and "60123450001" not in body
            shot = os.environ.get("SMPP_BRIDGE_SCREENSHOT")
            png = page.screenshot()
            assert png.startswith(b"\x89PNG")
            if shot:
                Path(shot).write_bytes(png)
    finally:
        daemon.close()
