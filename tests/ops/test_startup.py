"""``[daemon] metrics_listen``: a port in use or an address that is not one stops
``smpp-bridge run`` at once with one clear line (exit 2), before the database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.ops.http import ListenError, parse_address
from tests.service.helpers import write_config


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_BRIDGE_DSN": "postgresql://postgres@127.0.0.1:5432/nowhere_at_all",
           "TEST_BRIDGE_PASSWORD": "pw"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "import sys; from bridge.cli import main; sys.exit(main())", "run", "-c", str(config)],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def _with_listen(tmp_path: Path, listen: str) -> Path:
    config = write_config(tmp_path / "bridge.toml")
    text = config.read_text().replace("[daemon]\n", f'[daemon]\nmetrics_listen = "{listen}"\n', 1)
    assert "metrics_listen" in text
    config.write_text(text)
    return config


def test_a_port_in_use_is_a_start_up_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run(_with_listen(tmp_path, f"127.0.0.1:{port}"))
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}") and "metrics_listen" in line, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("address", ["127.0.0.1:http", "localhost:99999", "nonsense"])
def test_a_bad_address_is_a_start_up_error(tmp_path: Path, address: str) -> None:
    done = _run(_with_listen(tmp_path, address))
    assert done.returncode == 2, done.stderr
    assert "metrics_listen" in done.stderr and "Traceback" not in done.stderr


def test_addresses() -> None:
    assert parse_address("9187") == ("127.0.0.1", 9187)
    assert parse_address("0.0.0.0:9187") == ("0.0.0.0", 9187)
    assert parse_address("[::1]:9187") == ("::1", 9187)
    with pytest.raises(ListenError):
        parse_address("127.0.0.1:")


async def test_the_endpoint_refuses_what_it_does_not_serve() -> None:
    """Unknown paths 404, other methods 405, and neither grows the route labels."""
    import trio

    from bridge.ops.http import listen, serve
    from tests.ops.client import get

    counts: dict[tuple[str, int], int] = {}

    async def handler(path: str) -> tuple[int, str, bytes]:
        return (200, "text/plain", b"ok\n") if path == "/health/live" else (404, "text/plain", b"no\n")

    listeners = await listen("127.0.0.1:0")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, listeners, handler, counts)
        base = f"http://127.0.0.1:{port}"
        assert (await get(base + "/health/live"))[0] == 200
        assert (await get(base + "/x" * 50))[0] == 404
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"DELETE /random-path HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        reply = await stream.receive_some(4096)
        assert reply.startswith(b"HTTP/1.1 405")
        await stream.aclose()
        nursery.cancel_scope.cancel()
    assert counts == {("/health/live", 200): 1, ("other", 404): 1, ("other", 405): 1}
