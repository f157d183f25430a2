"""The replay server over real loopback sockets: raw h11 and httpx clients, the official SDK,
the project's client, keep-alive, held streams, disconnects and shutdown, under asyncio and trio.

Every server is started and stopped by its test, on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import h11
import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider.errors import ProviderError
from provider.serve import (
    FIXTURE_HEADER,
    ReplayServer,
    plan_pieces,
    serve_forever,
    split_events,
)

REAL_STREAMS = Path("/work/shared/real-streams")
PROJECT_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
API_KEY = "sk-ant-api03-NOT-A-REAL-KEY-but-secret-shaped-0123456789"
REQUEST = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "A haiku, please"}],
    "stream": True,
}
TIMEOUT = 10  # a hang becomes a failure; no test asserts on elapsed time


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
    )


def text_stream(*texts: str, model: str = "claude-haiku-4-5") -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    }
    deltas = [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
        )
        for t in texts
    ]
    return sse(
        ("message_start", start),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
        *deltas,
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    )


HAIKU = text_stream("Autumn moonlight", " —\na worm digs silently", "\ninto the chestnut.")
OTHER = text_stream("Something else", " entirely.")
RATE_LIMIT = b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}'


def write_corpus(directory: Path, *, with_haiku: bool = True) -> Path:
    directory.mkdir(exist_ok=True)
    if with_haiku:
        (directory / "haiku.sse").write_bytes(HAIKU)
    (directory / "other.sse").write_bytes(OTHER)
    (directory / "ratelimit.json").write_bytes(RATE_LIMIT)
    # A recorded content-length that no longer matches must not reach the wire.
    meta = {
        "status": 429,
        "headers": {"content-type": "application/json", "retry-after": "7", "content-length": "1"},
    }
    (directory / "ratelimit.meta.json").write_text(json.dumps(meta))
    return directory


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "fixtures")


def endpoint(server: ReplayServer, path: str = "/v1/messages") -> str:
    return server.url + path


def events_in(data: bytes) -> int:
    return len(split_events(data)) if data.endswith(b"\n\n") else len(split_events(data)) - 1


def sse_text(body: bytes) -> tuple[list[str], str]:
    """Event types (pings left out) and the joined text deltas of an SSE body."""
    types: list[str] = []
    text = ""
    for piece in split_events(body):
        lines = piece.decode().splitlines()
        data = "\n".join(
            line[len("data:") :].lstrip() for line in lines if line.startswith("data:")
        )
        if not data:
            continue
        event = json.loads(data)
        if event["type"] == "ping":
            continue
        types.append(event["type"])
        delta = event.get("delta", {})
        if event["type"] == "content_block_delta" and delta.get("type") == "text_delta":
            text += delta["text"]
    return types, text


class RawResponse(msgspec.Struct):
    informational: list[int]
    status: int
    reason: str
    headers: dict[str, str]
    chunks: list[bytes]
    body: bytes
    closed: bool  # the server closed the connection after the response


async def raw_exchange(
    url: str,
    *,
    method: str = "POST",
    path: str = "/v1/messages",
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    expect_continue: bool = False,
    hang_up_after_chunks: int | None = None,
) -> RawResponse:
    """One request with h11 as the client, keeping the wire's chunk boundaries.

    With ``hang_up_after_chunks``, the client closes the connection once it has that many body
    chunks, in the middle of the response.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    conn = h11.Connection(h11.CLIENT)
    all_headers = [("host", parts.netloc), ("content-length", str(len(body)))]
    if expect_continue:
        all_headers.append(("expect", "100-continue"))
    all_headers += headers or []
    request = h11.Request(method=method, target=path, headers=all_headers)
    informational: list[int] = []
    chunks: list[bytes] = []
    current = b""
    body_seen = b""
    response: h11.Response | None = None
    async with await anyio.connect_tcp(parts.hostname, parts.port) as stream:
        await stream.send(conn.send(request) or b"")
        if not expect_continue:
            await stream.send(
                (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
            )
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    conn.receive_data(await stream.receive())
                except anyio.EndOfStream:
                    conn.receive_data(b"")
                continue
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
                if expect_continue:
                    await stream.send(
                        (conn.send(h11.Data(data=body)) or b"")
                        + (conn.send(h11.EndOfMessage()) or b"")
                    )
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                current += event.data
                body_seen += event.data
                if event.chunk_end:
                    chunks.append(current)
                    current = b""
                if len(chunks) == hang_up_after_chunks:
                    break
            elif isinstance(event, h11.EndOfMessage):
                break
        closed = conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE
        if closed and hang_up_after_chunks is None:
            # The server must also actually close: the next read is end-of-stream.
            with anyio.fail_after(TIMEOUT):
                try:
                    leftover = await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    leftover = b""
            assert leftover == b""
    assert response is not None
    return RawResponse(
        informational=informational,
        status=response.status_code,
        reason=response.reason.decode(),
        headers={k.decode(): v.decode() for k, v in response.headers},
        chunks=chunks,
        body=body_seen,
        closed=closed,
    )


async def send_raw(url: str, data: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    received = b""
    async with await anyio.connect_tcp(parts.hostname, parts.port) as stream:
        await stream.send(data)
        try:
            while True:
                received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass  # the server closed the connection
    return received


async def read_events(chunks: AsyncIterator[bytes], count: int, seen: bytes = b"") -> bytes:
    """Read from a streamed body until ``count`` complete SSE events are in hand."""
    while events_in(seen) < count:
        seen += await chunks.__anext__()
    return seen


# --- sans-I/O: cutting bodies into pieces ---------------------------------------------------------


def test_split_events_cuts_after_each_blank_line_for_every_line_ending() -> None:
    body = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\ndata: 3\r\rdata: 4\n\r\ndata: tail"
    assert split_events(body) == [
        b"event: a\ndata: 1\n\n",
        b"event: b\r\ndata: 2\r\n\r\n",
        b"data: 3\r\r",
        b"data: 4\n\r\n",
        b"data: tail",
    ]
    # A lone CRLF is one line end, not a blank line.
    assert split_events(b"data: x\r\ndata: y\r\n\r\n") == [b"data: x\r\ndata: y\r\n\r\n"]


@given(
    st.binary(max_size=200) | st.lists(st.sampled_from([b"a", b"\r", b"\n", b":"])).map(b"".join)
)
def test_split_events_loses_nothing(body: bytes) -> None:
    pieces = split_events(body)
    assert b"".join(pieces) == body
    assert all(pieces)


def test_plan_pieces_events_chunks_and_the_hold_point() -> None:
    events = split_events(HAIKU)
    assert plan_pieces(HAIKU) == (events, None)
    assert plan_pieces(HAIKU, pause_after_events=2) == (events, 2)
    assert plan_pieces(HAIKU, pause_after_events=99) == (events, len(events))
    chunks, hold = plan_pieces(HAIKU, chunk_size=7)
    assert hold is None and b"".join(chunks) == HAIKU
    assert all(len(c) == 7 for c in chunks[:-1])
    chunks, hold = plan_pieces(HAIKU, chunk_size=7, pause_after_events=2)
    assert hold is not None and b"".join(chunks) == HAIKU
    # The held part ends exactly at the end of the second event.
    assert b"".join(chunks[:hold]) == events[0] + events[1]
    assert max(len(c) for c in chunks) <= 7


def test_bad_sources_and_settings_fail_when_built(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not found"):
        ReplayServer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProviderError, match="No fixtures"):
        ReplayServer(tmp_path / "empty")
    with pytest.raises(ValueError, match="delay"):
        ReplayServer(write_corpus(tmp_path / "c"), delay=-1)
    with pytest.raises(ValueError, match="chunk_size"):
        ReplayServer(tmp_path / "c", chunk_size=0)


# --- the wire -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streams_one_chunk_per_event(corpus: Path) -> None:
    async with ReplayServer(corpus) as server:
        with anyio.fail_after(TIMEOUT):
            raw = await raw_exchange(server.url, body=json.dumps(REQUEST).encode())
    assert (raw.status, raw.reason) == (200, "OK")
    assert raw.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in raw.headers
    assert raw.headers["content-type"] == "text/event-stream"
    assert raw.headers["request-id"].startswith("req_")
    assert raw.chunks == split_events(HAIKU)
    assert not raw.closed  # HTTP/1.1: kept alive


@pytest.mark.anyio
async def test_chunk_size_sets_the_wire_chunks(corpus: Path) -> None:
    async with ReplayServer(corpus, chunk_size=5, delay=0.001) as server:
        with anyio.fail_after(TIMEOUT):
            raw = await raw_exchange(server.url, body=json.dumps(REQUEST).encode())
    assert raw.body == HAIKU
    assert all(len(c) == 5 for c in raw.chunks[:-1]) and len(raw.chunks) > 10


@pytest.mark.anyio
async def test_http10_client_gets_the_body_then_a_close(corpus: Path) -> None:
    body = json.dumps(REQUEST).encode()
    async with ReplayServer(corpus) as server:
        request = (
            b"POST /v1/messages HTTP/1.0\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with anyio.fail_after(TIMEOUT):
            received = await send_raw(server.url, request)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding" not in head.lower()
    assert b"\r\nconnection: close" in head.lower()
    # Not chunked: the body runs to the close, byte for byte.
    assert rest == HAIKU


@pytest.mark.anyio
async def test_expect_100_continue_is_answered(corpus: Path) -> None:
    async with ReplayServer(corpus) as server:
        with anyio.fail_after(TIMEOUT):
            raw = await raw_exchange(
                server.url, body=json.dumps(REQUEST).encode(), expect_continue=True
            )
    assert raw.informational == [100]
    assert raw.status == 200 and raw.body == HAIKU


@pytest.mark.anyio
@pytest.mark.parametrize(
    "garbage",
    [b"THIS IS NOT HTTP\r\n\r\n", b"POST /v1/messages HTTP/1.1\r\nno colon here\r\n\r\n"],
)
async def test_malformed_http_gets_a_400_and_a_close(corpus: Path, garbage: bytes) -> None:
    async with ReplayServer(corpus) as server:
        with anyio.fail_after(TIMEOUT):
            received = await send_raw(server.url, garbage)
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ")
            assert b"\r\nrequest-id: req_" in head
            assert json.loads(body)["error"]["type"] == "invalid_request_error"
            # The server survived it.
            raw = await raw_exchange(server.url, body=json.dumps(REQUEST).encode())
            assert raw.status == 200
        assert server.disconnects == 0
        assert server.requests[0].status == 200  # malformed input is not a request


# --- httpx: errors, routing, selection, recording -------------------------------------------------

ERROR_CASES: list[tuple[str, str, dict[str, str], bytes, int, str, str]] = [
    # method, path, headers, body, status, error type, text in the message
    ("POST", "/v1/complete", {}, b"{}", 404, "not_found_error", "/v1/complete"),
    ("POST", "/v1/messages/tokens", {}, b"{}", 404, "not_found_error", "/v1/messages/tokens"),
    ("POST", "/v1/v1/messages/count_tokens", {}, b"{}", 404, "not_found_error", "v1/v1"),
    ("GET", "/v1/messages/count_tokens", {}, b"", 405, "invalid_request_error", "use POST"),
    ("POST", "/v1/messages/count_tokens", {}, b"{}", 400, "invalid_request_error", "messages"),
    ("POST", "/v1/v1/messages", {}, b"{}", 404, "not_found_error", "/v1/v1/messages"),
    ("POST", "//v1/messages", {}, b"{}", 404, "not_found_error", "//v1/messages"),
    ("GET", "/v1/messages", {}, b"", 405, "invalid_request_error", "use POST"),
    ("POST", "/v1/messages", {}, b"{not json", 400, "invalid_request_error", "not valid JSON"),
    ("POST", "/v1/messages", {}, b"[1, 2]", 400, "invalid_request_error", "JSON object"),
    ("POST", "/v1/messages", {}, b'{"model": "m"}', 400, "invalid_request_error", "messages"),
    (
        "POST",
        "/v1/messages",
        {FIXTURE_HEADER: "nope"},
        json.dumps(REQUEST).encode(),
        404,
        "not_found_error",
        "available: haiku, other, ratelimit",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "error_type", "says"), ERROR_CASES
)
async def test_bad_requests_get_anthropic_style_json_errors(
    corpus: Path,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    error_type: str,
    says: str,
) -> None:
    async with ReplayServer(corpus) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            response = await client.request(
                method, endpoint(server, path), content=body, headers=headers
            )
            # The connection stays usable after an error.
            again = await client.post(endpoint(server), json=REQUEST)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error_type
    assert says in payload["error"]["message"]
    assert response.headers["request-id"].startswith("req_")
    assert payload["request_id"] == response.headers["request-id"]
    if status == 405:
        assert response.headers["allow"] == "POST"
    assert again.status_code == 200
    assert server.requests[0].connection == server.requests[1].connection


@pytest.mark.anyio
async def test_directory_without_default_lists_the_names(tmp_path: Path) -> None:
    source = write_corpus(tmp_path / "nohaiku", with_haiku=False)
    async with ReplayServer(source) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            response = await client.post(endpoint(server), json=REQUEST)
            picked = await client.post(
                endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: "other"}
            )
    assert response.status_code == 400
    assert "available: other, ratelimit" in response.json()["error"]["message"]
    assert picked.status_code == 200 and picked.content == OTHER


@pytest.mark.anyio
async def test_fixture_header_selects_and_fixture_status_and_headers_are_honoured(
    corpus: Path,
) -> None:
    async with ReplayServer(corpus) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            default = await client.post(endpoint(server), json=REQUEST)
            other = await client.post(
                endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: "other"}
            )
            limited = await client.post(
                endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: "ratelimit"}
            )
    assert default.content == HAIKU and other.content == OTHER
    assert (limited.status_code, limited.reason_phrase) == (429, "Too Many Requests")
    assert limited.headers["retry-after"] == "7"
    assert limited.headers["content-length"] == str(len(RATE_LIMIT))
    assert limited.content == RATE_LIMIT
    assert limited.headers["request-id"].startswith("req_")
    assert [r.fixture for r in server.requests] == ["haiku", "other", "ratelimit"]
    assert [r.status for r in server.requests] == [200, 200, 429]


