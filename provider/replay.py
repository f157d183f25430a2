"""Offline replay and recording, as httpx transports.

Replay is not a special path through the client: :class:`ReplayTransport` answers the HTTP request
with a recorded body, so the provider builds its request, checks the status, frames the SSE and
maps errors exactly as it does against the real API. :class:`RecordingTransport` wraps any other
transport and saves what it returns, byte for byte, in the fixture format of
:mod:`provider.fixtures`, while the caller keeps streaming live.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TypeAlias

import anyio
import httpx
import msgspec

from .errors import KEY_SHAPE, ProviderError, redact, secret_values
from .fixtures import (
    FORBIDDEN_HEADERS,
    Fixture,
    FixtureMeta,
    encode_meta,
    load_fixture,
    meta_path,
)

__all__ = ["RecordingTransport", "ReplayTransport"]

FixtureSource: TypeAlias = "Fixture | str | os.PathLike[str]"
Sleep: TypeAlias = Callable[[float], Awaitable[object]]

_MESSAGES_PATH = "/v1/messages"


class _FixtureStream(httpx.AsyncByteStream):
    """A fixture body served in pieces, with an optional pause between them.

    An iterator object rather than an async generator: a generator left suspended when the
    reader stops early is finalised by the garbage collector, which trio reports as a
    ResourceWarning.
    """

    def __init__(self, body: bytes, chunk_size: int | None, delay: float, sleep: Sleep) -> None:
        self._body = body
        self._chunk_size = chunk_size or max(len(body), 1)
        self._delay = delay
        self._sleep = sleep
        self._offset = 0
        self._closed = False

    def __aiter__(self) -> _FixtureStream:
        return self

    async def __anext__(self) -> bytes:
        if self._closed or self._offset >= len(self._body):
            raise StopAsyncIteration
        if self._offset and self._delay:
            await self._sleep(self._delay)
            if self._closed:  # closed while we paused
                raise StopAsyncIteration
        start = self._offset
        self._offset = start + self._chunk_size
        return self._body[start : self._offset]

    async def aclose(self) -> None:
        self._closed = True


def _as_fixture(source: FixtureSource) -> Fixture:
    return source if isinstance(source, Fixture) else load_fixture(source)


def _not_found(request: httpx.Request, request_id: str) -> httpx.Response:
    message = f"replay only serves POST /v1/messages, not {request.method} {request.url.path}"
    body = {
        "type": "error",
        "error": {"type": "not_found_error", "message": message},
        "request_id": request_id,
    }
    return httpx.Response(
        404,
        headers={"content-type": "application/json", "request-id": request_id},
        content=msgspec.json.encode(body),
    )


class ReplayTransport(httpx.AsyncBaseTransport):
    """Serve recorded fixtures to an ``httpx.AsyncClient``, one per request.

    ``fixture`` is a :class:`~provider.fixtures.Fixture`, a path to a body file, or a sequence of
    them: a sequence is served in order, one per request, and its last fixture repeats (handy for
    retry tests: ``[overloaded_529, haiku]``). The body streams in ``chunk_size`` pieces (all at
    once when None), pausing ``delay`` seconds between pieces, with the fixture's status and
    headers plus a ``request-id``. Only ``POST …/v1/messages`` is answered (under any base path);
    anything else gets an Anthropic-style 404. Every request received is kept in ``requests``.

    Example (pytest)::

        import httpx, pytest
        from provider import MODELS, AnthropicProvider, Message, ProviderConfig, TextChunk
        from provider.replay import ReplayTransport

        @pytest.mark.anyio
        async def test_haiku():
            transport = ReplayTransport("fixtures/haiku.sse", chunk_size=16)
            config = ProviderConfig(model_id="claude-sonnet-4-5", api_key="sk-ant-test",
                                    model_info=MODELS["claude-sonnet-4-5"])
            async with httpx.AsyncClient(transport=transport) as client:
                p = AnthropicProvider(config, http_client=client)
                chunks = [c async for c in p.create_message("", [Message("user", "Hi")])]
            text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
            assert text.startswith("Bytes drift down the wire")
            assert transport.requests[0].headers["anthropic-version"] == "2023-06-01"

    ``sleep`` replaces ``anyio.sleep`` for the pauses (tests can count them instead of waiting).
    """

    def __init__(
        self,
        fixture: FixtureSource | Sequence[FixtureSource],
        *,
        chunk_size: int | None = None,
        delay: float = 0.0,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ProviderError(f"chunk_size must be a positive integer or None, got {chunk_size}")
        if delay < 0:
            raise ProviderError(f"delay must be >= 0, got {delay}")
        # str is a Sequence too: a single path must not be read as a list of one-letter paths.
        if isinstance(fixture, (Fixture, str, os.PathLike)):
            sources: list[FixtureSource] = [fixture]
        else:
            sources = list(fixture)
        if not sources:
            raise ProviderError("ReplayTransport needs at least one fixture")
        self.fixtures: list[Fixture] = [_as_fixture(s) for s in sources]
        self.requests: list[httpx.Request] = []
        self.chunk_size = chunk_size
        self.delay = delay
        self._sleep = sleep
        self._served = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Read the body now so tests can assert on request.content after the call.
        await request.aread()
        self.requests.append(request)
        request_id = f"req_replay_{len(self.requests):04d}"
        if request.method != "POST" or not request.url.path.endswith(_MESSAGES_PATH):
            return _not_found(request, request_id)
        fixture = self.fixtures[min(self._served, len(self.fixtures) - 1)]
        self._served += 1
        headers = {"request-id": request_id, **fixture.headers}
        stream = _FixtureStream(fixture.body, self.chunk_size, self.delay, self._sleep)
        return httpx.Response(fixture.status, headers=headers, stream=stream)


# Response headers worth keeping in a recording; anything else (cookies, org ids, CDN noise)
# is dropped. content-encoding is kept because the body is recorded raw, still encoded.
_KEEP_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "request-id",
        "x-request-id",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
)
_KEEP_PREFIXES = ("anthropic-ratelimit-",)


def _kept_headers(headers: httpx.Headers) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():  # httpx gives lower-case names
        if name in FORBIDDEN_HEADERS or redact(value) != value:
            continue
        if name in _KEEP_HEADERS or name.startswith(_KEEP_PREFIXES):
            kept[name] = value
    return kept


class _TeeStream(httpx.AsyncByteStream):
    """Pass the inner raw stream through, writing each piece to the fixture file as it goes."""

    def __init__(
        self, inner: httpx.AsyncByteStream, file: BinaryIO, secrets: tuple[bytes, ...]
    ) -> None:
        self._inner = inner
        self._pieces: AsyncIterator[bytes] | None = None
        self._file = file
        self._secrets = secrets

    def __aiter__(self) -> _TeeStream:
        return self

    async def __anext__(self) -> bytes:
        if self._file.closed:
            raise StopAsyncIteration
        if self._pieces is None:
            self._pieces = self._inner.__aiter__()
        piece = await self._pieces.__anext__()
        # Plain blocking writes: pieces are small and local, and a thread hop per piece would
        # cost more than the write. Flushed so an interrupted run keeps what arrived.
        self._file.write(piece)
        self._file.flush()
        return piece

    async def aclose(self) -> None:
        pieces, self._pieces = self._pieces, None
        try:
            # An inner async generator stopped early is closed here, not left to the GC.
            if isinstance(pieces, AsyncGenerator):
                await pieces.aclose()
        finally:
            try:
                await self._inner.aclose()
            finally:
                self._file.close()
                _mask_file(Path(self._file.name), self._secrets)


_KEY_SHAPE = re.compile(KEY_SHAPE.encode())
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie", re.I)


def _request_secrets(request: httpx.Request) -> tuple[bytes, ...]:
    """The request's credentials, to be masked if the server quotes them back."""
    values = [
        value.decode("latin-1")
        for name, value in request.headers.raw
        if _SECRET_HEADER.search(name.decode("latin-1"))
    ]
    return tuple(v.encode("latin-1") for v in secret_values(values))


