"""Third-party SMPP SMSCs as test peers: node-smpp and Debian's Net::SMPP example.

docs/design.md house rule 10 wants system tests against SMPP peers nobody on this
project wrote. This module
starts them as child processes, reads what they saw, and always stops them:

- :class:`NodeSmsc`: ``tests/interop/node/smsc.js`` on the npm package ``smpp``
  0.5.1 (node-smpp). Any free port, configurable credentials, unique message ids,
  delivery receipts, a JSON line per PDU it read or wrote.
- :class:`NetSmppSmsc`: Debian's unmodified ``examples/smsc.pl`` from
  ``libnet-smpp-perl``. Fixed port 9900, any credentials, message id
  ``123456789`` for every submit, never a receipt.
- Kannel (an ESME) lives in :mod:`tests.interop.kannel`; process handling and
  the skip-or-fail rule in :mod:`tests.interop.process` (re-exported here).

The fixtures wrapping these helpers are in ``tests/interop/conftest.py``;
docs/interop.md is the manual.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.interop.process import (
    HOST,
    STOP_GRACE,
    PeerProcess,
    await_until,
    free_port,
    in_ci,
    port_is_free,
    tool_missing,
    wait_until,
)

__all__ = [
    "HOST",
    "NETSMPP_PORT",
    "STOP_GRACE",
    "NetSmppSmsc",
    "NodeSmsc",
    "PeerProcess",
    "Record",
    "await_until",
    "free_port",
    "in_ci",
    "netsmpp_script",
    "node_smsc_available",
    "port_is_free",
    "start_netsmpp_smsc",
    "start_node_smsc",
    "tool_missing",
    "wait_until",
]

NODE_DIR = Path(__file__).resolve().parent / "node"
SMSC_PL = Path("/usr/share/doc/libnet-smpp-perl/examples/smsc.pl")
NETSMPP_PORT = 9900  # hard-coded in smsc.pl ($port = 9900)

Record = dict[str, Any]


# ------------------------------------------------------------------ node-smpp


@dataclass
class NodeSmsc:
    """A running ``node/smsc.js``: where to bind, with what, and what it saw.

    Records are the JSON lines the script prints (see smsc.js): ``event`` is one
    of connect, bound, pdu, close, error, receipt_undeliverable, receipt_retry,
    dropped, command_done, bad_command. PDU records carry ``dir`` ("in" from the
    ESME, "out" written by the SMSC), ``session``, ``command``, ``command_status``,
    ``sequence_number``, decoded ``fields`` and the raw PDU as ``hex``.
    """

    host: str
    port: int
    system_id: str | None
    password: str | None
    process: PeerProcess

    def records(self) -> list[Record]:
        """Every JSON record logged so far, in order."""
        out: list[Record] = []
        for line in self.process.stdout().splitlines()[1:]:  # line 1: LISTENING
            if line.startswith("{") and line.endswith("}"):
                out.append(json.loads(line))
        return out

    def pdus(
        self,
        command: str | None = None,
        direction: str | None = None,
        where: Callable[[Record], bool] | None = None,
    ) -> list[Record]:
        """PDU records, filtered by command name, ``"in"``/``"out"`` and a predicate."""
        return [
            r
            for r in self.records()
            if r["event"] == "pdu"
            and (command is None or r["command"] == command)
            and (direction is None or r["dir"] == direction)
            and (where is None or where(r))
        ]

    def wait_for_pdus(
        self,
        command: str,
        direction: str = "in",
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Record], bool] | None = None,
    ) -> list[Record]:
        """Block until ``count`` matching PDUs were logged; return them (sync tests)."""
        wait_until(
            lambda: len(self.pdus(command, direction, where)) >= count,
            timeout,
            lambda: (
                f"{count} x {command} ({direction}) at node-smpp SMSC\n{self.process.diagnostics()}"
            ),
        )
        return self.pdus(command, direction, where)

    async def await_pdus(
        self,
        command: str,
        direction: str = "in",
        count: int = 1,
        where: Callable[[Record], bool] | None = None,
    ) -> list[Record]:
        """:meth:`wait_for_pdus` for trio tests; bound it with ``trio.fail_after``."""
        await await_until(lambda: len(self.pdus(command, direction, where)) >= count)
        return self.pdus(command, direction, where)

    def control(self, op: str, session: int | None = None, **extra: Any) -> None:
        """Send a stdin command: ``deliver_sm`` (fields=...), ``unbind`` or ``close``."""
        command: Record = {"op": op, **extra}
        if session is not None:
            command["session"] = session
        self.process.write_stdin(json.dumps(command))

    def deliver_sm(self, session: int | None = None, **fields: Any) -> None:
        """Make the SMSC originate a deliver_sm (MO or hand-made receipt).

        ``fields`` are node-smpp PDU fields; pass ``short_message_hex`` for exact
        bytes (node-smpp re-encodes strings, see docs/interop.md).
        """
        self.control("deliver_sm", session=session, fields=fields)


def node_smsc_available() -> None:
    """Skip/fail unless node and the installed ``smpp`` package are present."""
    if shutil.which("node") is None:
        tool_missing("node not installed: apt-get install nodejs (node >= 18)")
    if not (NODE_DIR / "node_modules" / "smpp" / "package.json").is_file():
        tool_missing(f"node-smpp not installed: cd {NODE_DIR} && npm ci")


def start_node_smsc(
    workdir: Path,
    *,
    system_id: str | None = "bridge",
    password: str | None = "secret",
    options: Sequence[str] = (),
    name: str = "node-smsc",
    timeout: float = 10.0,
) -> NodeSmsc:
    """Start smsc.js on an ephemeral port of 127.0.0.1 and wait for ``LISTENING``.

    ``system_id``/``password`` of None accept anything; ``options`` are extra
    smsc.js flags (e.g. ``["--receipt-stat", "UNDELIV", "--receipt-delay-ms", "50"]``).
    The caller must ``process.stop()`` it (the fixtures do).
    """
    node_smsc_available()
    node = shutil.which("node")
    assert node is not None
    argv: list[str] = [node, str(NODE_DIR / "smsc.js"), "--host", HOST, "--port", "0"]
    if system_id is not None:
        argv += ["--system-id", system_id]
    if password is not None:
        argv += ["--password", password]
    argv += list(options)
    proc = PeerProcess.start(name, argv, workdir, cwd=NODE_DIR, stdin_pipe=True)
    port = 0

    def listening() -> bool:
        nonlocal port
        if not proc.running:
            proc.stop()
            pytest.fail(f"node-smpp SMSC exited at start-up\n{proc.diagnostics()}", pytrace=False)
        first = proc.stdout().partition("\n")
        if first[1] and first[0].startswith("LISTENING "):
            port = int(first[0].split()[1])
            return True
        return False

    try:
        wait_until(listening, timeout, "node-smpp SMSC to listen")
    except BaseException:
        proc.stop()
        raise
    return NodeSmsc(HOST, port, system_id, password, proc)


# ------------------------------------------------------------------ Net::SMPP


@dataclass
class NetSmppSmsc:
    """Debian's example ``smsc.pl`` (Net::SMPP), unmodified, on 127.0.0.1:9900.

    It answers any bind (any system_id, any password) with system_id
    ``GSMSGW``, every submit_sm with message id ``123456789``, enquire_link,
    query/replace/cancel; it never sends receipts. See docs/interop.md for what
    kills its connection.
    """

    host: str
    port: int
    process: PeerProcess
    system_id: str = "GSMSGW"  # what its bind_*_resp carries
    message_id: str = "123456789"  # what every submit_sm_resp carries

    def received(self) -> list[tuple[int, int]]:
        """(sequence_number, command_id) of every PDU the SMSC children read.

        Parsed from smsc.pl's own ``Received #<seq> <command_id>:<name>`` lines.
        """
        out: list[tuple[int, int]] = []
        for line in self.process.stdout().splitlines():
            if line.startswith("Received #"):
                seq, _, rest = line[len("Received #") :].partition(" ")
                out.append((int(seq), int(rest.split(":", 1)[0])))
        return out

    def wait_received(self, command_id: int, count: int = 1, timeout: float = 10.0) -> None:
        """Block until smsc.pl logged ``count`` PDUs with ``command_id``."""
        wait_until(
            lambda: sum(1 for _, c in self.received() if c == command_id) >= count,
            timeout,
            lambda: (
                f"{count} x command 0x{command_id:08x} at smsc.pl\n{self.process.diagnostics()}"
            ),
        )

    async def await_received(self, command_id: int, count: int = 1) -> None:
        """:meth:`wait_received` for trio tests; bound it with ``trio.fail_after``."""
        await await_until(lambda: sum(1 for _, c in self.received() if c == command_id) >= count)


# smsc.pl prints "Received ..." with plain print(); Perl block-buffers STDOUT on
# a file, so the lines would only appear when a child exits. This loader turns
# autoflush on and runs the file as it is, leaving the example unmodified.
_PERL_AUTOFLUSH = (
    "$| = 1; my $f = shift @ARGV; $0 = $f; my $r = do $f; "
    'die $@ if $@; die "cannot run $f: $!" unless defined $r;'
)


def netsmpp_script(workdir: Path) -> Path:
    """The example's path; a gunzipped copy in ``workdir`` where Debian shipped .gz."""
    if SMSC_PL.is_file():
        return SMSC_PL
    packed = SMSC_PL.with_name(SMSC_PL.name + ".gz")
    if packed.is_file():
        copy = workdir / SMSC_PL.name
        with gzip.open(packed, "rb") as src, copy.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return copy
    tool_missing(f"Net::SMPP example SMSC not found at {SMSC_PL}: apt-get install libnet-smpp-perl")


