"""count_tokens and per-call options against a real 127.0.0.1 server (``ScriptedUpstream``, which
keeps the request headers as sent): the path under a prefix, the body, the headers, and errors
mapped, retried and masked exactly as for create_message; for the async provider and its sync
twin (``shell``)."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import pytest

from provider import (
    MODELS,
    AuthenticationError,
    Message,
    NetworkError,
    ProviderConfig,
    ProviderError,
    RateLimitError,
    RequestOptions,
    TextBlock,
    TextChunk,
    Thinking,
    Tool,
    ToolChoice,
)
from tests.gateway_support import Reply, ScriptedUpstream, closed_port
from tests.shells import Shell

pytestmark = pytest.mark.anyio

KEY = "loopback-count-key-1234"  # not key-shaped: masked as an exact value
CALL_SECRET = "per-call-gateway-secret-42"
LIMIT = 10  # seconds: a hang fails the test instead of the suite
HI = [Message("user", "Hi")]
JSON = [("content-type", "application/json")]
COUNT = Reply(200, [*JSON, ("request-id", "req_count")], b'{"input_tokens": 42}')
STREAM = Reply(
    200,
    [("content-type", "text/event-stream")],
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
    b'"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
)
OPTIONS = RequestOptions(
    max_tokens=300,
    temperature=0.3,
    stop_sequences=["END"],
    tools=[Tool("get_weather", {"type": "object"}, description="Weather")],
    tool_choice=ToolChoice("auto"),
    thinking=Thinking(budget_tokens=1024),
    user_id="u-1",
    betas=["token-counting-2024-11-01"],
    headers={"x-gateway-key": CALL_SECRET},
)


def api_error(status: int, kind: str, message: str, *extra: tuple[str, str]) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Reply(
        status, [*JSON, ("request-id", f"req_{status}"), *extra], json.dumps(body).encode()
    )


def client(
    shell: Shell, url: str, *, retries: int = 0, **config: Any
) -> AbstractAsyncContextManager[Any]:
    """The ``shell``'s provider (async, or the sync twin), closed when the block ends."""
    settings = ProviderConfig(
        model_id="claude-opus-4-8",
        model_info=MODELS["claude-opus-4-8"],
        api_key=KEY,
        base_url=url,
        **config,
    )
    return shell.opened(settings, max_retries=retries, retry_base_delay=0.0)


@pytest.mark.parametrize(
    ("prefix", "target"),
    [
        ("", "/v1/messages/count_tokens"),
        ("/gateway/anthropic", "/gateway/anthropic/v1/messages/count_tokens"),
        ("/gateway/anthropic/", "/gateway/anthropic/v1/messages/count_tokens"),
        ("/gateway/v1", "/gateway/v1/messages/count_tokens"),
    ],
)
async def test_count_tokens_keeps_the_path_prefix(shell: Shell, prefix: str, target: str) -> None:
    async with ScriptedUpstream([COUNT]) as upstream, client(shell, upstream.url + prefix) as p:
        with anyio.fail_after(LIMIT):
            assert await shell.count_tokens(p, "Be brief.", HI) == 42
    [seen] = upstream.seen
    assert (seen.method, seen.target) == ("POST", target)


