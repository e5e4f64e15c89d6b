"""The webhook HTTP client: h11 over trio streams, keep-alive per origin.

Chosen by measurement (bench/bench_http_clients.py, docs/webhooks.md): httpx
costs 1.5-3 ms of CPU per request, h11 driven over trio streams under 0.1 ms.
The request is a fixed shape this module writes itself (request line, Host,
Content-Length, the policy's headers, the body), which halves h11's cost per request.
An answer of the common shape (HTTP/1.1, a final status, Content-Length, kept alive) is
read by bridge/webhooks/answers.py, which reads it as h11 would at a fraction of the
CPU; at the first answer of any other shape h11 reads the connection from there on. h11
is told of an equivalent request, built and validated once per target, so its state
machine parses the answer exactly as if it had written the request. The tests'
receivers parse our requests with h11 as a server.

What a request may and may not do:

- the destination is checked on the resolved address (bridge/webhooks/guard.py)
  and the socket connects to exactly that address; TLS then verifies the
  certificate for the URL's host name (SNI and hostname check), so the check
  and the connection cannot disagree (no DNS rebinding);
- one deadline covers connect, TLS, the requests and their whole answers (the
  policy's timeout: a 2xx after 10 s is a failure);
- redirects are answers like any other (a 3xx is not a 2xx): never followed;
- the answer's body is read up to a small cap and thrown away; past the cap
  the connection is closed instead of read on;
- a kept-alive connection the server closed while idle fails before any byte
  of an answer: then the requests go once more on a new connection (the
  server cannot have acted on them);
- to a healthy endpoint several requests go in one write on one connection
  and the answers are read in order (pipelining, ``post_many``; the rules are
  in docs/webhooks.md "Pipelining");
- bodies and headers are never logged (they carry the signature; errors
  name the origin only).
"""

from __future__ import annotations

import re
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import trio

from bridge.webhooks.answers import MORE, OTHER, simple_answer
from bridge.webhooks.guard import AddressGuard, Refused

__all__ = ["Answer", "HttpClient", "Origin", "UrlError", "check_header_value", "parse_url"]

_READ = 16384
_END = h11.EndOfMessage()
# A request target or header value may hold visible ASCII only (RFC 9112 section 3.2,
# RFC 9110 section 5.5): no space, no CR or LF that could start another header.
_VISIBLE = re.compile(rb"[\x21-\x7e]*")
_VALUE = re.compile(rb"[\x20-\x7e]*")


class UrlError(ValueError):
    pass


def check_header_value(value: str) -> None:
    """A value we write into a request (user agent ...): printable ASCII, no CR or LF."""
    if not value.isascii() or not _VALUE.fullmatch(value.encode("ascii")):
        raise ValueError(f"not a valid HTTP header value: {value!r}")


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header()}"

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> tuple[Origin, str]:
    """(origin, request target) of a webhook URL; user:password@ is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlError("a webhook URL starts with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise UrlError("a webhook URL may not carry a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlError("a webhook URL needs a host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.isascii() or not _VISIBLE.fullmatch(target.encode("ascii")):
        raise UrlError("a webhook URL's path and query must be visible ASCII (percent-encode the rest)")
    try:
        host.encode("idna")
    except UnicodeError:
        raise UrlError(f"not a valid host name: {host!r}") from None
    return Origin(scheme, host, port or (443 if scheme == "https" else 80)), target


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one request: a status, or an error (network, timeout, refused)."""

    status: int | None = None
    error: str | None = None
    refused: bool = False  # the guard said no: nothing was sent


class _Conn:
    __slots__ = ("buffer", "http", "idle_since", "simple", "stream")

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.http = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0
        # Answers of the common shape are read here (bridge/webhooks/answers.py) until
        # one is not; from then on h11 reads the connection, from the same bytes.
        self.simple = True
        self.buffer = bytearray()


class _Stale(Exception):
    """A reused connection failed before any byte of an answer."""


