"""Fixtures for tests against third-party SMPP peers (docs/interop.md).

- ``node_smsc``: a running node-smpp SMSC (system_id "bridge", password "secret").
- ``node_smsc_factory``: ``(**kwargs) -> NodeSmsc`` for other credentials or options.
- ``netsmpp_smsc``: Debian's Net::SMPP example SMSC on the fixed port 9900.
- ``kannel_esme``: ``(host, port, system_id, password, **kwargs) -> KannelEsme``.

Every peer started through a fixture is stopped at teardown, process group and
all, even when the test failed. A missing tool skips (developer machine) or
fails (CI=true), see ``peers.tool_missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.kannel import KannelEsme, start_kannel
from tests.interop.peers import NetSmppSmsc, NodeSmsc, start_netsmpp_smsc, start_node_smsc


@pytest.fixture
def node_smsc_factory(tmp_path: Path) -> Iterator[Callable[..., NodeSmsc]]:
    """Start node-smpp SMSCs: ``factory(system_id=..., password=..., options=[...])``."""
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
