"""ReplayTransport and RecordingTransport at the transport level, with a plain httpx client."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from provider.errors import ProviderError
from provider.fixtures import Fixture, load_fixture, meta_path
from provider.replay import RecordingTransport, ReplayTransport

pytestmark = pytest.mark.anyio

URL = "https://api.anthropic.com/v1/messages"
BODY = (
    b'event: message_start\ndata: {"type":"message_start"}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
SECRET = "sk-ant-test-SECRET"


def fixture(body: bytes = BODY, status: int = 200, **headers: str) -> Fixture:
    return Fixture(
        name="t",
        body=body,
        status=status,
        headers={"content-type": "text/event-stream", **headers},
    )


class FakeSleep:
    """Records the pauses instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def pieces(transport: httpx.AsyncBaseTransport, url: str = URL) -> list[bytes]:
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("POST", url, json={}) as response,
    ):
        return [piece async for piece in response.aiter_raw()]


async def test_whole_body_in_one_piece_by_default() -> None:
    transport = ReplayTransport(fixture())
    assert await pieces(transport) == [BODY]


@pytest.mark.parametrize("size", [1, 7, 64, len(BODY), 10_000])
async def test_chunk_size_splits_the_body(size: int) -> None:
    got = await pieces(ReplayTransport(fixture(), chunk_size=size))
    assert got == [BODY[i : i + size] for i in range(0, len(BODY), size)]
    assert b"".join(got) == BODY


async def test_delay_between_pieces_via_injected_sleep() -> None:
    sleep = FakeSleep()
    transport = ReplayTransport(fixture(), chunk_size=10, delay=0.25, sleep=sleep)
    got = await pieces(transport)
    n = -(-len(BODY) // 10)
    assert len(got) == n
    # Between pieces, not before the first nor after the last.
    assert sleep.calls == [0.25] * (n - 1)


async def test_no_sleep_without_delay() -> None:
    sleep = FakeSleep()
    await pieces(ReplayTransport(fixture(), chunk_size=3, sleep=sleep))
    assert sleep.calls == []


async def test_real_anyio_sleep_runs_under_each_backend() -> None:
    got = await pieces(ReplayTransport(fixture(), chunk_size=50, delay=0.001))
    assert b"".join(got) == BODY


async def test_status_headers_and_a_request_id() -> None:
    transport = ReplayTransport(
        fixture(
            b'{"type":"error"}', 429, **{"retry-after": "7", "content-type": "application/json"}
        )
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(URL, json={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"].startswith("req_")
    assert response.content == b'{"type":"error"}'


async def test_fixture_request_id_wins() -> None:
    transport = ReplayTransport(fixture(**{"request-id": "req_011CFIXED"}))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(URL, json={})
    assert response.headers["request-id"] == "req_011CFIXED"
    assert response.headers.get_list("request-id") == ["req_011CFIXED"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", URL),
        ("PUT", URL),
        ("POST", "https://api.anthropic.com/v1/complete"),
        ("POST", "https://api.anthropic.com/v1/messages/count_tokens"),
        ("POST", "https://api.anthropic.com/"),
        ("POST", "https://api.anthropic.com/xv1/messages"),
    ],
)
async def test_anything_but_post_messages_is_a_404(method: str, url: str) -> None:
    transport = ReplayTransport(fixture())
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.request(method, url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.content)
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "replay only serves POST /v1/messages" in body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]
    assert len(transport.requests) == 1
    # A 404 does not use up a fixture of the sequence.
    assert await pieces(transport) == [BODY]


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.example/anthropic/v1/messages",
        "http://127.0.0.1:8080/proxy/a/b/v1/messages",
        "https://api.anthropic.com/v1/messages?beta=true",
    ],
)
async def test_any_base_path_prefix_is_served(url: str) -> None:
    assert await pieces(ReplayTransport(fixture()), url) == [BODY]


async def test_sequence_is_served_in_order_and_the_last_repeats() -> None:
    first = fixture(b'{"type":"error"}', 529)
    second = fixture(b"second")
    transport = ReplayTransport([first, second])
    async with httpx.AsyncClient(transport=transport) as client:
        statuses = []
        bodies = []
        for _ in range(4):
            response = await client.post(URL, json={"n": len(statuses)})
            statuses.append(response.status_code)
            bodies.append(response.content)
    assert statuses == [529, 200, 200, 200]
    assert bodies == [b'{"type":"error"}', b"second", b"second", b"second"]
    assert [json.loads(r.content)["n"] for r in transport.requests] == [0, 1, 2, 3]
    ids = [r.headers.get("request-id") for r in transport.requests]
    assert ids == [None] * 4  # request-id is a response header, not added to requests


