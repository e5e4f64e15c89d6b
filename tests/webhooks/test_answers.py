"""The common answer read without h11 (bridge/webhooks/answers.py): the same reading as h11's.

For any bytes: when ``simple_answer`` takes an answer, h11 (as the client that sent
one POST) reads the same status, ends the answer at the same byte and keeps the
connection; when it asks for more, h11 has not finished an answer either (nor
failed). Everything else is h11's to read, so it needs no agreement.
"""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.webhooks.answers import MORE, OTHER, simple_answer

_POST = h11.Request(method="POST", target="/hook", headers=[(b"Host", b"x"), (b"Content-Length", b"0")])


def _h11(data: bytes) -> tuple[str, int | None, int]:
    """What h11 makes of ``data`` as the answer to one POST: ("done", status, bytes
    used) with the connection kept, ("more", None, 0), or ("other", None, 0)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(_POST)
    conn.send(h11.EndOfMessage())
    if data:  # (empty bytes tell h11 of the end of the stream)
        conn.receive_data(data)
    status = None
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return "more", None, 0
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                break
            elif not isinstance(event, h11.Data | h11.InformationalResponse):
                return "other", None, 0
    except h11.ProtocolError:
        return "other", None, 0
    if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
        return "other", None, 0
    rest, _closed = conn.trailing_data
    return "done", status, len(data) - len(rest)


def _check(data: bytes, max_body: int = 4096) -> tuple[int, int]:
    found = simple_answer(data, max_body)
    kind, status, used = _h11(data)
    if found is MORE:
        assert kind == "more", (data, kind)
    elif found is not OTHER:
        assert (kind, status, used) == ("done", found[0], found[1]), data
    return found


_NAMES = st.sampled_from(
    [b"Content-Length", b"content-length", b"Content-Type", b"Connection", b"Transfer-Encoding",
     b"X-Thing", b"Server", b"Bad Name", b""]
)  # fmt: skip
_VALUES = st.sampled_from(
    [b"0", b"2", b"5", b" 2 ", b"2, 2", b"text/plain", b"keep-alive", b"close", b"Keep-Alive, Close",
     b"chunked", b"", b"a\tb", b"x\x00y", b"-1", b"99999"]
)  # fmt: skip
_LINE_END = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])


@st.composite
def _answers(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x"]))
    status = draw(st.sampled_from([b"200", b"201", b"204", b"304", b"100", b"404", b"500", b"2000", b"20"]))
    reason = draw(st.sampled_from([b" OK", b"", b" ", b" Not\tFound", b" \x80", b"\x00"]))
    end = draw(_LINE_END)
    head = version + b" " + status + reason + end
    for _ in range(draw(st.integers(0, 4))):
        sep = draw(st.sampled_from([b": ", b":", b" : ", b":\t"]))
        head += draw(_NAMES) + sep + draw(_VALUES) + draw(_LINE_END)
    head += draw(_LINE_END)
    data = head + draw(st.binary(max_size=12)) + draw(st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n"]))
    cut = draw(st.integers(0, len(data)))
    return data[:cut] if draw(st.booleans()) else data


@settings(max_examples=3000, deadline=None)
@given(_answers())
def test_simple_answers_read_as_h11_reads_them(data: bytes) -> None:
    _check(data)


@st.composite
def _likely_answers(draw: st.DrawFn) -> bytes:
    """Mostly well-formed: a status, a few ordinary headers, Content-Length near the body's."""
    status = draw(st.integers(100, 599))
    body = draw(st.binary(max_size=8))
    length = len(body) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    fields = [(b"Content-Length", str(length).encode())] if draw(st.integers(0, 5)) else []
    fields += draw(st.lists(st.tuples(st.sampled_from([b"Server", b"Date", b"Connection", b"X-Id"]),
                                      st.sampled_from([b"x", b"keep-alive", b"close", b"a b"])), max_size=3))
    order = draw(st.permutations(fields))
    head = b"HTTP/1.1 %d %s\r\n" % (status, draw(st.sampled_from([b"OK", b"", b"Whatever It Is"])))
    head += b"".join(name + b": " + value + b"\r\n" for name, value in order) + b"\r\n"
    data = head + body + draw(st.sampled_from([b"", b"HTTP/1.1 2"]))
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


@settings(max_examples=2000, deadline=None)
@given(_likely_answers())
def test_likely_answers_read_as_h11_reads_them(data: bytes) -> None:
    _check(data)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_read_as_h11_reads_them(data: bytes) -> None:
    _check(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok", (200, 66)),
        (b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200", (204, 27)),
        (b"HTTP/1.1 503\r\ncontent-length:0\r\n\r\n", (503, 34)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", MORE),
        (b"HTTP/1.1 200 OK\r\nContent-Le", MORE),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", OTHER),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", OTHER),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", OTHER),
        (b"HTTP/1.1 100 Continue\r\n\r\n", OTHER),
        (b"HTTP/1.1 200 OK\r\n\r\n", OTHER),  # no length: the body runs to the close
        (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", OTHER),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", OTHER),  # past the cap
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 3000, OTHER),  # an unfinished head too long
    ],
)
def test_shapes(data: bytes, expected: tuple[int, int]) -> None:
    assert _check(data) == expected
