"""Offline replay and recording, as httpx transports.

Replay is not a special path through the client: :class:`ReplayTransport` answers the HTTP request
with a recorded body, so the provider builds its request, checks the status, frames the SSE and
maps errors exactly as it does against the real API. :class:`RecordingTransport` wraps any other
transport and saves what it returns, decoded and with every credential masked, in the fixture format
of :mod:`provider.fixtures`, while the caller keeps streaming live.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TypeAlias

import anyio
import httpx
import msgspec

from .endpoint import REPLAYED, secrets_of
from .errors import KEY_SHAPE, ProviderError, mask
from .fixtures import (
    FORBIDDEN_HEADERS,
    Fixture,
    FixtureMeta,
    encode_meta,
    load_fixture,
    meta_path,
)

__all__ = ["RecordingTransport", "ReplayTransport", "check_sse_recording"]

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
        # REPLAYED: the provider retries a recorded failure without waiting for it.
        return httpx.Response(
            fixture.status, headers=headers, stream=stream, extensions={REPLAYED: True}
        )


def check_sse_recording(fixture: Fixture, where: str | os.PathLike[str]) -> None:
    """Refuse a fixture that claims to be a successful event stream but is not one (an empty,
    binary or plain-text file), naming the file: replaying it would only fail later with a
    vague "stream ended before message_stop". Error fixtures (a status >= 300) pass as they are.
    """
    if fixture.status >= 300:
        return
    problem = None
    if not fixture.body.strip():
        problem = "the file is empty"
    elif fixture.headers.get("content-encoding", "identity") == "identity":
        try:
            text = fixture.body.decode("utf-8")
        except UnicodeDecodeError:
            problem = "the file is not UTF-8 text (binary data?)"
        else:
            if _SSE_FIELD.search(text) is None:
                problem = "no `event:` or `data:` line"
    if problem is not None:
        raise ProviderError(f"{os.fspath(where)} is not an SSE recording: {problem}")


_SSE_FIELD = re.compile(r"^(event|data):", re.M)


# Response headers worth keeping in a recording; anything else (cookies, org ids, CDN noise)
# is dropped. content-encoding is not kept: the body is recorded decoded.
_KEEP_HEADERS = frozenset(
    {
        "content-type",
        "request-id",
        "x-request-id",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
)
_KEEP_PREFIXES = ("anthropic-ratelimit-",)


def _kept_headers(headers: httpx.Headers, secrets: tuple[str, ...]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():  # httpx gives lower-case names
        if name in FORBIDDEN_HEADERS:
            continue
        if name in _KEEP_HEADERS or name.startswith(_KEEP_PREFIXES):
            kept[name] = mask(value, secrets)
    return kept


class _Decoder:
    """Undoes a response's ``content-encoding`` (gzip, deflate) piece by piece, with zlib, so that
    the recording holds the text a reader (and the masking) can see. An encoding it does not know
    (br, zstd) leaves the whole body as it came."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        self.unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        self._steps = [] if self.unknown else [_inflater(c) for c in reversed(codings)]
        self.failed = False

    def decode(self, data: bytes) -> bytes:
        if self.failed:
            return b""
        try:
            for step in self._steps:
                data = step(data)
        except zlib.error:
            # The client fails on this body too; the recording keeps what decoded.
            self.failed = True
            return b""
        return data


def _inflater(coding: str) -> Callable[[bytes], bytes]:
    if coding != "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress
    return _Deflate().decompress


class _Deflate:
    """ "deflate" is zlib-wrapped by the standard and raw in practice: try both, as httpx does."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inflate.decompress(data)
            except zlib.error:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflate.decompress(data)


class _TeeStream(httpx.AsyncByteStream):
    """Pass the inner raw stream through, writing each piece, decoded, to the fixture file as it
    goes; the file is masked when the stream closes."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        file: BinaryIO,
        decoder: _Decoder,
        secrets: tuple[str, ...],
    ) -> None:
        self._inner = inner
        self._pieces: AsyncIterator[bytes] | None = None
        self._file = file
        self._decoder = decoder
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
        self._file.write(self._decoder.decode(piece))
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


def _mask_file(path: Path, secrets: tuple[str, ...]) -> None:
    # A server may quote a credential back in a body: that must not become a fixture. The
    # recording is otherwise the decoded body as it arrived.
    try:
        body = path.read_bytes()
    except OSError:
        return
    masked = body
    for secret in secrets:  # each also as JSON spells it (secret_values)
        masked = masked.replace(secret.encode(), b"***")
    masked = _KEY_SHAPE.sub(b"sk-ant-***", masked)
    if masked != body:
        path.write_bytes(masked)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forward requests to ``inner`` and record each response as a fixture.

    The first response goes to ``path`` (e.g. ``fixtures/new.sse``) with its sidecar
    ``new.meta.json`` (status and the response headers worth keeping: content-type, request-id,
    retry-after…; never request headers, keys or cookies); later ones to ``new-1.sse``,
    ``new-2.sse`` … The body is written as the caller streams it, decoded (a gzip or deflate
    ``content-encoding`` is undone and not recorded), so the file is readable text; the files are
    complete when the response is closed, and hold what arrived if the caller stops early.
    Credentials never reach the files: every request header value that is not protocol (the
    key, a token, a gateway header; the rule of :func:`provider.endpoint.secrets_of`) and
    anything shaped like ``sk-ant-…`` is masked in the sidecar's headers and, when the file is
    closed, in the body. ``paths`` lists the body files written.

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
        secrets = secrets_of(request.headers)
        decoder = _Decoder(response.headers.get("content-encoding", ""))
        headers = _kept_headers(response.headers, secrets)
        if decoder.unknown:  # recorded as it came, so the recording says how to read it
            headers["content-encoding"] = response.headers["content-encoding"]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            meta = FixtureMeta(status=response.status_code, headers=headers)
            meta_path(target).write_bytes(encode_meta(meta))
            file = target.open("wb")
        except OSError as exc:
            await _aclose_quietly(response)
            raise ProviderError(f"Cannot write fixture {target}: {exc.strerror}", exc) from exc
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_TeeStream(inner_stream, file, decoder, secrets),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _aclose_quietly(response: httpx.Response) -> None:
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        await stream.aclose()