@pytest.mark.anyio
async def test_a_single_file_is_served_for_every_request(tmp_path: Path) -> None:
    path = tmp_path / "just.sse"
    path.write_bytes(OTHER)
    async with ReplayServer(path) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            plain = await client.post(endpoint(server), json=REQUEST)
            named = await client.post(
                endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: "haiku"}
            )
    assert plain.content == OTHER and named.content == OTHER
    assert server.fixture_names == []


@pytest.mark.anyio
@pytest.mark.parametrize("prefix", ["/anthropic", "/gateway/v2/anthropic"])
async def test_a_gateway_path_prefix_is_accepted(corpus: Path, prefix: str) -> None:
    async with ReplayServer(corpus) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            response = await client.post(
                endpoint(server, prefix + "/v1/messages?beta=true"), json=REQUEST
            )
    assert response.status_code == 200 and response.content == HAIKU
    assert server.requests[0].path == prefix + "/v1/messages"
    assert server.requests[0].query == "beta=true"


@pytest.mark.anyio
async def test_requests_are_recorded_without_secrets(
    corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {
        "x-api-key": API_KEY,
        "authorization": f"Bearer {API_KEY}",
        "anthropic-version": "2023-06-01",
    }
    async with ReplayServer(corpus) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            response = await client.post(endpoint(server), json=REQUEST, headers=headers)
    assert response.status_code == 200
    [recorded] = server.requests
    assert recorded.method == "POST" and recorded.path == "/v1/messages"
    assert recorded.json == REQUEST
    assert recorded.headers["x-api-key"] == "<redacted>"
    assert recorded.headers["authorization"] == "<redacted>"
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.request_id == response.headers["request-id"]
    secret = API_KEY.split("sk-ant-")[1]
    assert secret not in repr(server.requests)
    assert secret.encode() not in msgspec.json.encode(server.requests)
    assert secret not in caplog.text
    assert "POST /v1/messages -> 200" in caplog.text  # the log is there, just without the key


# --- streaming behaviour: holds, disconnects, shutdown --------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [None, 3])
async def test_first_event_arrives_while_the_rest_is_held(
    corpus: Path, chunk_size: int | None
) -> None:
    events = split_events(HAIKU)
    async with (
        ReplayServer(corpus, pause_after_events=1, chunk_size=chunk_size) as server,
        httpx.AsyncClient() as client,
    ):
        with anyio.fail_after(TIMEOUT):
            async with client.stream("POST", endpoint(server), json=REQUEST) as response:
                assert response.status_code == 200
                async with aclosing(response.aiter_raw()) as chunks:
                    seen = await read_events(chunks, 1)
                    await server.paused.wait()
                    # The client holds event 1 and nothing more; the server has sent no more.
                    assert seen == events[0]
                    assert server.pieces_sent == len(
                        plan_pieces(events[0], chunk_size=chunk_size)[0]
                    )
                    server.resume.set()
                    rest = [chunk async for chunk in chunks]
    assert seen + b"".join(rest) == HAIKU
    assert server.disconnects == 0


@pytest.mark.anyio
async def test_pause_after_zero_events_holds_after_the_headers(corpus: Path) -> None:
    async with (
        ReplayServer(corpus, pause_after_events=0) as server,
        httpx.AsyncClient() as client,
    ):
        with anyio.fail_after(TIMEOUT):
            async with client.stream("POST", endpoint(server), json=REQUEST) as response:
                # The status line and headers came through before any body.
                assert response.status_code == 200
                await server.paused.wait()
                assert server.pieces_sent == 0
                server.resume.set()
                body = await response.aread()
    assert body == HAIKU


@pytest.mark.anyio
async def test_client_disconnect_mid_stream_is_observed(corpus: Path) -> None:
    events = split_events(HAIKU)
    async with ReplayServer(corpus, pause_after_events=2) as server:
        with anyio.fail_after(TIMEOUT):
            raw = await raw_exchange(
                server.url, body=json.dumps(REQUEST).encode(), hang_up_after_chunks=2
            )
            assert raw.chunks == events[:2]
            # The client is gone while the server holds the rest of the stream.
            await server.wait_for_disconnects(1)
            assert server.disconnects == 1
            assert server.pieces_sent == 2
            server.resume.set()  # nothing is waiting on it any more
            # The server is fine and serves the next request.
            async with httpx.AsyncClient() as client:
                again = await client.post(endpoint(server), json=REQUEST)
    assert again.content == HAIKU
    assert server.pieces_sent == 2 + len(events)
    assert server.disconnects == 1


@pytest.mark.anyio
async def test_shutdown_is_prompt_with_a_held_stream_and_an_idle_connection(
    corpus: Path,
) -> None:
    async with httpx.AsyncClient() as client, httpx.AsyncClient() as idle:
        with anyio.fail_after(TIMEOUT):
            async with ReplayServer(corpus, pause_after_events=1) as server:
                # One kept-alive idle connection (after a reply that is not a stream, so not
                # held), and one stream held forever.
                limited = await idle.post(
                    endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: "ratelimit"}
                )
                assert limited.status_code == 429
                request = client.build_request("POST", endpoint(server), json=REQUEST)
                response = await client.send(request, stream=True)
                await server.paused.wait()
            try:
                with pytest.raises(httpx.TransportError):
                    await response.aread()
            finally:
                await response.aclose()
    assert server.disconnects == 0  # the server hung up; no client went away


