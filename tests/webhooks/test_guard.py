"""SSRF guard: resolved addresses checked at connect time, wrapped IPv4 unwrapped, metadata refused."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.store.db import Database
from bridge.webhooks.client import HttpClient, parse_url
from bridge.webhooks.guard import AddressGuard, Refused, unwrap
from tests.webhooks.helpers import (
    account_with_url,
    final_messages,
    outbox,
    running_sender,
    wait_rows,
)
from tests.webhooks.receiver import receiver, tls_receiver

STRICT = AddressGuard.from_settings(require_https=True, allow_networks=[])
LOCAL = AddressGuard.from_settings(require_https=False, allow_networks=["127.0.0.1/32", "169.254.0.0/16"])

REFUSED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "255.255.255.255", "192.0.2.1", "198.18.0.1", "240.0.0.1", "169.254.10.10",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.2", "64:ff9b::7f00:1", "64:ff9b::a00:1",
    "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a9fe:a9fe::1",
]  # fmt: skip
METADATA = ["169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "fd00:ec2::254", "168.63.129.16",
            "100.100.100.200", "169.254.170.2"]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "64:ff9b::808:808", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED + METADATA)
def test_private_loopback_link_local_multicast_reserved_and_wrapped_addresses_are_refused(address: str) -> None:
    with pytest.raises(Refused):
        STRICT.check_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    STRICT.check_address(address)


@pytest.mark.parametrize("address", METADATA)
def test_metadata_addresses_are_refused_even_inside_an_allowed_network(address: str) -> None:
    allow_all = AddressGuard.from_settings(require_https=False, allow_networks=["0.0.0.0/0", "::/0"])
    with pytest.raises(Refused, match="metadata"):
        allow_all.check_address(address)


def test_allowed_networks_are_explicit() -> None:
    LOCAL.check_address("127.0.0.1")
    LOCAL.check_address("::ffff:127.0.0.1")  # the same address, wrapped
    with pytest.raises(Refused):
        LOCAL.check_address("127.0.0.2")
    assert str(unwrap(__import__("ipaddress").ip_address("64:ff9b::7f00:1"))) == "127.0.0.1"


def test_https_only_by_default() -> None:
    with pytest.raises(Refused, match="HTTPS"):
        STRICT.check_scheme("http")
    STRICT.check_scheme("https")
    with pytest.raises(ValueError, match="user name"):
        parse_url("https://user:pw@example.com/hook")


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, _port: int) -> list[str]:
        await trio.lowlevel.checkpoint()
        return table[host]

    return resolve


async def test_a_name_that_resolves_to_a_private_or_metadata_address_is_refused() -> None:
    table = {"rebind.test": ["93.184.216.34", "127.0.0.1"], "metadata.test": ["169.254.169.254"]}
    guard = AddressGuard.from_settings(require_https=True, allow_networks=[], resolver=_resolver(table))
    for host in table:
        with pytest.raises(Refused):
            await guard.resolve(host, 443)
    # The real resolver: localhost is loopback.
    with pytest.raises(Refused):
        await STRICT.resolve("localhost", 443)


async def test_the_sender_refuses_a_url_that_resolves_to_loopback_and_sends_nothing(db: Database) -> None:
    strict_http = AddressGuard.from_settings(require_https=False, allow_networks=[])
    async with receiver() as rec:
        await account_with_url(db, "acme", rec.url(host="localhost"))
        await final_messages(db, "acme", 1)
        async with running_sender(db, guard=strict_http):
            await wait_rows(db, "SELECT attempts = 1 FROM webhook_outbox")
    assert rec.received == [] and rec.connections == 0
    (row,) = await outbox(db)
    assert row["state"] == "pending" and row["last_error"].startswith("refused:")


def _certificate(tmp: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``host``: (server context, client context trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_pem = tmp / "cert.pem"
    key_pem = tmp / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_pem, key_pem)
    client = ssl.create_default_context(cafile=str(cert_pem))
    return server, client


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    server_ctx, client_ctx = _certificate(tmp_path, "hooks.test")
    async with tls_receiver(server_ctx) as rec:
        table = {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        guard = AddressGuard.from_settings(require_https=True, allow_networks=["127.0.0.1/32"],
                                           resolver=_resolver(table))  # fmt: skip
        client = HttpClient(guard, ssl_context=client_ctx)
        origin, target = parse_url(f"https://hooks.test:{rec.port}/hook")
        ok = await client.post(origin, target, b"", b"{}", timeout=5)
        origin, target = parse_url(f"https://other.test:{rec.port}/hook")
        wrong = await client.post(origin, target, b"", b"{}", timeout=5)
        await client.aclose()
    assert ok.status == 200
    assert wrong.status is None and wrong.error is not None and "CERTIFICATE_VERIFY_FAILED" in wrong.error
    assert len(rec.received) == 1


@pytest.mark.parametrize("url", ["https://x.test/a b", "https://x.test/a\r\nX-Evil: 1", "https://x.test/caf\u00e9"])
def test_urls_that_could_bend_the_request_we_write_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


def test_a_user_agent_with_cr_or_lf_is_refused() -> None:
    from bridge.webhooks.policy import SMS_STATUS

    with pytest.raises(ValueError, match="header value"):
        SMS_STATUS.tuned(user_agent="ProSignals/1.0\r\nX-Evil: 1")
