"""An embedded PostgreSQL (the ``pgserver`` wheel) for the demo, the tests and `embedded = true`.

pgserver ships PostgreSQL binaries, runs initdb on an empty data directory and
starts the server listening on a Unix socket only (no TCP port to collide
with). Several processes may share one data directory: pgserver counts the
handles and stops the server when the last one goes. Running as root, pgserver
runs the server as a system user ``pgserver`` (PostgreSQL refuses root).

All of this is blocking (subprocesses): call it before ``trio.run`` or through
``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EmbeddedServer",
    "server_reachable",
    "start_embedded",
]


@dataclass(slots=True)
class EmbeddedServer:
    data_dir: Path
    dsn: str
    _server: Any

    def dsn_for(self, database: str) -> str:
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """Drop this process's handle (the server stops when no handle is left)."""
        self._server.cleanup()


def start_embedded(data_dir: str | Path, *, database: str = "postgres") -> EmbeddedServer:
    """Start (or join) the embedded server in ``data_dir``; returns its DSN."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (services, containers)
        # and falls back to /tmp/runtime-UID, which is what we want anyway.
        warnings.simplefilter("ignore")
        from pgserver import get_server  # type: ignore[attr-defined]

    path = Path(data_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    server = get_server(path, cleanup_mode="stop")
    return EmbeddedServer(data_dir=path, dsn=str(server.get_uri(database)), _server=server)


def server_reachable(host: str = "127.0.0.1", port: int = 5432, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port (a cheap probe, no login)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