@pytest.mark.anyio
async def test_an_error_in_the_block_propagates_unwrapped(corpus: Path) -> None:
    with pytest.raises(KeyError, match="boom"):
        async with ReplayServer(corpus):
            raise KeyError("boom")


@pytest.mark.anyio
async def test_serve_forever_announces_its_url_and_serves(corpus: Path) -> None:
    urls: list[str] = []
    ready = anyio.Event()

    def announce(url: str) -> None:
        urls.append(url)
        ready.set()

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve_forever, corpus, "127.0.0.1", 0, 0.0, announce)
            await ready.wait()
            async with httpx.AsyncClient() as client:
                response = await client.post(urls[0] + "/v1/messages", json=REQUEST)
            tg.cancel_scope.cancel()
    [url] = urls
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    assert response.content == HAIKU


# --- real clients ---------------------------------------------------------------------------------


async def sdk_events(url: str, headers: dict[str, str] | None = None) -> tuple[list[str], str]:
    anthropic = pytest.importorskip("anthropic")
    async with anthropic.AsyncAnthropic(
        api_key="sk-ant-test", base_url=url, max_retries=0, default_headers=headers or {}
    ) as sdk:
        stream = await sdk.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "A haiku, please"}],
            stream=True,
        )
        types: list[str] = []
        text = ""
        async with stream:
            async for event in stream:
                types.append(event.type)
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text += event.delta.text
    return types, text