async def test_count_tokens_sends_the_body_that_endpoint_takes_with_the_same_headers(
    shell: Shell,
) -> None:
    config = {"headers": {"anthropic-beta": "files-api-2025-04-14"}}
    async with (
        ScriptedUpstream([COUNT, STREAM]) as upstream,
        client(shell, upstream.url, **config) as p,
    ):
        with anyio.fail_after(LIMIT):
            system = [TextBlock("Be brief.")]
            assert await shell.count_tokens(p, system, HI, options=OPTIONS) == 42
            chunks = await shell.chunks(p, system, HI, options=OPTIONS)
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Hello"
    count, message = upstream.seen
    sent = json.loads(count.body)
    assert sent == {
        "model": "claude-opus-4-8",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [
            {"name": "get_weather", "input_schema": {"type": "object"}, "description": "Weather"}
        ],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    full = json.loads(message.body)
    assert full["max_tokens"] == 300 and full["stream"] is True
    assert full["temperature"] == 0.3 and full["metadata"] == {"user_id": "u-1"}
    assert {k: v for k, v in full.items() if k in sent} == sent
    for seen in (count, message):
        assert seen.headers["x-api-key"] == KEY
        assert seen.headers["anthropic-version"] == "2023-06-01"
        assert seen.headers["anthropic-beta"] == "files-api-2025-04-14,token-counting-2024-11-01"
        assert seen.headers["x-gateway-key"] == CALL_SECRET
        assert seen.headers["content-type"] == "application/json"
    assert count.headers["accept"] == "application/json"
    assert message.headers["accept"] == "text/event-stream"


async def test_401_is_an_authentication_error_and_is_not_retried(shell: Shell) -> None:
    reply = api_error(401, "authentication_error", "invalid x-api-key")
    async with ScriptedUpstream([reply]) as upstream, client(shell, upstream.url, retries=2) as p:
        with anyio.fail_after(LIMIT), pytest.raises(AuthenticationError) as info:
            await shell.count_tokens(p, "", HI)
    assert len(upstream.seen) == 1
    assert info.value.status == 401
    assert info.value.request_id == "req_401"
    assert "invalid x-api-key" in str(info.value)


async def test_429_is_retried_then_the_count_arrives(shell: Shell) -> None:
    limited = api_error(429, "rate_limit_error", "slow down", ("retry-after-ms", "0"))
    async with (
        ScriptedUpstream([limited, limited, COUNT]) as upstream,
        client(shell, upstream.url, retries=2) as p,
    ):
        with anyio.fail_after(LIMIT):
            assert await shell.count_tokens(p, "", HI) == 42
    assert len(upstream.seen) == 3
    assert upstream.seen[0].body == upstream.seen[2].body


async def test_429_after_the_last_retry_is_a_rate_limit_error(shell: Shell) -> None:
    limited = api_error(429, "rate_limit_error", "slow down", ("retry-after", "0"))
    async with ScriptedUpstream([limited]) as upstream, client(shell, upstream.url, retries=1) as p:
        with anyio.fail_after(LIMIT), pytest.raises(RateLimitError) as info:
            await shell.count_tokens(p, "", HI)
    assert len(upstream.seen) == 2
    assert info.value.retry_after == 0.0


async def test_400_carries_the_apis_own_message(shell: Shell) -> None:
    message = "thinking.budget_tokens: Input should be greater than or equal to 1024"
    reply = api_error(400, "invalid_request_error", message)
    async with ScriptedUpstream([reply]) as upstream, client(shell, upstream.url, retries=2) as p:
        with anyio.fail_after(LIMIT), pytest.raises(ProviderError) as info:
            await shell.count_tokens(p, "", HI, options=RequestOptions(thinking=Thinking(10)))
        with anyio.fail_after(LIMIT), pytest.raises(ProviderError) as streamed:
            await shell.chunks(p, "", HI, options=RequestOptions(thinking=Thinking(10)))
    for error in (info.value, streamed.value):
        assert error.message == message
        assert (error.status, error.error_type) == (400, "invalid_request_error")
    assert len(upstream.seen) == 2  # a 400 is not retried


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, [("content-type", "text/html")], b"<title>Portal</title>"), "is not JSON"),
        (Reply(200, JSON, b'{"tokens": 3}'), "Not a token count"),
        (Reply(200, JSON, b'{"input_tokens": -1}'), "Not a token count"),
        (Reply(200, JSON, b""), "Not a token count"),
    ],
)
async def test_an_answer_that_is_not_a_count_is_an_error(
    shell: Shell, reply: Reply, expected: str
) -> None:
    async with ScriptedUpstream([reply]) as upstream, client(shell, upstream.url) as p:
        with anyio.fail_after(LIMIT), pytest.raises(ProviderError, match=expected):
            await shell.count_tokens(p, "", HI)


async def test_connection_refused_is_a_network_error(shell: Shell) -> None:
    async with client(shell, f"http://127.0.0.1:{closed_port()}") as p:
        with anyio.fail_after(LIMIT), pytest.raises(NetworkError) as info:
            await shell.count_tokens(p, "", HI)
    assert "count_tokens" in str(info.value)


def echo_secrets(request: Any) -> Reply:
    quoted = f"bad key {request.headers['x-api-key']} via {request.headers.get('x-gateway-key')}"
    return api_error(400, "invalid_request_error", quoted)


@pytest.mark.parametrize("call", ["count_tokens", "create_message"])
async def test_secrets_quoted_back_are_masked_including_per_call_headers(
    shell: Shell, call: str
) -> None:
    async with ScriptedUpstream(echo_secrets) as upstream, client(shell, upstream.url) as p:
        with anyio.fail_after(LIMIT), pytest.raises(ProviderError) as info:
            if call == "count_tokens":
                await shell.count_tokens(p, "", HI, options=OPTIONS)
            else:
                await shell.chunks(p, "", HI, options=OPTIONS)
    assert upstream.seen[0].headers["x-gateway-key"] == CALL_SECRET  # it was sent
    shown = f"{info.value} {info.value!r} {info.value.args}"
    assert KEY not in shown and CALL_SECRET not in shown
    assert "bad key *** via ***" in shown
