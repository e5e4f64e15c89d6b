"""SSRF guard: which addresses a webhook may connect to.

A customer chooses the URL, so the sender must not become a way into our own
network. The check runs on the *resolved* address, at connect time, and the
sender then connects to exactly the address it checked (bridge/webhooks/client.py):
a name that resolves to a public address when saved and to 127.0.0.1 when
used (DNS rebinding) is refused when used.

Refused unless the operator allows the network explicitly
(``[webhooks] allow_networks = ["10.1.2.0/24"]``; the tests allow 127.0.0.1/32):
everything that is not globally routable (``ipaddress``'s ``is_global``:
private, loopback, link-local, multicast, reserved, unspecified, shared
100.64/10, documentation ranges ...) and multicast. IPv4 inside IPv6 is
unwrapped first: IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
NAT64 ``64:ff9b::/96`` (RFC 6052) and ``64:ff9b:1::/48`` (RFC 8215), 6to4
``2002::/16`` (RFC 3056) and Teredo ``2001::/32`` (RFC 4380).

Cloud metadata services are refused always, whatever is allowed: they hand
out credentials to whoever asks from inside the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import trio

__all__ = [
    "METADATA_ADDRESSES",
    "AddressGuard",
    "Refused",
    "Resolver",
    "system_resolver",
    "unwrap",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS DNS resolver
        "169.254.169.123",  # AWS time sync
        "168.63.129.16",  # Azure wireserver (a public address!)
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (older)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS time sync over IPv6
    )
)

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_6TO4 = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


class Refused(Exception):
    """The destination may not be connected to (the reason is in the message)."""


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address carried inside an IPv6 one, else the address itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (obfuscated in the packet, plain here)
    if address in _6TO4 and address.sixtofour is not None:
        return address.sixtofour
    for net in _NAT64:
        if address in net:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = int(address)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (IPv4-compatible, deprecated); not :: or ::1
        return ipaddress.IPv4Address(packed)
    return address


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


@dataclass(frozen=True, slots=True)
class AddressGuard:
    """The rules of one sender (from ``[webhooks]``)."""

    require_https: bool = True
    allow_networks: tuple[Network, ...] = ()
    resolver: Resolver = field(default=system_resolver)

    @classmethod
    def from_settings(cls, *, require_https: bool, allow_networks: Iterable[str],
                      resolver: Resolver | None = None) -> AddressGuard:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)
        return cls(require_https=require_https, allow_networks=nets, resolver=resolver or system_resolver)

    def check_scheme(self, scheme: str) -> None:
        if scheme == "https":
            return
        if scheme == "http" and not self.require_https:
            return
        raise Refused(f"scheme {scheme!r} refused (HTTPS only; [webhooks] require_https)")

    def check_address(self, text: str) -> IPAddress:
        """The address to connect to, or Refused."""
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        inner = unwrap(address)
        for candidate in {address, inner}:
            if candidate in METADATA_ADDRESSES:
                raise Refused(f"{text} is a cloud metadata address")
        for candidate in (address, inner):
            if any(candidate in net for net in self.allow_networks):
                return address
        if inner.is_multicast or address.is_multicast:
            raise Refused(f"{text} is a multicast address")
        if not inner.is_global:
            raise Refused(f"{text} is not a public address (allow it with [webhooks] allow_networks)")
        return address

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` and check every address; one refused address refuses the name.

        A name that answers with both a public and a private address is either
        misconfigured or an attack; neither is a destination.
        """
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            return [self.check_address(str(literal))]
        try:
            texts = await self.resolver(host, port)
        except OSError as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        if not texts:
            raise Refused(f"{host} resolves to no address")
        return [self.check_address(t) for t in texts]