@pytest.mark.anyio
async def test_official_sdk_reads_the_stream(corpus: Path) -> None:
    async with ReplayServer(corpus) as server:
        with anyio.fail_after(TIMEOUT):
            types, text = await sdk_events(server.url)
            other = await sdk_events(server.url, {FIXTURE_HEADER: "other"})
    assert (types, text) == sse_text(HAIKU)
    assert text == "Autumn moonlight —\na worm digs silently\ninto the chestnut."
    assert other == sse_text(OTHER)
    recorded = server.requests[0]
    assert recorded.path == "/v1/messages"
    # SDK 2.x sends the key as a bearer token; either way only its name is kept.
    credentials = {k: v for k, v in recorded.headers.items() if k in ("x-api-key", "authorization")}
    assert credentials and set(credentials.values()) == {"<redacted>"}
    assert "sk-ant-test" not in repr(server.requests)
    assert recorded.json["stream"] is True


@pytest.mark.anyio
async def test_the_project_corpus_is_served_as_recorded() -> None:
    from provider.fixtures import fixture_paths, load_fixture

    if not PROJECT_FIXTURES.is_dir():
        pytest.skip(f"{PROJECT_FIXTURES} is absent")
    fixtures = [load_fixture(p) for p in fixture_paths(PROJECT_FIXTURES)]
    async with ReplayServer(PROJECT_FIXTURES) as server, httpx.AsyncClient() as client:
        sequences = [p.stem for p in (PROJECT_FIXTURES / "sequences").glob("*.json")]
        assert server.fixture_names == sorted([*(f.name for f in fixtures), *sequences])
        for fixture in fixtures:
            with anyio.fail_after(TIMEOUT):
                response = await client.post(
                    endpoint(server), json=REQUEST, headers={FIXTURE_HEADER: fixture.name}
                )
            assert response.status_code == fixture.status, fixture.name
            assert response.content == fixture.body, fixture.name
            for name, value in fixture.headers.items():
                if name not in ("content-length", "transfer-encoding", "connection"):
                    assert response.headers[name] == value, (fixture.name, name)
            assert response.headers["request-id"].startswith("req_")


