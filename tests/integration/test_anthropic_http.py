"""The httpx shell against pytest-httpx: request shape, every error mapping, the retry rules,
and that no failure leaks the key or loses text that already arrived."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from provider import (
    MODELS,
    AnthropicProvider,
    AuthenticationError,
    Message,
    MessageStreamChunk,
    NetworkError,
    OverloadedError,
    ProviderConfig,
    ProviderError,
    RateLimitError,
    StopChunk,
    TextChunk,
    TokenLimitError,
    UsageChunk,
)

pytestmark = pytest.mark.anyio

KEY = "sk-ant-api03-TESTKEY-never-shown"
URL = "https://api.anthropic.com/v1/messages"
SSE = {"content-type": "text/event-stream", "request-id": "req_stream"}


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
    )


def start(input_tokens: int = 12, output_tokens: int = 1) -> tuple[str, dict[str, Any]]:
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
               "model": "claude-sonnet-4-5", "stop_reason": None, "usage": usage}  # fmt: skip
    return ("message_start", {"type": "message_start", "message": message})


def block(index: int = 0) -> tuple[str, dict[str, Any]]:
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index,
         "content_block": {"type": "text", "text": ""}},
    )  # fmt: skip


def text(t: str, index: int = 0) -> tuple[str, dict[str, Any]]:
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": index,
         "delta": {"type": "text_delta", "text": t}},
    )  # fmt: skip


def end(output_tokens: int = 7, stop_reason: str = "end_turn") -> list[tuple[str, dict[str, Any]]]:
    return [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                           "usage": {"output_tokens": output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip


HELLO = sse(start(), block(), text("Hello"), text(", world"), *end())


def error_body(kind: str, message: str, request_id: str = "req_err") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def make(**kw: Any) -> AnthropicProvider:
    config = ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key=kw.pop("api_key", KEY),
        base_url=kw.pop("base_url", None),
    )
    kw.setdefault("retry_base_delay", 0.0)
    return AnthropicProvider(config, **kw)


async def collect(
    provider: AnthropicProvider, sink: list[MessageStreamChunk] | None = None
) -> list[MessageStreamChunk]:
    chunks: list[MessageStreamChunk] = [] if sink is None else sink
    async with provider:
        async for chunk in provider.create_message("Be brief.", [Message("user", "Hi")]):
            chunks.append(chunk)
    return chunks


def texts(chunks: Iterable[MessageStreamChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


def assert_no_key(error: BaseException) -> None:
    for shown in (str(error), repr(error), *map(str, error.args)):
        assert KEY not in shown
        assert "TESTKEY" not in shown


# --- the request -------------------------------------------------------------------------


async def test_request_shape_and_streamed_chunks(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, method="POST", headers=SSE, content=HELLO)
    chunks = await collect(make())
    request = httpx_mock.get_requests()[0]
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": MODELS["claude-sonnet-4-5"].max_tokens,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
    assert texts(chunks) == "Hello, world"
    assert chunks[-1] == StopChunk(stop_reason="end_turn", stop_sequence=None)
    usage = [c for c in chunks if isinstance(c, UsageChunk)]
    assert sum(u.input_tokens for u in usage) == 12
    assert sum(u.output_tokens for u in usage) == 7


async def test_empty_system_prompt_is_left_out(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(headers=SSE, content=HELLO)
    async with make() as p:
        async for _ in p.create_message("", [Message("user", "Hi")]):
            pass
    assert "system" not in json.loads(httpx_mock.get_requests()[0].content)


async def test_max_tokens_defaults_when_model_info_has_none(httpx_mock: HTTPXMock) -> None:
    from provider import ModelInfo

    httpx_mock.add_response(headers=SSE, content=HELLO)
    config = ProviderConfig(model_id="my-model", model_info=ModelInfo(input_price=1.0), api_key=KEY)
    async with AnthropicProvider(config) as p:
        async for _ in p.create_message("s", [Message("user", "Hi")]):
            pass
    assert json.loads(httpx_mock.get_requests()[0].content)["max_tokens"] == 4096


async def test_body_is_streamed_in_pieces(httpx_mock: HTTPXMock) -> None:
    pieces = [HELLO[i : i + 7] for i in range(0, len(HELLO), 7)]
    httpx_mock.add_response(headers=SSE, stream=IteratorStream(pieces))
    assert texts(await collect(make())) == "Hello, world"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.anthropic.com", URL),
        ("https://api.anthropic.com/", URL),
        ("https://gw.example.com/anthropic", "https://gw.example.com/anthropic/v1/messages"),
        ("https://gw.example.com/anthropic/", "https://gw.example.com/anthropic/v1/messages"),
        ("https://gw.example.com/proxy/v1", "https://gw.example.com/proxy/v1/messages"),
        ("https://gw.example.com/proxy/v1/", "https://gw.example.com/proxy/v1/messages"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/messages"),
    ],
)
async def test_base_url_rules(httpx_mock: HTTPXMock, base_url: str, expected: str) -> None:
    httpx_mock.add_response(url=expected, headers=SSE, content=HELLO)
    assert texts(await collect(make(base_url=base_url))) == "Hello, world"


async def test_environment_defaults(httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://env.example.com/pfx")
    httpx_mock.add_response(
        url="https://env.example.com/pfx/v1/messages", headers=SSE, content=HELLO
    )
    config = ProviderConfig(model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"])
    async with AnthropicProvider(config) as p:
        async for _ in p.create_message("s", [Message("user", "Hi")]):
            pass
    assert httpx_mock.get_requests()[0].headers["x-api-key"] == "sk-ant-from-env"


@pytest.mark.parametrize("base_url", ["ftp://x.example.com", "not a url", "https://h/p?q=1"])
def test_invalid_base_url_is_a_clear_error_at_construction(base_url: str) -> None:
    with pytest.raises(ProviderError, match="Invalid base URL"):
        make(base_url=base_url)


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        make(api_key=None)


def test_repr_hides_the_key() -> None:
    p = make()
    assert KEY not in repr(p) and KEY not in str(p) and KEY not in repr(p.config)


@pytest.mark.parametrize("messages", [[], ["not a message"], [{"role": "user", "content": "dict"}]])
async def test_bad_messages_are_refused_before_any_request(messages: list[Any]) -> None:
    async with make() as p:
        with pytest.raises(ProviderError, match="message"):
            async for _ in p.create_message("s", messages):
                pass


# --- error mapping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "error_type"),
    [
        (429, error_body("rate_limit_error", "Slow down"), {"retry-after": "7"},
         RateLimitError, "rate_limit_error"),
        (413, error_body("request_too_large", "Request exceeds the maximum size"), {},
         TokenLimitError, "request_too_large"),
        (400, error_body("invalid_request_error",
                         "prompt is too long: 219898 tokens > 200000 maximum"), {},
         TokenLimitError, "invalid_request_error"),
        (400, error_body("invalid_request_error", "messages: field required"), {},
         ProviderError, "invalid_request_error"),
        (401, error_body("authentication_error", "invalid x-api-key"), {},
         AuthenticationError, "authentication_error"),
        (403, error_body("permission_error", "not allowed"), {},
         AuthenticationError, "permission_error"),
        (404, error_body("not_found_error", "model: nope"), {}, ProviderError, "not_found_error"),
        (500, error_body("api_error", "Internal server error"), {}, ProviderError, "api_error"),
        (529, error_body("overloaded_error", "Overloaded"), {},
         OverloadedError, "overloaded_error"),
    ],
)  # fmt: skip
async def test_error_responses_map_to_classes(
    httpx_mock: HTTPXMock,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    cls: type[ProviderError],
    error_type: str,
) -> None:
    httpx_mock.add_response(
        status_code=status, json=body, headers={"request-id": "req_hdr", **headers}
    )
    with pytest.raises(cls) as info:
        await collect(make(max_retries=0))
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.error_type == error_type
    assert error.request_id == "req_hdr"
    assert body["error"]["message"] in str(error)
    assert_no_key(error)
    if cls is RateLimitError:
        assert error.retry_after == 7.0


async def test_request_id_comes_from_the_error_body_without_a_header(
    httpx_mock: HTTPXMock,
) -> None:
    body = error_body("invalid_request_error", "bad", request_id="req_in_body")
    httpx_mock.add_response(status_code=400, json=body)  # no request-id header
    with pytest.raises(ProviderError) as info:
        await collect(make(max_retries=0))
    assert info.value.request_id == "req_in_body"


async def test_retry_after_ms_wins_over_retry_after(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=429,
        json=error_body("rate_limit_error", "Slow down"),
        headers={"retry-after": "9", "retry-after-ms": "1500"},
    )
    with pytest.raises(RateLimitError) as info:
        await collect(make(max_retries=0))
    assert info.value.retry_after == 1.5


async def test_html_502_from_a_gateway(httpx_mock: HTTPXMock) -> None:
    page = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    httpx_mock.add_response(status_code=502, html=page)
    with pytest.raises(ProviderError) as info:
        await collect(make(max_retries=0))
    assert type(info.value) is ProviderError
    assert info.value.status == 502
    # The page's title, and nothing else of it: not the markup, not the server banner.
    assert info.value.message.endswith("): 502 Bad Gateway")
    assert "text/html" in str(info.value)
    assert "nginx" not in str(info.value)
    assert "<" not in str(info.value)


async def test_200_that_is_not_an_event_stream(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=200, json={"id": "msg_1", "content": []})
    with pytest.raises(ProviderError, match="not an event stream") as info:
        await collect(make(max_retries=0))
    assert info.value.status == 200
    assert "application/json" in str(info.value)


async def test_redirect_is_not_followed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=307, headers={"location": "https://evil.example.com/v1"})
    with pytest.raises(ProviderError, match=r"evil\.example\.com") as info:
        await collect(make(max_retries=0))
    assert info.value.status == 307
    assert len(httpx_mock.get_requests()) == 1


async def test_mid_stream_overloaded_after_text(httpx_mock: HTTPXMock) -> None:
    overloaded = ("error", error_body("overloaded_error", "Overloaded"))
    httpx_mock.add_response(headers=SSE, content=sse(start(), block(), text("Par"), overloaded))
    chunks: list[MessageStreamChunk] = []
    with pytest.raises(OverloadedError) as info:
        await collect(make(), chunks)
    assert texts(chunks) == "Par"
    assert info.value.request_id == "req_err"  # the error event names its own request
    assert len(httpx_mock.get_requests()) == 1  # a chunk was yielded: never retried


async def test_stream_cut_before_message_stop(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(headers=SSE, content=sse(start(), block(), text("Half a")))
    chunks: list[MessageStreamChunk] = []
    with pytest.raises(NetworkError, match="message_stop") as info:
        await collect(make(), chunks)
    assert texts(chunks) == "Half a"
    assert info.value.request_id == "req_stream"  # the response's, for a support ticket


async def test_read_failure_mid_stream_is_a_network_error(httpx_mock: HTTPXMock) -> None:
    def pieces() -> Iterable[bytes]:
        yield sse(start(), block(), text("So far"))
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    httpx_mock.add_response(headers=SSE, stream=IteratorStream(pieces()))
    chunks: list[MessageStreamChunk] = []
    with pytest.raises(NetworkError, match="RemoteProtocolError") as info:
        await collect(make(), chunks)
    assert texts(chunks) == "So far"
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


@pytest.mark.parametrize(
    ("exc", "pattern"),
    [
        (httpx.ConnectError("connection refused"), "ConnectError"),
        (httpx.ConnectTimeout("timed out"), "ConnectTimeout after 10s"),
        (httpx.ReadTimeout("timed out"), "ReadTimeout after 120s"),
    ],
)
async def test_transport_failures_are_network_errors(
    httpx_mock: HTTPXMock, exc: Exception, pattern: str
) -> None:
    httpx_mock.add_exception(exc)
    with pytest.raises(NetworkError, match=pattern) as info:
        await collect(make(max_retries=0))
    assert info.value.__cause__ is exc
    assert_no_key(info.value)


# --- retries -----------------------------------------------------------------------------


async def test_retries_529_then_streams(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=529, json=error_body("overloaded_error", "Overloaded"))
    httpx_mock.add_response(status_code=500, json=error_body("api_error", "Internal"))
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=2))) == "Hello, world"
    assert len(httpx_mock.get_requests()) == 3


async def test_a_409_is_retried(httpx_mock: HTTPXMock) -> None:
    # Retried for its status alone: the error type is not one of the retried ones.
    httpx_mock.add_response(status_code=409, json=error_body("invalid_request_error", "Conflict"))
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=1))) == "Hello, world"
    assert len(httpx_mock.get_requests()) == 2


async def test_retries_connect_errors(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=1))) == "Hello, world"


async def test_gives_up_after_max_retries(httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_response(status_code=529, json=error_body("overloaded_error", "Overloaded"))
    with pytest.raises(OverloadedError):
        await collect(make(max_retries=2))
    assert len(httpx_mock.get_requests()) == 3


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls"),
    [
        (400, error_body("invalid_request_error", "bad"), {}, ProviderError),
        (401, error_body("authentication_error", "bad key"), {}, AuthenticationError),
        (500, error_body("api_error", "no"), {"x-should-retry": "false"}, ProviderError),
        (429, error_body("rate_limit_error", "spend cap"), {"retry-after": "3600"},
         RateLimitError),
    ],
)  # fmt: skip
async def test_not_retried(
    httpx_mock: HTTPXMock,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    cls: type[ProviderError],
) -> None:
    httpx_mock.add_response(status_code=status, json=body, headers=headers)
    with pytest.raises(cls) as info:
        await collect(make(max_retries=2))
    assert type(info.value) is cls
    assert info.value.status == status
    assert body["error"]["message"] in str(info.value)
    assert len(httpx_mock.get_requests()) == 1


async def test_x_should_retry_true_retries_a_400(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=400,
        json=error_body("invalid_request_error", "x"),
        headers={"x-should-retry": "true"},
    )
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=1))) == "Hello, world"


async def test_waits_what_the_server_asks(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    real_sleep = anyio.sleep

    async def record(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", record)
    httpx_mock.add_response(
        status_code=429, json=error_body("rate_limit_error", "wait"), headers={"retry-after": "2"}
    )
    httpx_mock.add_response(
        status_code=529, json=error_body("overloaded_error", "o"), headers={"retry-after-ms": "250"}
    )
    httpx_mock.add_response(status_code=503, json=error_body("api_error", "unavailable"))
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=3, retry_base_delay=0.5))) == "Hello, world"
    assert slept[:2] == [2.0, 0.25]
    # no hint: base * 2**attempt with up to 25 % jitter off
    assert 2.0 * 0.75 <= slept[2] <= 2.0


@pytest.mark.parametrize(("ahead", "waited"), [(30, 30.0), (-30, 0.0)])
async def test_an_http_date_retry_after_is_waited_until(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch, ahead: int, waited: float
) -> None:
    # The clock and the sleep are both stand-ins: nothing here takes real time.
    now = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    monkeypatch.setattr("provider.retry.time", SimpleNamespace(time=lambda: now))
    slept: list[float] = []
    real_sleep = anyio.sleep

    async def record(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", record)
    date = email.utils.formatdate(now + ahead, usegmt=True)
    httpx_mock.add_response(
        status_code=429, json=error_body("rate_limit_error", "wait"), headers={"retry-after": date}
    )
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=1))) == "Hello, world"
    assert slept == [pytest.approx(waited, abs=1.0)]  # a date already past: at once


async def test_mid_stream_error_before_any_chunk_is_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        headers=SSE, content=sse(("error", error_body("overloaded_error", "Overloaded")))
    )
    httpx_mock.add_response(headers=SSE, content=HELLO)
    assert texts(await collect(make(max_retries=1))) == "Hello, world"


async def test_retry_logs_never_show_the_key(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(status_code=529, json=error_body("overloaded_error", "Overloaded"))
    httpx_mock.add_response(headers=SSE, content=HELLO)
    await collect(make(max_retries=1))
    assert any("retrying" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage()


async def test_server_echoing_the_key_is_redacted(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=401, json=error_body("authentication_error", f"invalid x-api-key: {KEY}")
    )
    with pytest.raises(AuthenticationError) as info:
        await collect(make(max_retries=0))
    assert_no_key(info.value)


async def test_user_client_is_used_and_left_open(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(headers=SSE, content=HELLO)
    async with httpx.AsyncClient() as client:
        config = ProviderConfig(
            model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"], api_key=KEY
        )
        p = AnthropicProvider(config, http_client=client)
        assert texts(await collect(p)) == "Hello, world"
        assert not client.is_closed
