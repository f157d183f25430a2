"""Record a response with RecordingTransport, replay the recording: same bytes, same chunks."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import httpx
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    NetworkError,
    ProviderConfig,
    ProviderError,
    TextChunk,
)
from provider.fixtures import fixture_paths, load_fixture
from provider.replay import RecordingTransport, ReplayTransport

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PATHS = fixture_paths(FIXTURES)
SECRET = "sk-ant-test-SECRET"

Run = tuple[list[MessageStreamChunk], ProviderError | None]


async def run(
    transport: httpx.AsyncBaseTransport, *, base_url: str | None = None, stop_after: int = 0
) -> Run:
    """Stream one message through AnthropicProvider; ``stop_after`` text chunks, then stop."""
    config = ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key=SECRET,
        base_url=base_url,
    )
    chunks: list[MessageStreamChunk] = []
    error: ProviderError | None = None
    async with httpx.AsyncClient(transport=transport) as client:
        provider = AnthropicProvider(config, http_client=client, max_retries=0)
        stream = provider.create_message("sys", [Message(role="user", content="hi")])
        try:
            async with aclosing(stream):
                async for chunk in stream:
                    chunks.append(chunk)
                    texts = sum(isinstance(c, TextChunk) for c in chunks)
                    if stop_after and texts >= stop_after:
                        break
        except ProviderError as exc:
            error = exc
    return chunks, error


def same_error(a: ProviderError | None, b: ProviderError | None) -> bool:
    if a is None or b is None:
        return a is b
    return (type(a), str(a), a.status, getattr(a, "retry_after", None)) == (
        type(b),
        str(b),
        b.status,
        getattr(b, "retry_after", None),
    )


def assert_no_secret(directory: Path) -> None:
    written = list(directory.iterdir())
    assert written
    for path in written:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        if path.name.endswith(".meta.json"):  # a body may say "invalid x-api-key"
            assert b"x-api-key" not in data, path


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
async def test_record_then_replay_gives_identical_bytes_and_chunks(
    path: Path, tmp_path: Path
) -> None:
    source = load_fixture(path)
    target = tmp_path / f"rec{path.suffix}"
    recorder = RecordingTransport(ReplayTransport(path, chunk_size=5), target)
    live = await run(recorder)

    assert target.read_bytes() == source.body
    recorded = load_fixture(target)
    assert recorded.status == source.status
    for name in ("content-type", "retry-after", "request-id"):
        if name in source.headers:
            assert recorded.headers[name] == source.headers[name]
    assert_no_secret(tmp_path)

    replayed = await run(ReplayTransport(target, chunk_size=3))
    assert replayed[0] == live[0]
    assert same_error(replayed[1], live[1])
    assert live[0] or live[1]  # something happened


async def test_stopping_early_records_a_prefix_that_replays_as_a_cut_stream(tmp_path: Path) -> None:
    source = load_fixture(FIXTURES / "long_unicode.sse")
    target = tmp_path / "partial.sse"
    recorder = RecordingTransport(ReplayTransport(source, chunk_size=64), target)
    chunks, error = await run(recorder, stop_after=10)
    assert error is None
    recorded = target.read_bytes()
    assert 0 < len(recorded) < len(source.body)
    assert source.body.startswith(recorded)

    # The partial recording is a fixture of its own: a stream cut before message_stop.
    replay_chunks, replay_error = await run(ReplayTransport(target))
    assert isinstance(replay_error, NetworkError)
    texts = [c for c in replay_chunks if isinstance(c, TextChunk)]
    assert texts[:10] == [c for c in chunks if isinstance(c, TextChunk)]
    assert source.expect is not None and source.expect.text is not None
    assert source.expect.text.startswith("".join(c.text for c in texts))


# --- over a real socket: a 127.0.0.1 server started and stopped by the test ----------------


@asynccontextmanager
async def loopback_server(head: bytes, body: bytes, piece: int) -> AsyncIterator[str]:
    """Answer every request with ``head`` and ``body`` in ``piece``-byte HTTP/1.1 chunks."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            headers, _, rest = data.partition(b"\r\n\r\n")
            match = re.search(rb"(?im)^content-length:\s*(\d+)", headers)
            length = int(match.group(1)) if match else 0
            while len(rest) < length:
                rest += await stream.receive()
            await stream.send(head + b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n")
            for start in range(0, len(body), piece):
                part = body[start : start + piece]
                await stream.send(b"%x\r\n%s\r\n" % (len(part), part))
            await stream.send(b"0\r\n\r\n")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            group.cancel_scope.cancel()


async def test_recording_a_real_gzip_response_keeps_the_decoded_text(tmp_path: Path) -> None:
    source = load_fixture(FIXTURES / "tool_use.sse")
    compressed = gzip.compress(source.body, mtime=0)
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: text/event-stream; charset=utf-8\r\n"
        b"content-encoding: gzip\r\n"
        b"request-id: req_011CLOOPBACK\r\n"
        b"set-cookie: _cfuvid=abc; path=/\r\n"
        b"anthropic-organization-id: 00000000-0000-0000-0000-000000000000\r\n"
    )
    target = tmp_path / "wire.sse"
    async with loopback_server(head, compressed, piece=97) as url:
        recorder = RecordingTransport(httpx.AsyncHTTPTransport(), target)
        live = await run(recorder, base_url=url)
    expected = await run(ReplayTransport(source))
    assert live == expected  # the caller got the decoded stream, live

    assert target.read_bytes() == source.body  # decoded: readable, and masked as text
    recorded = load_fixture(target)
    assert recorded.headers == {
        "content-type": "text/event-stream; charset=utf-8",
        "request-id": "req_011CLOOPBACK",
    }
    assert_no_secret(tmp_path)
    assert await run(ReplayTransport(target, chunk_size=11)) == expected
