"""SMPP over TLS (cfg.tls): a TLS listener on loopback in front of the scripted
SMSC, with a throw-away certificate made by the openssl CLI. Real sockets, so
the real clock and a fail_after on every wait."""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from unittest.mock import ANY

import pytest
import trio

from bridge.carrier import Accepted, Carrier, Inbound
from bridge.smpp.pdus import SubmitSm
from config.schema import Carrier as CarrierConfig
from tests.carrier.fakes import FakeSmsc
from tests.interop.process import in_ci

LIMIT = 10.0


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        reason = "openssl CLI not installed: apt-get install openssl"
        if in_ci():  # CI must prove TLS works, not skip it quietly
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@asynccontextmanager
async def tls_smsc(cert: Path, key: Path) -> AsyncIterator[tuple[int, list[FakeSmsc]]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    smscs: list[FakeSmsc] = []

    async def handle(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, context, server_side=True)
        smsc = FakeSmsc(tls)
        smscs.append(smsc)
        try:
            await smsc.serve()
        except trio.BrokenResourceError:
            pass  # a client that refused our certificate

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0,
                                                          host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1], smscs
        nursery.cancel_scope.cancel()


async def test_submit_over_tls_with_the_configured_ca(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    async with tls_smsc(cert, key) as (port, smscs):
        cfg = CarrierConfig(name="tls", host="127.0.0.1", port=port, system_id="bridge",
                            tls=True, tls_ca_file=str(cert))
        send, _ = trio.open_memory_channel[Inbound](10)
        carrier = Carrier(cfg, password="secret", inbound=send)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(LIMIT):
                await nursery.start(carrier.run)
                assert carrier.up
                outcome = await carrier.submit(SubmitSm(destination_addr="447700900123",
                                                        short_message=b"over tls"))
                assert outcome == Accepted(message_id="id1", attempts=1, written_at=ANY)
                assert smscs[0].submits[0].short_message == b"over tls"
                await carrier.stop(1.0)


async def test_an_untrusted_certificate_is_a_counted_connect_failure(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    async with tls_smsc(cert, key) as (port, _):
        cfg = CarrierConfig(name="tls", host="127.0.0.1", port=port, system_id="bridge",
                            tls=True)  # system CAs only: our self-signed cert fails
        carrier = Carrier(cfg, password="secret", inbound=None)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(LIMIT):
                await nursery.start(carrier.run)
                assert not carrier.up
                assert carrier.health().binds[0].connect_failures == 1
                await carrier.stop(1.0)
