"""Child processes for interop peers: own process groups, logs in files, skip-or-fail.

Every peer runs in its own process group (``start_new_session``) so that
:meth:`PeerProcess.stop` also reaches what it forked (Net::SMPP's smsc.pl forks
per connection; Kannel runs two boxes). A missing tool skips the test with the
install command on a developer machine and fails it in CI (``CI=true``): the
interop suite must not silently vanish from the pipeline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import pytest
import trio

HOST = "127.0.0.1"
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


# --------------------------------------------------------------------- tools


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``/``1``/``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# The reason of the last skip: pytest-trio re-raises a skip that left a trio
# nursery as a bare ``pytest.skip()``, which drops the text; tests/interop/conftest.py
# puts it back into the report (see ``skip_reason``).
_last_skip: list[str] = []


def tool_missing(reason: str) -> NoReturn:
    """Skip with ``reason`` on a developer machine; fail loudly in CI."""
    if in_ci():
        pytest.fail(f"interop peer unavailable in CI: {reason}", pytrace=False)
    _last_skip[:] = [reason]
    pytest.skip(reason)


def skip_reason(clear: bool = False) -> str | None:
    """The reason ``tool_missing`` last gave in this test (``clear``: forget it)."""
    reason = _last_skip[0] if _last_skip else None
    if clear:
        _last_skip.clear()
    return reason


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for peers that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 (SO_REUSEADDR, like most servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
        return True


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str | Callable[[], str],
    step: float = 0.02,
) -> None:
    """Poll ``check`` until true; ``pytest.fail`` naming ``what`` after ``timeout`` s.

    ``what`` may be a callable so that diagnostics (log tails, status pages) are
    gathered when the wait fails, not before it starts.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            text = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.1f} s waiting for {text}", pytrace=False)
        time.sleep(step)


async def await_until(check: Callable[[], bool], step: float = 0.02) -> None:
    """:func:`wait_until` for trio tests: sleeps without blocking the event loop.

    No timeout of its own (trio style): wrap the call in ``trio.fail_after``.
    """
    # Polling on purpose: the state lives in another process's log file or
    # HTTP page, so there is no event to wait on.
    while not check():  # noqa: ASYNC110
        await trio.sleep(step)


# ----------------------------------------------------------------- processes


@dataclass
class PeerProcess:
    """A child process in its own process group, with stdout/stderr in files."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    _files: list[IO[bytes]] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        workdir: Path,
        *,
        cwd: Path | None = None,
        stdin_pipe: bool = False,
        env: dict[str, str] | None = None,
    ) -> PeerProcess:
        stdout_path = workdir / f"{name}.stdout"
        stderr_path = workdir / f"{name}.stderr"
        out = stdout_path.open("wb")
        err = stderr_path.open("wb")
        try:
            popen = subprocess.Popen(
                [os.fspath(a) for a in argv],
                cwd=cwd,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                # Own process group: stop() signals the group, children included.
                start_new_session=True,
            )
        except BaseException:
            out.close()
            err.close()
            raise
        return cls(name, popen, stdout_path, stderr_path, [out, err])

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def diagnostics(self, lines: int = 30) -> str:
        """Exit status and the tails of both streams, for failure messages."""
        tail_out = "\n".join(self.stdout().splitlines()[-lines:])
        tail_err = "\n".join(self.stderr().splitlines()[-lines:])
        return (
            f"{self.name} (pid {self.popen.pid}, exit {self.popen.poll()})\n"
            f"--- stdout tail\n{tail_out}\n--- stderr tail\n{tail_err}"
        )

    def write_stdin(self, line: str) -> None:
        assert self.popen.stdin is not None, f"{self.name} was started without a stdin pipe"
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``grace`` s; reap.

        Idempotent: a second call (a test stopping a peer its fixture also
        stops) must not signal a process group id the kernel may have reused.
        """
        if self._stopped:
            return
        self._stopped = True
        pgid = self.popen.pid  # start_new_session: the group id is the leader's pid
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if _signal_group(pgid, signal.SIGTERM):
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self.popen.poll()  # reap the leader so the group can empty
                if not _signal_group(pgid, 0):
                    break
                time.sleep(0.02)
            else:
                _signal_group(pgid, signal.SIGKILL)
        self.popen.wait(timeout=grace)
        for f in self._files:
            f.close()


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True