def _mask_file(path: Path, secrets: tuple[bytes, ...]) -> None:
    # A server may quote a credential back in an error body: that must not become a fixture.
    # The recording stays byte for byte everywhere else. (A gzip body is not plaintext and
    # cannot hold a readable key.)
    try:
        body = path.read_bytes()
    except OSError:
        return
    masked = _KEY_SHAPE.sub(b"sk-ant-***", body)
    for secret in secrets:
        masked = masked.replace(secret, b"***")
    if masked != body:
        path.write_bytes(masked)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forward requests to ``inner`` and record each response as a fixture, byte for byte.

    The first response goes to ``path`` (e.g. ``fixtures/new.sse``) with its sidecar
    ``new.meta.json`` (status and the response headers worth keeping: content-type, request-id,
    retry-after…; never request headers, keys or cookies); later ones to ``new-1.sse``,
    ``new-2.sse`` … The body is written raw, as received, while the caller streams it; the files
    are complete when the response is closed, and hold what arrived if the caller stops early.
    One exception to byte for byte: a credential the server quoted back (the request's key or
    token, or anything shaped like ``sk-ant-…``) is masked when the file is closed.
    ``paths`` lists the body files written.

    Example (pytest; record once against the real API, then replay offline)::

        import httpx, pytest
        from provider.replay import RecordingTransport, ReplayTransport

        @pytest.mark.anyio
        async def test_record(tmp_path):
            inner = ReplayTransport("fixtures/haiku.sse")  # or httpx.AsyncHTTPTransport()
            recorder = RecordingTransport(inner, tmp_path / "haiku.sse")
            async with httpx.AsyncClient(transport=recorder) as client:
                r = await client.post("https://api.anthropic.com/v1/messages", json={})
            assert (tmp_path / "haiku.sse").read_bytes() == r.content
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.path = Path(path)
        self.paths: list[Path] = []

    def _next_path(self) -> Path:
        n = len(self.paths)
        if n == 0:
            return self.path
        base, suffix = self.path.name, ""
        if "." in base:
            base, suffix = base.split(".", 1)
            suffix = "." + suffix
        return self.path.with_name(f"{base}-{n}{suffix}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        target = self._next_path()
        self.paths.append(target)
        inner_stream = response.stream
        if not isinstance(inner_stream, httpx.AsyncByteStream):
            await _aclose_quietly(response)
            raise ProviderError("RecordingTransport needs an async inner transport")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            meta = FixtureMeta(status=response.status_code, headers=_kept_headers(response.headers))
            meta_path(target).write_bytes(encode_meta(meta))
            file = target.open("wb")
        except OSError as exc:
            await _aclose_quietly(response)
            raise ProviderError(f"Cannot write fixture {target}: {exc.strerror}", exc) from exc
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_TeeStream(inner_stream, file, _request_secrets(request)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _aclose_quietly(response: httpx.Response) -> None:
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        await stream.aclose()
