"""Fuzzing: whatever bytes arrive, the decoder and the provider yield chunks or raise a
ProviderError; they never hang (each example is bounded) and never raise anything else.

Inputs are arbitrary bytes, SSE-shaped token soup, and the recorded fixture streams mutated
(bytes flipped, dropped, duplicated, inserted, truncated; events dropped, repeated, swapped),
cut into arbitrary pieces. The full provider runs over ``httpx.MockTransport`` (smaller budget),
with optional gzip and a transport failure injected at any point.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import aclosing, closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    NetworkError,
    ProviderConfig,
    ProviderError,
    SyncAnthropicProvider,
)
from provider.stream import DEFAULT_MAX_EVENT_SIZE, ChunkDecoder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = {path.name: path.read_bytes() for path in sorted(FIXTURES.glob("*.sse"))}
BOUND = 10.0  # seconds per example: far beyond any honest run, short of a hang

# Deterministic (derandomize), and quick: no deadline, modest example counts.
DECODER = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROVIDER = settings(DECODER, max_examples=150)


class Hang(Exception):
    """An example ran past its bound."""


@contextmanager
def bounded(seconds: float = BOUND) -> Iterator[None]:
    """Raise ``Hang`` in the main thread if the block runs longer than ``seconds``."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield  # pragma: no cover - no SIGALRM here: unbounded, as pytest-timeout would be
        return

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no outcome within {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def decode(
    pieces: Sequence[bytes], max_event_size: int = DEFAULT_MAX_EVENT_SIZE
) -> tuple[list[MessageStreamChunk], ProviderError | None, bool]:
    """Feed ``pieces`` then close: the chunks, the ProviderError (if any), whether it was done.
    Anything other than a ProviderError propagates and fails the test."""
    decoder = ChunkDecoder(max_event_size=max_event_size)
    chunks: list[MessageStreamChunk] = []
    try:
        with bounded():
            for piece in pieces:
                chunks.extend(decoder.feed(piece))
            done = decoder.done
            chunks.extend(decoder.close())
    except ProviderError as exc:
        return chunks, exc, decoder.done
    return chunks, None, done


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` split at ``points`` (taken modulo its length)."""
    if not data:
        return [data]
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(marks)]


_EVENT_END = re.compile(rb"(?<=\r\n\r\n)|(?<=\n\n)|(?<=\r\r)")


def events_of(body: bytes) -> list[bytes]:
    return [part for part in _EVENT_END.split(body) if part]


def mutate(body: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply each (kind, a, b, extra) in turn; positions are taken modulo the current size."""
    for kind, a, b, extra in mutations:
        size = len(body)
        if kind in ("swap", "drop event", "repeat event"):
            events = events_of(body)
            if not events:
                continue
            i, j = a % len(events), b % len(events)
            if kind == "swap":
                events[i], events[j] = events[j], events[i]
            elif kind == "drop event":
                del events[i]
            else:
                events.insert(i, events[i])
            body = b"".join(events)
            continue
        if not size:
            body = extra
            continue
        i = a % size
        j = min(size, i + 1 + b % 64)
        if kind == "flip":
            body = body[:i] + bytes([body[i] ^ (b % 255 + 1)]) + body[i + 1 :]
        elif kind == "drop":
            body = body[:i] + body[j:]
        elif kind == "duplicate":
            body = body[:j] + body[i:j] + body[j:]
        elif kind == "insert":
            body = body[:i] + extra + body[i:]
        elif kind == "truncate":
            body = body[:i]
    return body


MUTATION = st.tuples(
    st.sampled_from(
        ["flip", "drop", "duplicate", "insert", "truncate", "swap", "drop event", "repeat event"]
    ),
    st.integers(0, 2**20),
    st.integers(0, 2**20),
    st.binary(min_size=1, max_size=12),
)
MUTATED = st.builds(
    mutate, st.sampled_from(sorted(CORPUS)).map(CORPUS.__getitem__), st.lists(MUTATION, max_size=6)
)
POINTS = st.lists(st.integers(0, 2**20), max_size=12)
SIZES = st.sampled_from([8, 64, 512, DEFAULT_MAX_EVENT_SIZE])
# SSE-shaped token soup: reaches deeper into the framer than noise.
TOKENS = st.sampled_from(
    [b"event: ", b"data: ", b"id: ", b"retry: 5", b":", b" ", b"\n", b"\r", b"\r\n",
     b"\xef\xbb\xbf", b"{", b"}", b"[", b"]", b",", b'"', b"\\", b"\xff", b"\xed\xa0\x80",
     b"null", b"1", b"-1", b"1e309", b'"type":', b'"index":', b'"delta":', b'"text":',
     b'"message_start"', b'"content_block_delta"', b'"text_delta"', b"message_stop", b"ping"]
)  # fmt: skip
SOUP = st.lists(TOKENS, max_size=80).map(b"".join)

# Events that are mostly well-formed JSON of plausible shapes in any order, so that the wire
# decoders and the state machine see every kind of event, field and value out of place.
KINDS = ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
         "message_delta", "message_stop", "error", "ping", "future_event"]  # fmt: skip
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**64), st.floats(), st.text(max_size=6))
VALUE = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
SMALL = st.one_of(st.integers(0, 2), st.integers(0, 2), VALUE)  # mostly a fitting index
USAGE_KEYS = ["input_tokens", "output_tokens", "cache_creation_input_tokens",
              "cache_read_input_tokens", "cache_creation"]  # fmt: skip
ONE_HOUR = st.fixed_dictionaries({}, optional={"ephemeral_1h_input_tokens": SMALL})
USAGE = st.dictionaries(st.sampled_from(USAGE_KEYS), st.one_of(SMALL, ONE_HOUR))
PART_KINDS = ["text", "text_delta", "thinking", "thinking_delta", "tool_use", "input_json_delta",
              "signature_delta", "new_kind", 7]  # fmt: skip
PART = st.fixed_dictionaries(
    {"type": st.sampled_from(PART_KINDS)},
    optional={
        "text": st.one_of(st.text(max_size=8), VALUE),
        "thinking": st.text(max_size=4),
        "partial_json": st.sampled_from(['{"a": ', "1}", "}", "[", ""]),
        "id": st.text(max_size=3),
        "name": st.text(max_size=3),
        "input": VALUE,
    },
)
ERROR = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["overloaded_error", "api_error", "x"]),
        "message": st.text(max_size=5),
    },
)
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(KINDS)},
    optional={
        "index": SMALL,
        "delta": st.one_of(PART, PART, VALUE),
        "content_block": st.one_of(PART, PART, VALUE),
        "usage": st.one_of(USAGE, VALUE),
        "message": st.fixed_dictionaries({}, optional={"usage": USAGE, "id": VALUE}),
        "error": ERROR,
    },
)
START = b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
NOISE = st.one_of(st.just(b""), st.just(b""), st.just(b""), SOUP)  # mostly none


def _frame(named: bool, event: dict[str, Any], noise: bytes) -> bytes:
    data = json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass") + noise
    name = b"event: " + str(event["type"]).encode() + b"\n" if named else b""
    return name + b"data: " + data + b"\n\n"


def _stream(started: bool, events: list[bytes]) -> bytes:
    return (START if started else b"") + b"".join(events)


EVENTS = st.builds(
    _stream, st.booleans(), st.lists(st.builds(_frame, st.booleans(), EVENT, NOISE), max_size=12)
)


# --- the sans-I/O decoder -------------------------------------------------------------------------


@DECODER
@given(data=st.binary(max_size=4096), points=POINTS, size=SIZES)
def test_decoder_on_arbitrary_bytes(data: bytes, points: list[int], size: int) -> None:
    decode(cut(data, points), size)


@DECODER
@given(data=st.one_of(SOUP, EVENTS), points=POINTS, size=SIZES)
def test_decoder_on_sse_shaped_input(data: bytes, points: list[int], size: int) -> None:
    chunks, error, _ = decode(cut(data, points), size)
    whole, whole_error, _ = decode([data], size)
    # However the bytes are cut, the outcome is the same.
    assert chunks == whole
    assert type(error) is type(whole_error)


@DECODER
@given(data=MUTATED, points=POINTS, size=SIZES)
def test_decoder_on_mutated_fixture_streams(data: bytes, points: list[int], size: int) -> None:
    chunks, error, done = decode(cut(data, points), size)
    whole, whole_error, _ = decode([data], size)
    assert chunks == whole
    assert type(error) is type(whole_error)
    if error is None:
        assert done  # a stream that ends cleanly got its message_stop


# --- the whole provider over MockTransport --------------------------------------------------------

KEY = "sk-ant-api03-FUZZKEY-never-shown"
FAULTS: list[type[httpx.TransportError] | None] = [
    None,
    httpx.ReadError,
    httpx.RemoteProtocolError,
    httpx.ReadTimeout,
]


CONFIG = ProviderConfig(
    model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"], api_key=KEY
)
MESSAGES = [Message(role="user", content="Hi")]
# The async provider under each event loop, and its sync twin (which runs none).
BACKENDS = ["asyncio", "trio", "sync"]


def provider(client: httpx.AsyncClient) -> AnthropicProvider:
    return AnthropicProvider(CONFIG, http_client=client, max_retries=0)


def body_of(pieces: list[bytes], fault: tuple[int, type[Exception]] | None) -> Iterator[bytes]:
    for index, piece in enumerate(pieces):
        if fault is not None and index == fault[0]:
            raise fault[1]("injected")
        yield piece
    if fault is not None and fault[0] >= len(pieces):
        raise fault[1]("injected")


def stream_through(
    backend: str,
    status: int,
    headers: dict[str, str],
    pieces: list[bytes],
    fault: tuple[int, type[Exception]] | None,
) -> tuple[list[MessageStreamChunk], Exception | None]:
    """The chunks and the error of one response served by MockTransport to the ``backend``'s
    provider."""
    if backend != "sync":
        return anyio.run(stream_async, status, headers, pieces, fault, backend=backend)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body_of(pieces, fault))

    chunks: list[MessageStreamChunk] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        p = SyncAnthropicProvider(CONFIG, http_client=client, max_retries=0)
        try:
            with closing(p.create_message("", MESSAGES)) as stream:
                for chunk in stream:
                    chunks.append(chunk)
        except Exception as exc:  # checked by the caller: must be a ProviderError
            return chunks, exc
    return chunks, None


async def stream_async(
    status: int,
    headers: dict[str, str],
    pieces: list[bytes],
    fault: tuple[int, type[Exception]] | None,
) -> tuple[list[MessageStreamChunk], Exception | None]:
    async def body() -> Any:
        for piece in body_of(pieces, fault):
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body())

    chunks: list[MessageStreamChunk] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        try:
            with anyio.fail_after(BOUND):
                async with aclosing(provider(client).create_message("", MESSAGES)) as stream:
                    async for chunk in stream:
                        chunks.append(chunk)
        except Exception as exc:  # checked by the caller: must be a ProviderError
            return chunks, exc
    return chunks, None


def check_error(error: Exception | None) -> None:
    if error is not None:
        assert isinstance(error, ProviderError), f"leaked {type(error).__name__}: {error!r}"
        assert KEY not in str(error) and KEY not in repr(error)


@pytest.mark.parametrize("backend", BACKENDS)
@PROVIDER
@given(
    data=MUTATED,
    points=POINTS,
    gzipped=st.booleans(),
    fault=st.one_of(st.none(), st.tuples(st.integers(0, 12), st.sampled_from(FAULTS[1:]))),
)
def test_provider_on_mutated_fixture_streams(
    backend: str,
    data: bytes,
    points: list[int],
    gzipped: bool,
    fault: tuple[int, type[Exception]] | None,
) -> None:
    headers = {"content-type": "text/event-stream"}
    wire = data
    if gzipped:
        headers["content-encoding"] = "gzip"
        wire = gzip.compress(data)
    pieces = cut(wire, points)
    chunks, error = stream_through(backend, 200, headers, pieces, fault)
    check_error(error)

    # What a correct client yields: the decoder's chunks for the bytes that got through.
    delivered = pieces if fault is None else pieces[: fault[0]]
    if gzipped:
        delivered = [_gunzip_prefix(b"".join(delivered))]
    expected, expected_error, done = decode(delivered)
    if fault is None:
        assert chunks == expected
        assert type(error) is type(expected_error)
    else:
        # decode() closed the input; the provider met the fault first, so compare the chunks
        # that came before either end.
        assert chunks == expected[: len(chunks)]
        if not done:
            assert chunks == expected
            assert isinstance(error, ProviderError)
            if expected_error is None or isinstance(expected_error, NetworkError):
                assert isinstance(error, NetworkError)  # the injected fault
            else:
                assert type(error) is type(expected_error)  # the decoder failed first


def _gunzip_prefix(data: bytes) -> bytes:
    import zlib

    return zlib.decompressobj(wbits=31).decompress(data)


@pytest.mark.parametrize("backend", BACKENDS)
@PROVIDER
@given(
    status=st.sampled_from([200, 201, 400, 401, 403, 404, 413, 429, 500, 502, 503, 529]),
    content_type=st.sampled_from(
        ["text/event-stream", "application/json", "text/html", "text/plain", ""]
    ),
    body=st.one_of(EVENTS, st.binary(max_size=512), MUTATED),
    points=POINTS,
)
def test_provider_on_any_response(
    backend: str, status: int, content_type: str, body: bytes, points: list[int]
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    chunks, error = stream_through(backend, status, headers, cut(body, points), None)
    check_error(error)
    if status >= 300:
        assert not chunks and isinstance(error, ProviderError) and error.status == status


API_ERROR = b'{"type":"error","error":{"type":"api_error","message":"%s"}}'


@pytest.mark.parametrize("backend", ["asyncio", "sync"])
@settings(DECODER, max_examples=40, phases=[Phase.explicit, Phase.generate])
@given(
    status=st.sampled_from([429, 500, 529]),
    message=st.binary(max_size=16),
    retry_after=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        st.builds("Mon, 01 Jan {} 00:00:00 GMT".format, st.integers(0, 10**30)),
    ),
)
def test_provider_on_api_error_bodies(
    backend: str, status: int, message: bytes, retry_after: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    _, error = stream_through(backend, status, headers, [API_ERROR % message], None)
    check_error(error)
    assert isinstance(error, ProviderError) and error.status == status
