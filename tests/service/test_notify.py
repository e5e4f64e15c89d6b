"""sd_notify against real AF_UNIX datagram sockets (path and abstract names)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def _fields(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


def test_ready_watchdog_stopping_status(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier(path, watchdog_usec=10_000_000)
    assert n.enabled
    assert n.ready("running")
    assert _fields(sock) == {"READY": "1", "MAINPID": str(os.getpid()), "STATUS": "running"}
    assert n.watchdog()
    assert _fields(sock) == {"WATCHDOG": "1"}
    assert n.status("claimed=3\nsent=2")  # a newline would start a new assignment
    assert _fields(sock) == {"STATUS": "claimed=3 sent=2"}
    assert n.reloading()
    got = _fields(sock)
    assert got["RELOADING"] == "1" and int(got["MONOTONIC_USEC"]) > 0
    assert n.stopping()
    assert _fields(sock) == {"STOPPING": "1", "STATUS": "draining"}
    assert n.watchdog_interval == 5.0  # half of WATCHDOG_USEC
    n.close()
    assert not n.watchdog()


def test_abstract_socket_name() -> None:
    name = f"smpp-bridge-test-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        n = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert n.ready()
        assert _fields(sock)["READY"] == "1"
        n.close()
    finally:
        sock.close()


def test_no_socket_is_a_no_op() -> None:
    n = Notifier.from_environ({})
    assert not n.enabled
    assert n.watchdog_interval is None
    assert not n.ready() and not n.watchdog() and not n.stopping()


def test_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "gone.sock"), watchdog_usec=2_000_000)
    assert not n.watchdog()  # logged, not raised
    n.close()


def test_environment_is_read_then_unset(listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid()), "X": "1"}
    n = Notifier.from_environ(env)
    assert env == {"X": "1"}  # children (embedded PostgreSQL) must not inherit them
    assert n.watchdog_interval == 15.0
    n.close()


def test_watchdog_meant_for_another_process(listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    for environ in (env, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "junk"}):
        n = Notifier.from_environ(environ)
        assert n.enabled and n.watchdog_interval is None
        n.close()
