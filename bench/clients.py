"""The peers under test: ``provider``, the SDK's raw events and the SDK's ``messages.stream()``.

How to build each on an in-memory transport or a loopback URL (same connection limits, no
retries), and how a caller streams one message with each and joins its text, written the way
each library's documentation shows. The SDK is imported lazily: provider-only worker processes
must not pay for it in RSS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

import httpx

from provider import AnthropicProvider, Message, ModelInfo, ProviderConfig, TextChunk

__all__ = [
    "API_KEY",
    "PEERS",
    "ListStream",
    "httpx2_mock",
    "httpx_mock",
    "make_provider",
    "make_sdk",
    "provider_text",
    "sdk_helper_text",
    "sdk_raw_text",
]

API_KEY = "sk-ant-bench-not-a-real-key"
MODEL_ID = "claude-sonnet-4-6"
MAX_TOKENS = 1024
SYSTEM = "You are a benchmark."
PROMPT = "hi"
SSE_HEADERS = {"content-type": "text/event-stream", "request-id": "req_bench"}

PEERS = ("provider", "sdk_raw", "sdk_helper")

if TYPE_CHECKING:
    import anthropic
    import httpx2


class ListStream(httpx.AsyncByteStream):
    """A response body served from an iterable of pieces (httpx flavour)."""

    def __init__(self, parts: Iterable[bytes]) -> None:
        self._parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part


def httpx_mock(parts: Callable[[], Iterable[bytes]] | Iterable[bytes]) -> httpx.MockTransport:
    """An in-memory transport answering every request with ``parts`` as an event stream."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = parts() if callable(parts) else parts
        return httpx.Response(200, headers=SSE_HEADERS, stream=ListStream(body))

    return httpx.MockTransport(handler)


def httpx2_mock(parts: Callable[[], Iterable[bytes]] | Iterable[bytes]) -> httpx2.MockTransport:
    """The same for the SDK, in httpx2 (imported here: provider-only runs must not load it)."""
    import httpx2

    class ListStream2(httpx2.AsyncByteStream):
        def __init__(self, parts: Iterable[bytes]) -> None:
            self._parts = parts

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for part in self._parts:
                yield part

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = parts() if callable(parts) else parts
        return httpx2.Response(200, headers=SSE_HEADERS, stream=ListStream2(body))

    return httpx2.MockTransport(handler)


def make_provider(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> tuple[AnthropicProvider, httpx.AsyncClient]:
    """A provider on its own client (close the client when done), or on ``client``. No
    retries, as for the SDK."""
    # The SDK's default pool allows 1000 connections; give httpx the same so the concurrency
    # bench measures the clients, not httpx's default cap of 100.
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    if client is None:
        client = httpx.AsyncClient(transport=transport, limits=limits, timeout=600.0)
    config = ProviderConfig(
        model_id=MODEL_ID,
        model_info=ModelInfo(max_tokens=MAX_TOKENS, input_price=3.0, output_price=15.0),
        api_key=API_KEY,
        base_url=base_url or "https://bench.invalid",
    )
    # The connect timeout too: a thousand connections at once on a loaded machine can take long.
    return AnthropicProvider(config, http_client=client, max_retries=0, timeout=600.0), client


def make_sdk(
    *, transport: httpx2.AsyncBaseTransport | None = None, base_url: str | None = None
) -> anthropic.AsyncAnthropic:
    import anthropic
    import httpx2

    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
    client = httpx2.AsyncClient(transport=transport, limits=limits, timeout=600.0)
    return anthropic.AsyncAnthropic(
        api_key=API_KEY,
        base_url=base_url or "https://bench.invalid",
        http_client=client,
        max_retries=0,
    )


def _messages() -> list[Any]:
    return [{"role": "user", "content": PROMPT}]


async def provider_text(p: AnthropicProvider) -> str:
    """Stream one message with ``provider`` and return its joined text (the caller's loop)."""
    parts: list[str] = []
    append = parts.append
    async for chunk in p.create_message(SYSTEM, [Message(role="user", content=PROMPT)]):
        if isinstance(chunk, TextChunk):
            append(chunk.text)
    return "".join(parts)


async def sdk_raw_text(client: anthropic.AsyncAnthropic) -> str:
    """The same with the SDK's raw event iteration (``messages.create(stream=True)``)."""
    parts: list[str] = []
    append = parts.append
    stream = await client.messages.create(
        model=MODEL_ID, max_tokens=MAX_TOKENS, system=SYSTEM, messages=_messages(), stream=True
    )
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                append(event.delta.text)
    return "".join(parts)


async def sdk_helper_text(client: anthropic.AsyncAnthropic) -> str:
    """The same with the SDK's ``messages.stream()`` helper, iterating ``text_stream``."""
    parts: list[str] = []
    append = parts.append
    async with client.messages.stream(
        model=MODEL_ID, max_tokens=MAX_TOKENS, system=SYSTEM, messages=_messages()
    ) as stream:
        async for text in stream.text_stream:
            append(text)
    return "".join(parts)