async def test_paths_are_loaded_and_a_single_str_is_one_fixture(tmp_path: Path) -> None:
    (tmp_path / "a.sse").write_bytes(b"A")
    (tmp_path / "b.sse").write_bytes(b"B")
    single = ReplayTransport(str(tmp_path / "a.sse"))
    assert [f.body for f in single.fixtures] == [b"A"]
    both = ReplayTransport([tmp_path / "a.sse", str(tmp_path / "b.sse")])
    assert [await pieces(both) for _ in range(3)] == [[b"A"], [b"B"], [b"B"]]


async def test_requests_are_kept_with_their_body() -> None:
    transport = ReplayTransport(fixture())
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post(URL, content=b'{"model":"m"}', headers={"x-api-key": "k"})
        await client.get("https://api.anthropic.com/v1/models")
    assert [(r.method, r.url.path) for r in transport.requests] == [
        ("POST", "/v1/messages"),
        ("GET", "/v1/models"),
    ]
    assert transport.requests[0].content == b'{"model":"m"}'
    assert transport.requests[0].headers["x-api-key"] == "k"


async def test_early_close_stops_the_stream() -> None:
    sleep = FakeSleep()
    transport = ReplayTransport(fixture(), chunk_size=1, delay=0.5, sleep=sleep)
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("POST", URL, json={}) as response,
    ):
        raw = response.aiter_raw()
        received = [await raw.__anext__() for _ in range(3)]
        await response.aclose()
        # Reading on after the close gets nothing more, although most of the body is left.
        rest = [piece async for piece in raw]
    assert received == [BODY[:1], BODY[1:2], BODY[2:3]]
    assert rest == []
    assert sleep.calls == [0.5, 0.5]  # no pause after the close: nothing more was produced


async def test_closed_stream_yields_nothing_more() -> None:
    transport = ReplayTransport(fixture(), chunk_size=4)
    response = await transport.handle_async_request(httpx.Request("POST", URL))
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    iterator = stream.__aiter__()
    assert await iterator.__anext__() == BODY[:4]
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await iterator.__anext__()


async def test_closed_during_a_pause_yields_nothing_more() -> None:
    class CloseWhileSleeping(FakeSleep):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            await stream.aclose()

    transport = ReplayTransport(fixture(), chunk_size=4, delay=1.0, sleep=CloseWhileSleeping())
    response = await transport.handle_async_request(httpx.Request("POST", URL))
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    got = [piece async for piece in stream]
    assert got == [BODY[:4]]


def test_invalid_arguments() -> None:
    with pytest.raises(ProviderError, match="chunk_size"):
        ReplayTransport(fixture(), chunk_size=0)
    with pytest.raises(ProviderError, match="delay"):
        ReplayTransport(fixture(), delay=-1)
    with pytest.raises(ProviderError, match="at least one"):
        ReplayTransport([])
    with pytest.raises(ProviderError, match=r"missing\.sse"):
        ReplayTransport("missing.sse")


async def test_empty_body() -> None:
    assert await pieces(ReplayTransport(fixture(b""), chunk_size=4)) == []


# --- RecordingTransport --------------------------------------------------------------------