def start_netsmpp_smsc(workdir: Path, timeout: float = 10.0) -> NetSmppSmsc:
    """Start smsc.pl and wait until it accepts. Fails if port 9900 is already taken.

    Port 9900 is fixed in the script: tests using it must not run in parallel
    (e.g. under pytest-xdist); a busy port is reported, never waited out.
    """
    perl = shutil.which("perl")
    if perl is None:
        tool_missing("perl not installed: apt-get install perl libnet-smpp-perl")
    script = netsmpp_script(workdir)
    probe = subprocess.run(
        [perl, "-MNet::SMPP", "-e", "1"], capture_output=True, timeout=timeout, check=False
    )
    if probe.returncode != 0:
        tool_missing("Net::SMPP not installed: apt-get install libnet-smpp-perl")
    if not port_is_free(NETSMPP_PORT):
        pytest.fail(
            f"port {NETSMPP_PORT} on {HOST} is busy: smsc.pl listens on it unconditionally. "
            "Another smsc.pl (a parallel test?) or another service holds it.",
            pytrace=False,
        )
    # No argument: the script then speaks SMPP 3.4 (version 0x34).
    proc = PeerProcess.start("smsc-pl", [perl, "-e", _PERL_AUTOFLUSH, script], workdir)

    def accepting() -> bool:
        if not proc.running:
            proc.stop()
            pytest.fail(f"smsc.pl exited at start-up\n{proc.diagnostics()}", pytrace=False)
        return "Entering accept loop" in proc.stderr()

    try:
        wait_until(accepting, timeout, "smsc.pl to listen on port 9900")
    except BaseException:
        proc.stop()
        raise
    return NetSmppSmsc(HOST, NETSMPP_PORT, proc)