class HttpClient:
    """Connections of one sender, kept alive per origin (at most ``max_idle`` idle each)."""

    def __init__(
        self, guard: AddressGuard, *, ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 16, idle_timeout: float = 20.0,
    ) -> None:  # fmt: skip
        self.guard = guard
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._idle: dict[Origin, deque[_Conn]] = {}
        self._heads: dict[tuple[Origin, str], tuple[bytes, h11.Request]] = {}

    async def post(
        self, origin: Origin, target: str, headers: bytes, body: bytes,
        *, timeout: float, max_body: int = 4096,  # noqa: ASYNC109 (the policy's whole-request deadline)
    ) -> Answer:  # fmt: skip
        """One request; ``headers`` are header lines, each ending in CRLF (DeliveryPolicy.request)."""
        return (await self.post_many(origin, [(target, headers, body)], timeout=timeout, max_body=max_body))[0]

    async def post_many(
        self, origin: Origin, requests: Sequence[tuple[str, bytes, bytes]],
        *, timeout: float, max_body: int = 4096, pipeline: bool = True,  # noqa: ASYNC109 (as in post)
    ) -> list[Answer]:  # fmt: skip
        """(target, header lines, body) requests to one origin: one answer each, in order.

        With ``pipeline`` they go on one kept-alive connection in one write and the
        answers are read in order (RFC 9112 section 9.3.2); without, one at a time.
        A connection that is new carries one request first, so that pipelining
        only starts once the server has shown it keeps connections alive.
        Pipelining POSTs is safe here because the sender can recover from a
        partial failure (RFC 9112 section 9.3.2): a request left without an answer
        is a failed attempt, retried with the same delivery id. The deadline
        covers all of them: a request without an answer by then has timed out.
        """
        answers: list[Answer] = []
        try:
            with trio.move_on_after(timeout):
                self.guard.check_scheme(origin.scheme)
                fresh_only = False  # after a stale kept-alive connection, a new one
                while len(answers) < len(requests):
                    conn = None if fresh_only else self._take_idle(origin)
                    reused = conn is not None
                    if conn is None:
                        conn = await self._connect(origin)
                    left = requests[len(answers):]
                    batch = left if reused and pipeline else left[:1]
                    try:
                        await self._exchange(origin, conn, batch, max_body, answers, reused=reused)
                    except _Stale:
                        fresh_only = True
                        continue
                    fresh_only = False
        except Refused as exc:
            answers += [Answer(error=str(exc), refused=True)] * (len(requests) - len(answers))
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError,
                ssl.SSLError, _Stale) as exc:  # fmt: skip
            answers += [Answer(error=f"{type(exc).__name__}: {_brief(exc)}")] * (len(requests) - len(answers))
        answers += [Answer(error=f"no answer within {timeout:g}s")] * (len(requests) - len(answers))
        return answers

    def _take_idle(self, origin: Origin) -> _Conn | None:
        idle = self._idle.get(origin)
        now = trio.current_time()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since < self.idle_timeout:
                return conn
            _close_soon(conn)
        return None

    def _put_idle(self, origin: Origin, conn: _Conn) -> None:
        idle = self._idle.setdefault(origin, deque())
        if len(idle) >= self.max_idle:
            _close_soon(conn)
            return
        conn.idle_since = trio.current_time()
        idle.append(conn)

    async def _connect(self, origin: Origin) -> _Conn:
        addresses = await self.guard.resolve(origin.host, origin.port)
        error: OSError | None = None
        for address in addresses:
            family = trio.socket.AF_INET6 if address.version == 6 else trio.socket.AF_INET
            sock = trio.socket.socket(family, trio.socket.SOCK_STREAM)
            try:
                await sock.connect((str(address), origin.port))
            except OSError as exc:
                sock.close()
                error = exc
                continue
            stream: trio.abc.Stream = trio.SocketStream(sock)
            if origin.scheme == "https":
                tls = trio.SSLStream(stream, self.ssl_context, server_hostname=origin.host, https_compatible=True)
                try:
                    await tls.do_handshake()
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
                stream = tls
            return _Conn(stream)
        assert error is not None
        raise error

    async def _exchange(
        self, origin: Origin, conn: _Conn, batch: Sequence[tuple[str, bytes, bytes]], max_body: int,
        answers: list[Answer], *, reused: bool,
    ) -> None:  # fmt: skip
        """Write ``batch`` in one go, append the answers to ``answers`` as they come.

        Returns early (fewer answers) when the server closes the connection after
        an answer that said so (``Connection: close``, HTTP/1.0): by RFC 9112 section
        9.6 it has not acted on the requests after that one, which go again on
        another connection.
        """
        http = conn.http
        parts: list[bytes] = []
        for target, headers, body in batch:
            head, _marker = self._request_head(origin, target)
            parts += (head, b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n", headers, b"\r\n", body)
        answered = False
        try:
            try:
                await conn.stream.send_all(b"".join(parts))
            except (OSError, trio.BrokenResourceError) as exc:
                if reused:
                    raise _Stale() from exc
                raise
            for target, _headers, _body in batch:
                if conn.simple:
                    found, ended = simple_answer(conn.buffer, max_body), False
                    while found is MORE:
                        chunk = await _receive(conn, stale=reused and not answered)
                        answered, ended = answered or bool(chunk), not chunk
                        if ended:
                            found = OTHER
                        else:
                            conn.buffer += chunk
                            found = simple_answer(conn.buffer, max_body)
                    if found is not OTHER:
                        del conn.buffer[: found[1]]
                        answers.append(Answer(status=found[0]))
                        continue
                    conn.simple = False  # h11 from here on, from the bytes not yet read
                    if conn.buffer:  # (empty bytes would tell h11 of the end of the stream)
                        http.receive_data(bytes(conn.buffer))
                        conn.buffer.clear()
                    if ended:
                        http.receive_data(b"")
                # Our bytes went out; h11 is told of a request of the same method, target
                # and host (prebuilt once, so validated once) to parse the answer to it.
                http.send(self._request_head(origin, target)[1])
                http.send(_END)
                status: int | None = None
                size = 0
                while True:
                    event = http.next_event()
                    if event is h11.NEED_DATA:
                        chunk = await _receive(conn, stale=reused and not answered)
                        answered = answered or bool(chunk)
                        http.receive_data(bytes(chunk))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, h11.Data):
                        size += len(event.data)
                        if size > max_body:
                            # Not read on: the connection goes, and with it the answers
                            # still owed on it (those requests are failed attempts).
                            answers.append(Answer(status=status))
                            raise trio.BrokenResourceError("an earlier answer on the connection was too long")
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        raise trio.BrokenResourceError("connection closed before the answer ended")
                    # h11.InformationalResponse (1xx): the final answer follows.
                answers.append(Answer(status=status))
                if http.our_state is not h11.DONE or http.their_state is not h11.DONE:
                    await trio.aclose_forcefully(conn.stream)  # the server closes it: the rest go again
                    return
                http.start_next_cycle()
        except BaseException:
            await trio.aclose_forcefully(conn.stream)
            raise
        self._put_idle(origin, conn)

    def _request_head(self, origin: Origin, target: str) -> tuple[bytes, h11.Request]:
        """The request line and Host header (written by us: HTTP/1.1, RFC 9112 section 3),
        and the h11 event that stands for the request (validated by h11 once)."""
        key = (origin, target)
        cached = self._heads.get(key)
        if cached is None:
            host = origin.host_header().encode("idna")
            head = b"POST " + target.encode("ascii") + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
            marker = h11.Request(method="POST", target=target, headers=[(b"Host", host), (b"Content-Length", b"0")])
            if len(self._heads) >= 10_000:
                self._heads.clear()
            cached = self._heads[key] = (head, marker)
        return cached

    def drop_origin(self, origin: Origin) -> None:
        """Close the idle connections of an origin (after its endpoint failed)."""
        for conn in self._idle.pop(origin, ()):
            _close_soon(conn)

    async def aclose(self) -> None:
        # Synchronously, all of them: this runs while the sender is being cancelled,
        # and an await per connection would stop at the first.
        for idle in self._idle.values():
            for conn in idle:
                _close_soon(conn)
        self._idle.clear()
        await trio.lowlevel.checkpoint_if_cancelled()


async def _receive(conn: _Conn, *, stale: bool) -> bytes | bytearray:
    """The next bytes of the answers; ``stale``: nothing of them came yet on a reused
    connection, so a failure or an end here is a stale connection (``_Stale``)."""
    try:
        chunk = await conn.stream.receive_some(_READ)
    except (OSError, trio.BrokenResourceError) as exc:
        if stale:
            raise _Stale() from exc
        raise
    if not chunk and stale:
        raise _Stale()
    return chunk


def _close_soon(conn: _Conn) -> None:
    """Close without waiting: a TLS close_notify could block on a dead peer."""
    stream = conn.stream
    raw = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if isinstance(raw, trio.SocketStream):
        raw.socket.close()


def _brief(exc: BaseException) -> str:
    # trio wraps a TLS failure (a certificate for another name ...) in BrokenResourceError.
    cause = exc.__cause__
    text = str(exc) or type(exc).__name__
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text[:300]
