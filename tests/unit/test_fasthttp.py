"""The fast transport's connection without a socket (provider/fasthttp/connection.py): a
response fed to ``Connection`` in any pieces parses to the same status, headers, body and end,
the head is bounded, bytes after the response are never body, and reading pauses above the high
water mark. Its behaviour over real sockets (pool, timeouts, errors, the request on the wire) is
in tests/integration/test_fasthttp_sockets.py."""

from __future__ import annotations

import asyncio
import gc
import itertools
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FAST_INSTALLED

pytestmark = pytest.mark.skipif(not FAST_INSTALLED, reason="httptools is not installed")

if FAST_INSTALLED:
    from provider.fasthttp import FastTransport
    from provider.fasthttp.connection import HIGH_WATER, MAX_HEAD, Connection
    from provider.fasthttp.pool import Pool

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class FakeSocket(asyncio.Transport):
    """What a Connection asks of its transport, recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closing = False
        self.paused = False

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connect(loop: asyncio.AbstractEventLoop) -> tuple[Connection, FakeSocket]:
    """A connection with a request sent (``send`` completes without waiting: no backpressure)."""
    conn = Connection(loop, ("http", "example.test", 80))
    sock = FakeSocket()
    conn.connection_made(sock)
    sending = conn.send(b"GET / HTTP/1.1\r\nhost: example.test\r\n\r\n", None)
    with pytest.raises(StopIteration):
        sending.send(None)
    assert sock.written.startswith(b"GET / HTTP/1.1\r\n")
    return conn, sock


def feed(conn: Connection, data: bytes, cuts: list[int]) -> bytes:
    """``data`` fed in the pieces between ``cuts``; the body taken after each piece, joined."""
    body = b""
    edges = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(edges):
        if end > start:
            conn.data_received(data[start:end])
            body += conn.take()
    return body


# --- any split of a response parses the same ---------------------------------------------------

TOKEN = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
VALUE = st.from_regex(r"[!-~]([ -~]{0,30}[!-~])?", fullmatch=True)
REASON = st.from_regex(r"[A-Za-z]([A-Za-z ]{0,20}[A-Za-z])?", fullmatch=True)
CHUNK = st.binary(min_size=1, max_size=64)


@st.composite
def responses(draw: st.DrawFn) -> dict[str, Any]:
    framing = draw(st.sampled_from(["chunked", "length", "close"]))
    status = draw(st.sampled_from([200, 201, 400, 404, 429, 500, 529]))
    reason = draw(REASON).encode()
    fields = [(b"x-" + n.encode(), v.encode()) for n, v in draw(st.lists(st.tuples(TOKEN, VALUE)))]
    chunks = draw(st.lists(CHUNK, max_size=30))
    body = b"".join(chunks)
    if framing == "chunked":
        fields.append((b"transfer-encoding", b"chunked"))
        payload = b""
        for chunk in chunks:
            extension = draw(st.sampled_from([b"", b";a=b", b';name="quoted value"', b";x"]))
            payload += b"%x%b\r\n%b\r\n" % (len(chunk), extension, chunk)
        trailers = draw(st.lists(st.tuples(TOKEN, VALUE), max_size=3))
        payload += b"0\r\n"
        payload += b"".join(b"t-%b: %b\r\n" % (n.encode(), v.encode()) for n, v in trailers)
        payload += b"\r\n"
    elif framing == "length":
        fields.append((b"content-length", b"%d" % len(body)))
        payload = body
    else:
        payload = body  # to the close
    head = b"HTTP/1.1 %d %b\r\n" % (status, reason)
    head += b"".join(b"%b: %b\r\n" % field for field in fields) + b"\r\n"
    informational = draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue\r\nx-early: 1\r\n\r\n"]))
    # Bytes after a framed response: a second response, or garbage. Neither is body.
    surplus = b""
    if framing != "close":
        surplus = draw(
            st.sampled_from(
                [b"", b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nextra", b"junk\r\n\r\n"]
            )
        )
    wire = informational + head + payload + surplus
    return {
        "wire": wire,
        "framing": framing,
        "status": status,
        "reason": reason,
        "fields": fields,
        "body": body,
        "surplus": bool(surplus),
    }


@SETTINGS
@given(response=responses(), data=st.data())
def test_any_split_of_a_response_parses_to_the_same_status_headers_body_and_end(
    response: dict[str, Any], data: st.DataObject
) -> None:
    wire = response["wire"]
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=12), label="cuts")
    loop = asyncio.new_event_loop()
    try:
        conn, sock = connect(loop)
        body = feed(conn, wire, cuts)
        if response["framing"] == "close":
            assert not conn.done  # only the close ends it
            conn.eof_received()
        assert conn.failure is None
        assert conn.head_done and conn.done
        assert conn.status == response["status"]
        assert conn.reason == response["reason"]
        assert conn.headers == response["fields"]  # trailers and the 100's fields are not in it
        assert body == response["body"]  # byte-exact: no framing, no surplus
        # Reused only when framed, kept alive and nothing followed the response.
        assert conn.reusable is (response["framing"] != "close" and not response["surplus"])
        assert not sock.paused
    finally:
        loop.close()


# --- bytes after the response ------------------------------------------------------------------


def test_a_second_response_in_the_same_read_is_not_handed_over_as_body(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, sock = connect(loop)
    first = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"
    second = b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    conn.data_received(first + second)
    assert conn.take() == b"hi"
    assert (conn.status, conn.reason, conn.headers) == (200, b"OK", [(b"content-length", b"2")])
    assert conn.done and conn.failure is None
    assert not conn.reusable and sock.closing


def test_bytes_on_an_idle_connection_close_it(loop: asyncio.AbstractEventLoop) -> None:
    conn, sock = connect(loop)
    conn.data_received(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert conn.reusable
    conn.idle()
    conn.data_received(b"HTTP/1.1 200 OK\r\n")  # nobody asked
    assert not conn.reusable and sock.closing


# --- the head is bounded -----------------------------------------------------------------------


def big_head(size: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * size + b"\r\ncontent-length: 2\r\n\r\nhi"


@pytest.mark.parametrize("piece", [1 << 20, 4096], ids=["one-read", "4KiB-reads"])
def test_a_head_over_64_kib_is_refused_however_it_arrives(
    loop: asyncio.AbstractEventLoop, piece: int
) -> None:
    conn, sock = connect(loop)
    wire = big_head(MAX_HEAD + 10)
    feed(conn, wire, list(range(piece, len(wire), piece)))
    assert conn.failure == (httpx.RemoteProtocolError, "the response head exceeds 64 KiB")
    assert not conn.done and sock.closing


@pytest.mark.parametrize("piece", [1 << 20, 4096, 1000], ids=["one-read", "4KiB", "1000B"])
def test_a_head_under_64_kib_is_accepted_however_it_arrives(
    loop: asyncio.AbstractEventLoop, piece: int
) -> None:
    conn, _ = connect(loop)
    wire = big_head(MAX_HEAD - 200)
    body = feed(conn, wire, list(range(piece, len(wire), piece)))
    assert conn.failure is None and conn.done and body == b"hi"
    assert conn.headers[0] == (b"x-big", b"a" * (MAX_HEAD - 200))


def test_an_endless_head_is_refused_before_it_ends(loop: asyncio.AbstractEventLoop) -> None:
    conn, sock = connect(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\nx-endless: ")
    for _ in range(MAX_HEAD // 4096 + 2):
        conn.data_received(b"a" * 4096)
    assert conn.failure == (httpx.RemoteProtocolError, "the response head exceeds 64 KiB")
    assert sock.closing


# --- flow control ------------------------------------------------------------------------------


def test_reading_pauses_above_the_high_water_mark_and_resumes_when_taken(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, sock = connect(loop)
    size = 3 * HIGH_WATER
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
    piece = 64 * 1024
    fed = 0
    while not sock.paused:
        assert fed < HIGH_WATER + piece  # paused soon after the mark, not at the end
        conn.data_received(b"x" * piece)
        fed += piece
    assert conn.take() == b"x" * fed
    assert not sock.paused  # the reader took everything: the socket is read again
    conn.data_received(b"x" * (size - fed))
    assert conn.take() == b"x" * (size - fed) and conn.done


def test_framing_bytes_alone_never_pause_reading(loop: asyncio.AbstractEventLoop) -> None:
    # Trailers past the high water mark after the body was taken: nothing to take, so a pause
    # would never be lifted and the response would hang.
    conn, sock = connect(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n")
    assert conn.take() == b"x"
    trailer = b"x-pad: " + b"p" * 1000 + b"\r\n"
    for _ in range(2 * HIGH_WATER // len(trailer)):
        conn.data_received(trailer)
        assert not sock.paused
    conn.data_received(b"\r\n")
    assert conn.done and conn.take() == b""


# --- what h11 accepts and refuses, as h11 does ---------------------------------------------------


def test_a_head_with_bare_lf_line_ends_is_accepted_as_h11_accepts_it(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, _ = connect(loop)
    conn.data_received(b"HTTP/1.1 200 OK\ncontent-length: 2\nx-a: b\n\nhi")
    assert conn.failure is None
    assert (conn.status, conn.headers) == (200, [(b"content-length", b"2"), (b"x-a", b"b")])
    assert conn.take() == b"hi" and conn.done


@pytest.mark.parametrize("coding", [b"gzip", b"gzip, chunked", b"chunked, gzip", b"identity"])
def test_a_transfer_coding_other_than_chunked_is_refused_as_h11_refuses_it(
    loop: asyncio.AbstractEventLoop, coding: bytes
) -> None:
    # Another coding would reach the caller still encoded (httpx decodes content-encoding
    # only), and "chunked, gzip" would be delimited by the close.
    conn, sock = connect(loop)
    conn.data_received(b"HTTP/1.1 200 OK\r\ntransfer-encoding: %b\r\n\r\n2\r\nhi\r\n" % coding)
    assert conn.failure == (
        httpx.RemoteProtocolError,
        "Only Transfer-Encoding: chunked is supported",
    )
    assert not conn.head_done and sock.closing


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "Server disconnected without sending a response."),
        (b"HTTP/1.1 200 OK\r\ncont", "Server disconnected without sending a response."),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nabc",
            "peer closed connection without sending complete message body",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\nde",
            "peer closed connection without sending complete message body",
        ),
    ],
    ids=["nothing", "cut-head", "cut-length", "cut-chunked"],
)
def test_a_close_before_the_end_is_a_protocol_error(
    loop: asyncio.AbstractEventLoop, wire: bytes, message: str
) -> None:
    conn, _ = connect(loop)
    if wire:
        conn.data_received(wire)
    conn.eof_received()
    assert conn.failure == (httpx.RemoteProtocolError, message)
    assert not conn.done and not conn.reusable


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTPT/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
    ids=["status", "version", "field", "101-upgrade", "101-bare"],
)
def test_a_malformed_or_switching_response_is_a_protocol_error(
    loop: asyncio.AbstractEventLoop, wire: bytes
) -> None:
    conn, sock = connect(loop)
    conn.data_received(wire)
    assert conn.failure is not None and conn.failure[0] is httpx.RemoteProtocolError
    assert not conn.head_done and sock.closing


# --- the transport over a connection that does not wait for the reader ----------------------------


def test_a_head_that_arrived_is_returned_even_when_the_socket_failed_in_the_same_turn() -> None:
    # A proxy that resets after its 502 page: the status is the news, so the response is
    # handed over and the reset comes after the body bytes that did arrive.
    class Racing(Connection):
        async def send(self, data: bytes, write_timeout: float | None) -> None:
            await super().send(data, write_timeout)
            self.data_received(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 100\r\n\r\n<html>")
            self.connection_lost(ConnectionResetError(104, "Connection reset by peer"))

    async def scenario() -> tuple[int, bytes, BaseException | None]:
        transport = FastTransport()
        conn = Racing(asyncio.get_running_loop(), ("http", "example.test", 80))
        conn.connection_made(FakeSocket())

        async def acquire(*args: Any) -> Connection:
            return conn

        async with httpx.AsyncClient(transport=transport) as http:
            transport._pool = pool = Pool(transport._ssl, transport._limits)
            pool.acquire = acquire  # type: ignore[method-assign]
            got = b""
            error: BaseException | None = None
            async with http.stream("GET", "http://example.test/") as response:
                try:
                    async for piece in response.aiter_raw():
                        got += piece
                except httpx.ReadError as exc:
                    error = exc
            return response.status_code, got, error

    status, body, error = asyncio.run(scenario())
    assert (status, body) == (502, b"<html>")
    assert isinstance(error, httpx.ReadError) and "reset" in str(error)


def test_bytes_arriving_in_the_turn_a_read_timeout_fired_end_the_silence(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn, _ = connect(loop)
    conn.timed_out = True  # the timer fired, then, before the reader ran, bytes came
    conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel")
    assert not conn.timed_out and conn.take() == b"hel"


# --- event loops (a real socket: the one test here that needs one) -------------------------------


# The first loop's socket is left to the garbage collector: asyncio.run closed its loop.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_client_used_again_from_a_new_event_loop_opens_a_new_connection() -> None:
    # A second asyncio.run with the same client: the first loop's connection is let go (it can
    # neither carry a request nor be closed from another loop), not reused.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        answers: list[bytes] = []

        def serve() -> None:
            # Both connections stay open until both requests are answered: only the loop, not
            # a close, can keep the first one from being reused.
            listener.settimeout(10)
            kept = []
            for _ in range(2):
                conn, _ = listener.accept()
                kept.append(conn)
                received = b""
                while not received.endswith(b"\r\n\r\n"):
                    received += conn.recv(65536)
                answers.append(received)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi")
            for conn in kept:
                conn.close()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        http = httpx.AsyncClient(transport=FastTransport())

        async def one() -> bytes:
            response = await http.get(f"http://127.0.0.1:{port}/")
            return response.content

        assert asyncio.run(one()) == b"hi"
        assert asyncio.run(one()) == b"hi"  # on the first loop's connection, this would fail
        asyncio.run(http.aclose())
        server.join(timeout=10)
        assert len(answers) == 2 and not server.is_alive()
    gc.collect()  # the abandoned sockets' warnings belong to this test, not to a later one
