"""A tiny W3C WebDriver client over HTTP (urllib) for chromedriver and headless Chromium.

Just what the status-page test needs: a session, navigate, the rendered text,
an element's attribute, the browser's console log and a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1200,900",
]  # fmt: skip


def find() -> tuple[str | None, str | None]:
    """(chromium, chromedriver) paths, None where missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    return browser, shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Session:
    def __init__(self, base: str, session_id: str) -> None:
        self.base = f"{base}/session/{session_id}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return _request(method, self.base + path, body)

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def script(self, source: str) -> Any:
        return self._call("POST", "/execute/sync", {"script": source, "args": []})

    def console(self) -> list[dict[str, Any]]:
        """The browser's console entries since the last call (chromedriver's log endpoint)."""
        entries: list[dict[str, Any]] = self._call("POST", "/se/log", {"type": "browser"})
        return entries

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", "/screenshot"))


def _request(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["value"]


@contextlib.contextmanager
def browser(chromium: str, chromedriver: str) -> Iterator[Session]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        driver = subprocess.Popen([chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if _request("GET", base + "/status").get("ready"):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("chromedriver did not start")
                time.sleep(0.1)
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]},
                "goog:loggingPrefs": {"browser": "ALL"},
            }}}  # fmt: skip
            created = _request("POST", base + "/session", caps)
            session = Session(base, created["sessionId"])
            try:
                yield session
            finally:
                with contextlib.suppress(OSError):
                    _request("DELETE", session.base)
        finally:
            driver.terminate()
            driver.wait(10)