async def record(
    transport: RecordingTransport, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(URL, json={"secret": "no"}, headers=headers)
    return response


async def test_recording_is_byte_identical_and_holds_no_secret(tmp_path: Path) -> None:
    source = fixture(BODY.replace(b"\n", b"\r\n"))
    inner = ReplayTransport(source, chunk_size=5)
    recorder = RecordingTransport(inner, tmp_path / "rec.sse")
    response = await record(recorder, headers={"x-api-key": SECRET, "cookie": "c=SECRET"})
    assert response.content == source.body  # the caller still got everything
    assert (tmp_path / "rec.sse").read_bytes() == source.body
    assert recorder.paths == [tmp_path / "rec.sse"]
    meta = json.loads((tmp_path / "rec.meta.json").read_bytes())
    assert set(meta) <= {"status", "headers"}
    assert meta["headers"]["content-type"] == "text/event-stream"
    assert meta["headers"]["request-id"] == response.headers["request-id"]
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert SECRET.encode() not in data
        assert b"SECRET" not in data
        assert b"x-api-key" not in data
        assert b'"no"' not in data  # the request body is not recorded either
    assert load_fixture(tmp_path / "rec.sse").body == source.body


async def test_recording_keeps_error_status_and_useful_headers_only(tmp_path: Path) -> None:
    source = Fixture(
        name="e",
        body=b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
        status=429,
        headers={
            "content-type": "application/json",
            "retry-after": "7",
            "request-id": "req_011CKEEP",
            "anthropic-ratelimit-requests-remaining": "0",
            "set-cookie": "session=abc",
            "cf-ray": "8f00",
            "x-leak": SECRET,
        },
    )
    recorder = RecordingTransport(ReplayTransport(source), tmp_path / "err.json")
    response = await record(recorder)
    assert response.status_code == 429
    assert response.headers["set-cookie"] == "session=abc"  # the caller sees everything
    loaded = load_fixture(tmp_path / "err.json")
    assert loaded.status == 429
    assert loaded.body == source.body
    assert loaded.headers == {
        "content-type": "application/json",
        "retry-after": "7",
        "request-id": "req_011CKEEP",
        "anthropic-ratelimit-requests-remaining": "0",
    }


async def test_second_request_gets_a_numbered_file(tmp_path: Path) -> None:
    inner = ReplayTransport([fixture(b"one"), fixture(b"two"), fixture(b"three")])
    recorder = RecordingTransport(inner, tmp_path / "cap.sse")
    async with httpx.AsyncClient(transport=recorder) as client:
        for _ in range(3):
            await client.post(URL, json={})
    assert recorder.paths == [tmp_path / n for n in ("cap.sse", "cap-1.sse", "cap-2.sse")]
    assert [p.read_bytes() for p in recorder.paths] == [b"one", b"two", b"three"]
    assert all(meta_path(p).exists() for p in recorder.paths)


async def test_early_stop_keeps_what_arrived(tmp_path: Path) -> None:
    inner = ReplayTransport(fixture(), chunk_size=8)
    recorder = RecordingTransport(inner, tmp_path / "part.sse")
    async with (
        httpx.AsyncClient(transport=recorder) as client,
        client.stream("POST", URL, json={}) as response,
    ):
        raw = response.aiter_raw()
        received = await raw.__anext__() + await raw.__anext__()
        # Written as the caller consumes it, not at the end.
        assert (tmp_path / "part.sse").read_bytes() == received
        await response.aclose()
        assert [piece async for piece in raw] == []
    recorded = (tmp_path / "part.sse").read_bytes()
    assert recorded == received == BODY[:16]
    assert load_fixture(tmp_path / "part.sse").body == BODY[:16]


async def test_recording_an_inner_async_generator_stopped_early(tmp_path: Path) -> None:
    closed: list[str] = []

    class GeneratorStream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                for i in range(10):
                    yield b"%d" % i
            finally:
                closed.append("generator")

        async def aclose(self) -> None:
            closed.append("stream")

    class Inner(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=GeneratorStream())

    recorder = RecordingTransport(Inner(), tmp_path / "g.sse")
    async with (
        httpx.AsyncClient(transport=recorder) as client,
        client.stream("POST", URL) as response,
    ):
        raw = response.aiter_raw()
        assert await raw.__anext__() == b"0"
        await response.aclose()
        assert [piece async for piece in raw] == []
    # The inner generator is closed at once (not left to the GC), then the inner stream.
    assert closed == ["generator", "stream"]
    assert (tmp_path / "g.sse").read_bytes() == b"0"


async def test_records_the_decoded_text_without_the_content_encoding(tmp_path: Path) -> None:
    # Decoded, so that the masking sees the text and a reader can too (issue 12).
    compressed = gzip.compress(BODY)
    source = fixture(compressed, **{"content-encoding": "gzip"})
    recorder = RecordingTransport(ReplayTransport(source, chunk_size=9), tmp_path / "gz.sse")
    response = await record(recorder)
    assert response.content == BODY  # the caller gets decoded content
    assert (tmp_path / "gz.sse").read_bytes() == BODY
    assert "content-encoding" not in load_fixture(tmp_path / "gz.sse").headers
    async with httpx.AsyncClient(transport=ReplayTransport(tmp_path / "gz.sse")) as client:
        again = await client.post(URL, json={})
    assert again.content == BODY


async def test_recording_transport_closes_its_inner_transport(tmp_path: Path) -> None:
    closed: list[bool] = []

    class Inner(ReplayTransport):
        async def aclose(self) -> None:
            closed.append(True)

    async with RecordingTransport(Inner(fixture()), tmp_path / "x.sse"):
        pass
    assert closed == [True]


async def test_unwritable_path_is_a_provider_error_and_closes_the_response(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    recorder = RecordingTransport(ReplayTransport(fixture()), blocker / "sub" / "x.sse")
    async with httpx.AsyncClient(transport=recorder) as client:
        with pytest.raises(ProviderError, match="Cannot write fixture"):
            await client.post(URL, json={})
