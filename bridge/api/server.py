"""uvicorn on a socket we bind: HTTPS when given a certificate, plain HTTP on loopback.

Seed 000: "All endpoints are HTTPS only." Two ways to get there
(docs/api.md "HTTPS"):

- TLS here: ``[api] tls_certificate`` and ``tls_key`` (PEM files), any address;
- a reverse proxy that terminates TLS: the API listens on loopback (or,
  with ``allow_plain_http = true``, on a private address the proxy reaches),
  and ``trusted_proxies`` names the proxy so its ``X-Forwarded-For`` gives the
  client address that failed authentications are counted against.

Plain HTTP on any other address is refused at start-up.

Server choice by measurement (docs/api.md "Server"): uvicorn with httptools
and uvloop; each answer's head and body go out in one write (``coalesce``).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import uvicorn

from bridge.api.coalesce import CoalescingHttpToolsProtocol
from config.schema import Api
from config.types import split_listen

__all__ = ["ListenError", "bind", "is_loopback", "parse_listen", "serve"]


class ListenError(ValueError):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) or ``PORT`` -> (host, port)."""
    try:
        return split_listen(text)
    except ValueError as exc:
        raise ListenError(f"listen address {exc}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Listening from here on: uvicorn runs the app's lifespan (which logs "api
    # ready") before it serves the socket, and a client connecting in between
    # must wait in the backlog, not be refused.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_transport(settings: Api, host: str) -> bool:
    """True for TLS; raises for plain HTTP where it is not allowed."""
    tls = settings.tls_certificate is not None
    if not tls and not is_loopback(host) and not settings.allow_plain_http:
        raise ListenError(
            f"plain HTTP on {host} is refused (seed 000: HTTPS only): set [api] tls_certificate and"
            " tls_key, or listen on loopback behind a TLS reverse proxy, or set allow_plain_http"
            " = true when such a proxy reaches this address"
        )
    return tls


def serve(app: Any, settings: Api, sock: socket.socket) -> bool:
    """Run until SIGTERM/SIGINT (uvicorn's handlers: stop accepting, finish requests).

    False when the app never started (its lifespan failed: database, schema).
    """
    trusted = list(settings.trusted_proxies)
    config = uvicorn.Config(
        app,
        http=CoalescingHttpToolsProtocol,  # httptools, one write per answer (coalesce.py)
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,  # bridge.api.middleware logs each request as JSON
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        ssl_certfile=settings.tls_certificate,
        ssl_keyfile=settings.tls_key,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return bool(server.started)
