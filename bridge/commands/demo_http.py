"""The demo's customer side: `smpp-bridge api` as a child process, sends as HTTP requests.

The traffic goes in as the seed's examples show it (``POST /api/v1/sms/send``
with a Bearer key, ``GET /api/v1/sms/{id}``, ``GET /api/v1/balance``), so the
demo shows the system as customers use it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

__all__ = ["api_process", "get", "send_all"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def api_process(config: Path) -> AsyncIterator[str]:
    """`smpp-bridge api -c CONFIG` on a free loopback port; yields its base URL once it answers."""
    import httpx
    import trio

    url = f"http://127.0.0.1:{_free_port()}"
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bridge.cli", "api", "-c", str(config), "--listen", url[len("http://"):]],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            with trio.fail_after(30):
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"smpp-bridge api exited with {process.returncode}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/health")).status_code == 200:
                            break
                    await trio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()


async def send_all(
    url: str, key: str, sends: list[tuple[str, list[str]]], *, concurrency: int = 16
) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """POST every send (request body, status, answer body), ``concurrency`` at a time."""
    import httpx
    import trio

    results: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
    todo = iter(enumerate(sends))
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:

        async def worker() -> None:
            for i, (body, to) in todo:
                request = {"to": to[0] if len(to) == 1 else to, "message": body, "reference": f"order-{i + 1}"}
                answer = await http.post("/api/v1/sms/send", json=request)
                results.append((request, answer.status_code, answer.json()))

        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)
    return results


async def get(url: str, key: str, path: str) -> tuple[int, dict[str, Any], str]:
    """(status, decoded body, the body as sent: money with its 4 decimals)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        answer = await http.get("/api/v1" + path)
        return answer.status_code, answer.json(), answer.text


def curl(url: str, path: str, body: dict[str, Any] | None = None) -> str:
    """The request as the seed writes it (the key elided)."""
    if body is None:
        return f'curl {url}/api/v1{path} -H "Authorization: Bearer psk_live_…"'
    return (
        f"curl -X POST {url}/api/v1{path} \\\n"
        '  -H "Authorization: Bearer psk_live_…" -H "Content-Type: application/json" \\\n'
        f"  -d '{json.dumps(body, ensure_ascii=False)}'"
    )
