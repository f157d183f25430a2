"""The fast transport's own promises over loopback sockets (provider/fasthttp): bodies handed
over per socket read, cut bodies, informational and bodiless responses, reuse and the pool's
limits, timeouts, the request on the wire exactly as httpx built it, flow control, cancellation,
and errors that carry nothing of the request. The servers write bytes each test chooses.
Parsing without a socket is in tests/unit/test_fasthttp.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import anyio
import httpx
import pytest

from provider.transport import TRANSPORT_VARIABLE, make_async_client
from tests.conftest import FAST_INSTALLED

pytestmark = [
    pytest.mark.skipif(not FAST_INSTALLED, reason="httptools is not installed"),
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
    pytest.mark.anyio,
]

if FAST_INSTALLED:
    from provider.fasthttp import FastTransport
    from provider.fasthttp.connection import Connection

SECRET = "sk-ant-fasthttp-secret-0123456789abcdef"
TIMEOUT = httpx.Timeout(5.0)
SHORT_READ = httpx.Timeout(5.0, read=0.2)


# --- the server --------------------------------------------------------------------------------


@dataclass
class Stall:
    """Write these bytes, then answer nothing more (but notice the client's close)."""

    data: bytes = b""


@dataclass
class Close:
    """Write these bytes, then close the connection."""

    data: bytes = b""


@dataclass
class Reset:
    """Write these bytes, then reset the connection (RST, not FIN)."""

    data: bytes = b""


Answer = bytes | Stall | Close | Reset


@dataclass
class Peer:
    """One accepted connection, as the server saw it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[bytes] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_request(self) -> bytes | None:
        """The next request (head, and a body framed by content-length or chunked), or None
        when the client closed first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.client_closed.set()
            return None
        fields = dict(
            line.split(b": ", 1) for line in head.lower().split(b"\r\n")[1:] if b": " in line
        )
        body = b""
        if b"content-length" in fields:
            body = await self.reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding") == b"chunked":
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                body += size_line
                size = int(size_line.split(b";")[0], 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        self.requests.append(head + body)
        return head + body

    async def until_closed(self) -> None:
        while await self.reader.read(65536):
            pass
        self.client_closed.set()


class Server:
    """Answers each request, whatever its connection, with the next of ``answers``."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.peers: list[Peer] = []
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(reader, writer)
        self.peers.append(peer)
        # Cancelled at the end of the test: the task ends quietly (asyncio's stream callback
        # logs a cancelled handler as an error).
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while self.answers:
                if await peer.read_request() is None:
                    return
                answer = self.answers.pop(0)
                data = answer if isinstance(answer, bytes) else answer.data
                writer.write(data)
                await writer.drain()
                if isinstance(answer, Close):
                    writer.close()
                    return
                if isinstance(answer, Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if isinstance(answer, Stall):
                    break
            await peer.until_closed()

    async def stop(self) -> None:
        for peer in self.peers:
            peer.writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def serving(*answers: Answer) -> AsyncIterator[Server]:
    server = Server(list(answers))
    listener = await asyncio.start_server(server.accept, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await server.stop()
        await listener.wait_closed()


def client(limits: httpx.Limits | None = None) -> httpx.AsyncClient:
    """A client on FastTransport sending the API key, which no error may carry."""
    return httpx.AsyncClient(
        transport=FastTransport(limits=limits), timeout=TIMEOUT, headers={"x-api-key": SECRET}
    )


def clean(exc: BaseException) -> None:
    """An error made by the transport: nothing chained, nothing of the request in it."""
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert SECRET not in str(exc) and SECRET not in repr(exc.args)


@contextlib.contextmanager
def raises(kind: type[httpx.HTTPError], match: str | None = None) -> Iterator[None]:
    with pytest.raises(kind, match=match) as caught:
        yield
    assert type(caught.value) is kind
    clean(caught.value)


SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n"


def ok(body: bytes, *fields: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n" % len(body)
    return head + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


def chunked(*chunks: bytes, end: bool = True) -> bytes:
    wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    wire += b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks)
    return wire + (b"0\r\n\r\n" if end else b"")


def connections(http: httpx.AsyncClient) -> set[Connection]:
    transport = http._transport
    assert isinstance(transport, FastTransport) and transport._pool is not None
    return transport._pool._all


async def until(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds (a guard, not a measure: the bound only stops a hang)."""
    with anyio.fail_after(10):
        while not condition():
            await asyncio.sleep(0.01)


# --- bodies ------------------------------------------------------------------------------------


async def test_chunks_arriving_in_one_read_are_handed_over_as_one_piece() -> None:
    events = [b'event: delta\ndata: {"i": %d}\n\n' % i for i in range(100)]
    async with (
        serving(chunked(*events)) as server,
        client() as http,
        http.stream("GET", server.url) as response,
    ):
        # Every chunk has arrived before the first read: one piece, whatever the socket did.
        await until(lambda: all(conn.done for conn in connections(http)))
        pieces = [piece async for piece in response.aiter_raw()]
    assert pieces == [b"".join(events)]  # per read, not per HTTP chunk


async def test_a_chunked_body_cut_mid_chunk_yields_what_arrived_then_fails() -> None:
    cut = chunked(b"hello", end=False) + b"a\r\nwor"
    async with serving(Close(cut)) as server, client() as http:
        got = b""
        async with http.stream("GET", server.url) as response:
            with raises(httpx.RemoteProtocolError, "without sending complete message body"):
                async for piece in response.aiter_raw():
                    got += piece
    assert got == b"hellowor"


async def test_a_content_length_body_cut_short_yields_what_arrived_then_fails() -> None:
    async with serving(Close(ok(b"0123456789")[:-4])) as server, client() as http:
        got = b""
        async with http.stream("GET", server.url) as response:
            with raises(httpx.RemoteProtocolError, "without sending complete message body"):
                async for piece in response.aiter_raw():
                    got += piece
    assert got == b"012345"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Close(), "^Server disconnected without sending a response.$"),
        (Close(b"HTTP/1.1 2x0 OK\r\n\r\n"), "malformed"),
        (Close(b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n"), "64 KiB"),
        (Stall(b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n"), "64 KiB"),
        (Stall(SWITCH), "switched protocols"),
    ],
    ids=["no-response", "bad-status", "big-head-then-close", "big-head", "101"],
)
async def test_a_response_without_a_usable_head_is_a_protocol_error(
    answer: Answer, message: str
) -> None:
    async with serving(answer, ok(b"next")) as server, client() as http:
        with raises(httpx.RemoteProtocolError, message):
            await http.get(server.url)
        assert (await http.get(server.url)).content == b"next"  # on a new connection
        assert len(server.peers) == 2


async def test_a_close_delimited_body_ends_at_the_close_and_the_connection_is_not_reused() -> None:
    async with serving(Close(b"HTTP/1.1 200 OK\r\n\r\nto the end"), ok(b"2")) as server:
        async with client() as http:
            assert (await http.get(server.url)).content == b"to the end"
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2


# --- informational and bodiless responses -----------------------------------------------------


async def test_a_100_continue_before_the_response_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"done", b"x-final: yes")
    async with serving(answer) as server, client() as http:
        response = await http.post(server.url, content=b"body")
    assert (response.status_code, response.content) == (200, b"done")
    assert response.headers["x-final"] == "yes"


async def test_a_head_response_has_no_body_whatever_its_content_length() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
    async with serving(head, ok(b"2")) as server, client() as http:
        response = await http.head(server.url)
        assert (response.status_code, response.content) == (200, b"")
        assert response.headers["content-length"] == "10"
        assert (await http.get(server.url)).content == b"2"


async def test_a_204_has_no_body_and_its_connection_is_reused() -> None:
    async with serving(b"HTTP/1.1 204 No Content\r\n\r\n", ok(b"2")) as server:
        async with client() as http:
            response = await http.delete(server.url)
            assert (response.status_code, response.content) == (204, b"")
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 1


# --- reuse -------------------------------------------------------------------------------------


async def test_sequential_requests_share_one_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRANSPORT_VARIABLE)  # the provider's own client, on the fast transport
    async with serving(ok(b"1"), chunked(b"2"), ok(b"3")) as server:
        async with make_async_client(TIMEOUT, None, httpx.Limits()) as http:
            assert type(http).__name__ == "_FastClient"
            bodies = [(await http.get(server.url)).content for _ in range(3)]
        assert bodies == [b"1", b"2", b"3"]
        assert len(server.peers) == 1


@pytest.mark.parametrize(
    "first",
    [
        ok(b"1", b"connection: close"),
        ok(b"1") + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nextra",  # surplus
        ok(b"1") + b"garbage",  # surplus
        b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n1",
    ],
    ids=["connection-close", "second-response", "garbage", "http-1.0"],
)
async def test_a_connection_that_cannot_carry_another_request_is_not_reused(first: bytes) -> None:
    async with serving(first, ok(b"2")) as server:
        async with client() as http:
            assert (await http.get(server.url)).content == b"1"
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2
        await until(server.peers[0].client_closed.is_set)


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async with serving(Close(ok(b"1")), ok(b"2")) as server, client() as http:
        assert (await http.get(server.url)).content == b"1"
        await until(lambda: all(conn.closed for conn in connections(http)))
        assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2


async def test_a_response_not_read_to_its_end_closes_its_connection() -> None:
    async with serving(Stall(ok(b"0123456789")[:-5]), ok(b"2")) as server:
        async with client() as http:
            async with http.stream("GET", server.url) as response:
                assert response.status_code == 200
            await until(server.peers[0].client_closed.is_set)
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2


async def test_an_idle_connection_past_keepalive_expiry_is_not_reused() -> None:
    limits = httpx.Limits(keepalive_expiry=0.05)
    async with serving(ok(b"1"), ok(b"2")) as server:
        async with client(limits) as http:
            await http.get(server.url)
            await asyncio.sleep(0.2)
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2
        assert server.peers[0].client_closed.is_set()


# --- the pool's limits -------------------------------------------------------------------------


async def test_the_connection_limit_makes_a_request_wait_then_time_out_on_the_pool() -> None:
    limits = httpx.Limits(max_connections=1)
    async with serving(Stall(ok(b"0123456789")[:-5]), ok(b"2")) as server, client(limits) as http:
        async with http.stream("GET", server.url):
            with raises(httpx.PoolTimeout):
                await http.get(server.url, timeout=httpx.Timeout(5.0, pool=0.1))
        assert len(server.peers) == 1


async def test_a_waiting_request_proceeds_when_the_connection_comes_free() -> None:
    limits = httpx.Limits(max_connections=1)
    async with serving(ok(b"1"), ok(b"2")) as server, client(limits) as http:
        async with http.stream("GET", server.url) as first:
            second = asyncio.ensure_future(http.get(server.url))
            await asyncio.sleep(0.1)
            assert not second.done()  # waiting for the only connection
            assert await first.aread() == b"1"
        assert (await second).content == b"2"
        assert len(server.peers) == 1  # the freed connection carried the second request


async def test_at_the_limit_an_idle_connection_to_another_origin_is_closed_for_a_new_one() -> None:
    limits = httpx.Limits(max_connections=1)
    async with serving(ok(b"a")) as a, serving(ok(b"b")) as b, client(limits) as http:
        assert (await http.get(a.url)).content == b"a"
        timeout = httpx.Timeout(5.0, pool=1.0)
        assert (await http.get(b.url, timeout=timeout)).content == b"b"
        await until(a.peers[0].client_closed.is_set)


async def test_a_request_cancelled_waiting_for_the_pool_leaves_no_claim_on_it() -> None:
    limits = httpx.Limits(max_connections=1)
    async with serving(ok(b"1"), ok(b"3")) as server, client(limits) as http:
        async with http.stream("GET", server.url) as first:
            second = asyncio.ensure_future(http.get(server.url))
            await asyncio.sleep(0.05)
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            await first.aread()
        third = await http.get(server.url, timeout=httpx.Timeout(5.0, pool=1.0))
        assert third.content == b"3"
        assert len(server.peers) == 1


async def test_no_keepalive_connections_means_none_is_kept() -> None:
    limits = httpx.Limits(max_keepalive_connections=0)
    async with serving(ok(b"1"), ok(b"2")) as server:
        async with client(limits) as http:
            await http.get(server.url)
            await until(server.peers[0].client_closed.is_set)
            assert (await http.get(server.url)).content == b"2"
        assert len(server.peers) == 2


# --- timeouts ----------------------------------------------------------------------------------


async def test_a_server_that_sends_nothing_is_a_read_timeout() -> None:
    async with serving(Stall()) as server, client() as http:
        with raises(httpx.ReadTimeout):
            await http.get(server.url, timeout=SHORT_READ)


async def test_a_body_that_stalls_is_a_read_timeout_while_iterating() -> None:
    async with serving(Stall(ok(b"0123456789")[:-5])) as server, client() as http:
        got = b""
        async with http.stream("GET", server.url, timeout=SHORT_READ) as response:
            with raises(httpx.ReadTimeout):
                async for piece in response.aiter_raw():
                    got += piece
        assert got == b"01234"


async def test_a_shorter_read_timeout_after_a_longer_one_on_the_same_connection_fires() -> None:
    async with serving(ok(b"1"), Stall(ok(b"0123")[:-2])) as server, client() as http:
        await http.get(server.url, timeout=httpx.Timeout(5.0, read=60.0))
        with anyio.fail_after(10):  # the first request's 60 s must not be the one that fires
            async with http.stream("GET", server.url, timeout=SHORT_READ) as response:
                with raises(httpx.ReadTimeout):
                    await response.aread()
        assert len(server.peers) == 1


# --- connecting and refusing -------------------------------------------------------------------


async def test_a_connection_reset_mid_body_is_a_read_error() -> None:
    async with serving(Reset(ok(b"0123456789")[:-5])) as server, client() as http:
        got = b""
        async with http.stream("GET", server.url) as response:
            with raises(httpx.ReadError, "ConnectionResetError"):
                async for piece in response.aiter_raw():
                    got += piece
        assert got in (b"", b"01234")  # the reset may discard what the kernel had not handed over


async def test_a_port_with_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client() as http:
        with raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_an_unsupported_scheme_is_refused() -> None:
    async with client() as http:
        with raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/file")
    async with FastTransport() as transport:
        with raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ws://127.0.0.1/"))


@pytest.mark.parametrize(
    "headers",
    [
        {"x-note": "a\r\nx-injected: 1"},
        {"x-note": "a\nb"},
        {"x-note": "a\x00"},
        {"x bad": "a"},
        {"x-note:": "a"},
    ],
    ids=["crlf", "lf", "nul", "space-in-name", "colon-in-name"],
)
async def test_a_field_that_would_split_the_head_is_refused_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    async with serving(ok(b"1")) as server, client() as http:
        with raises(httpx.LocalProtocolError):
            await http.get(server.url, headers=headers)
        await asyncio.sleep(0.05)
        assert server.peers == []  # not even a connection
        assert (await http.get(server.url)).content == b"1"
        assert server.peers[0].requests[0].count(b"\r\n\r\n") == 1


# --- the request on the wire -------------------------------------------------------------------


async def test_the_request_on_the_wire_is_exactly_the_one_httpx_built() -> None:
    async with serving(ok(b"1")) as server, client() as http:
        request = http.build_request(
            "POST",
            server.url + "/v1/messages",
            params={"beta": "true", "q": "a b"},
            headers={"z-last": "1", "anthropic-version": "2023-06-01", "a-first": "2"},
            content=b'{"model": "x"}',
        )
        await http.send(request)
    head = b"POST /v1/messages?beta=true&q=a+b HTTP/1.1\r\n"
    head += b"".join(b"%b: %b\r\n" % pair for pair in request.headers.raw) + b"\r\n"
    assert server.peers[0].requests == [head + b'{"model": "x"}']
    names = [name for name, _ in request.headers.raw]
    assert [n for n in names if n in (b"z-last", b"anthropic-version", b"a-first")] == [
        b"z-last",
        b"anthropic-version",
        b"a-first",
    ]


async def test_a_streamed_request_body_is_sent_chunk_encoded() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"first,"
        yield b"second"

    async with serving(ok(b"1")) as server, client() as http:
        response = await http.post(server.url, content=parts())
        assert response.content == b"1"
    head, body = server.peers[0].requests[0].split(b"\r\n\r\n", 1)
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert b"content-length" not in head.lower()
    assert body == b"c\r\nfirst,second\r\n0\r\n\r\n"


# --- flow control and cancellation -------------------------------------------------------------


async def test_a_body_not_being_read_stays_bounded_and_then_arrives_whole() -> None:
    body = bytes(range(256)) * (8 * 4096)  # 8 MiB
    async with (
        serving(ok(body)) as server,
        client() as http,
        http.stream("GET", server.url) as response,
    ):
        (conn,) = connections(http)
        await until(lambda: conn._paused)
        await asyncio.sleep(0.1)  # more reads would land here if it were not
        assert conn._paused
        assert sum(map(len, conn.parts)) <= 1024 * 1024
        assert await response.aread() == body


@pytest.mark.parametrize("sent", [b"", ok(b"0123456789")[:-5]], ids=["head", "body"])
async def test_a_task_cancelled_waiting_for_the_response_closes_the_connection_and_frees_its_slot(
    sent: bytes,
) -> None:
    limits = httpx.Limits(max_connections=1)
    arrived = asyncio.Event()

    async def read_forever(http: httpx.AsyncClient, url: str) -> None:
        async with http.stream("GET", url) as response:
            async for _ in response.aiter_raw():
                arrived.set()

    async with serving(Stall(sent), ok(b"2")) as server, client(limits) as http:
        task = asyncio.ensure_future(read_forever(http, server.url))
        if sent:
            await until(arrived.is_set)
        else:
            await until(lambda: bool(server.peers and server.peers[0].requests))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(server.peers[0].client_closed.is_set)
        response = await http.get(server.url, timeout=httpx.Timeout(5.0, pool=1.0))
        assert response.content == b"2"


# --- errors carry nothing of the request -------------------------------------------------------

ECHO = SECRET.encode()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nx-echo: " + ECHO + b"\x01\r\n\r\n",
        b"HTTP/" + ECHO + b" 200 OK\r\n\r\n",
        b"HTTP/1.1 " + ECHO + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx-api-key " + ECHO + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx-echo: " + ECHO + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + ECHO + b"\r\n",
    ],
    ids=["field-value", "version", "status", "field-name", "big-head", "chunk-size"],
)
async def test_an_echoed_key_in_a_malformed_response_is_not_in_the_error(answer: bytes) -> None:
    async with serving(Close(answer)) as server, client() as http:
        with raises(httpx.RemoteProtocolError):
            async with http.stream("GET", server.url) as response:
                await response.aread()