def real_streams() -> list[Any]:
    if not REAL_STREAMS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{REAL_STREAMS} is absent"))]
    return [pytest.param(p, id=p.stem) for p in sorted(REAL_STREAMS.glob("*.sse"))]


@pytest.mark.anyio
@pytest.mark.parametrize("path", real_streams())
async def test_real_recorded_streams_replay_byte_for_byte(path: Path) -> None:
    body = path.read_bytes()
    async with ReplayServer(path) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            response = await client.post(endpoint(server), json=REQUEST)
            sdk = await sdk_events(server.url)
    assert response.content == body
    assert sdk == sse_text(body)


def project_provider(base_url: str) -> Any:
    from provider import AnthropicProvider, ModelInfo, ProviderConfig

    config = ProviderConfig(
        model_id="claude-haiku-4-5",
        model_info=ModelInfo(max_tokens=64, input_price=1.0, output_price=5.0),
        api_key=API_KEY,
        base_url=base_url,
    )
    return AnthropicProvider(config, max_retries=0)


@pytest.mark.anyio
@pytest.mark.parametrize("prefix", ["", "/anthropic"])
async def test_project_client_streams_from_the_server(corpus: Path, prefix: str) -> None:
    from provider import Message, StopChunk, TextChunk, UsageChunk

    chunks: list[Any] = []
    async with ReplayServer(corpus) as server, project_provider(server.url + prefix) as provider:
        with anyio.fail_after(TIMEOUT):
            async for chunk in provider.create_message("sys", [Message(role="user", content="hi")]):
                chunks.append(chunk)
    text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
    assert text == sse_text(HAIKU)[1]
    assert sum(c.output_tokens for c in chunks if isinstance(c, UsageChunk)) == 9
    assert sum(c.input_tokens for c in chunks if isinstance(c, UsageChunk)) == 12
    assert [c.stop_reason for c in chunks if isinstance(c, StopChunk)] == ["end_turn"]
    [recorded] = server.requests
    assert recorded.path == prefix + "/v1/messages"
    assert recorded.headers["x-api-key"] == "<redacted>"
    assert recorded.json["system"] == "sys"
    assert recorded.json["stream"] is True
    assert API_KEY not in repr(server.requests)
