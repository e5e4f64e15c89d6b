"""Fixtures for tests against third-party SMPP peers (docs/interop.md).

- ``node_smsc``: a running node-smpp SMSC (system_id "bridge", password "secret").
- ``node_smsc_factory``: ``(**kwargs) -> NodeSmsc`` for other credentials or options.
- ``netsmpp_smsc``: Debian's Net::SMPP example SMSC on the fixed port 9900.
- ``kannel_esme``: ``(host, port, system_id, password, **kwargs) -> KannelEsme``.

Every peer started through a fixture is stopped at teardown, process group and
all, even when the test failed. A missing tool skips (developer machine) or
fails (CI=true), see ``peers.tool_missing``: the factories check their tool when
the fixture is set up, before the test starts anything, and every skip's
summary line (``pytest -ra``) carries its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.kannel import KannelEsme, kannel_available, start_kannel
from tests.interop.peers import (
    NetSmppSmsc,
    NodeSmsc,
    node_smsc_available,
    start_netsmpp_smsc,
    start_node_smsc,
)
from tests.interop.process import skip_reason


def pytest_runtest_setup(item: pytest.Item) -> None:
    skip_reason(clear=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Give back the reason pytest-trio drops from a skip raised inside a trio nursery.

    pytest-trio turns a group holding one ``Skipped`` into a bare ``pytest.skip()``,
    so the summary said only "Skipped" at a line of pytest's own code.
    """
    outcome = yield
    report = outcome.get_result()
    reason = skip_reason()
    longrepr = report.longrepr
    if report.skipped and reason and isinstance(longrepr, tuple) and longrepr[2] == "Skipped":
        path, lineno = item.location[0], (item.location[1] or 0) + 1
        report.longrepr = (path, lineno, f"Skipped: {reason}")


@pytest.fixture
def node_smsc_factory(tmp_path: Path) -> Iterator[Callable[..., NodeSmsc]]:
    """Start node-smpp SMSCs: ``factory(system_id=..., password=..., options=[...])``."""
    node_smsc_available()  # skip (or fail in CI) here, not inside the test's nursery
    started: list[NodeSmsc] = []

    def factory(**kwargs: Any) -> NodeSmsc:
        name = kwargs.pop("name", f"node-smsc-{len(started) + 1}")
        smsc = start_node_smsc(tmp_path, name=name, **kwargs)
        started.append(smsc)
        return smsc

    try:
        yield factory
    finally:
        for smsc in reversed(started):
            smsc.process.stop()


@pytest.fixture
def node_smsc(node_smsc_factory: Callable[..., NodeSmsc]) -> NodeSmsc:
    """A node-smpp SMSC on 127.0.0.1:<ephemeral> accepting "bridge"/"secret"."""
    return node_smsc_factory()


@pytest.fixture
def netsmpp_smsc(tmp_path: Path) -> Iterator[NetSmppSmsc]:
    """smsc.pl on 127.0.0.1:9900. Fixed port: never run two such tests at once."""
    smsc = start_netsmpp_smsc(tmp_path)
    try:
        yield smsc
    finally:
        smsc.process.stop()


@pytest.fixture
def kannel_esme(tmp_path: Path) -> Iterator[Callable[..., KannelEsme]]:
    """Start Kannel against an SMSC: ``factory(host, port, system_id, password, **kw)``.

    Keyword arguments are those of :func:`tests.interop.kannel.start_kannel`
    (``bind``, ``system_type``, ``enquire_link_interval``, ``smsc_extra``,
    ``wait_online``, ``timeout``). Each Kannel gets its own directory for its
    configuration and logs under the test's tmp_path.
    """
    kannel_available()  # skip (or fail in CI) here, not inside the test's nursery
    started: list[KannelEsme] = []

    def factory(host: str, port: int, system_id: str, password: str, **kwargs: Any) -> KannelEsme:
        workdir = tmp_path / f"kannel-{len(started) + 1}"
        esme = start_kannel(workdir, host, port, system_id, password, **kwargs)
        started.append(esme)
        return esme

    try:
        yield factory
    finally:
        for esme in reversed(started):
            esme.stop()
