"""AnthropicProvider: the thin httpx shell around the sans-I/O stream core.

Only this module knows httpx: it sends the request, maps HTTP failures to ProviderErrors,
retries before the first chunk, feeds response bytes to the ChunkDecoder and closes the
response however the caller stops.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import cast

import anyio
import httpx

from ..base import BaseProvider
from ..constants import DEFAULT_MAX_TOKENS
from ..endpoint import (
    DEFAULT_BASE_URL,
    check_secure,
    encode_body,
    messages_url,
    request_headers,
    secrets_of,
)
from ..errors import NetworkError, ProviderError
from ..http_errors import error_from_response, snippet
from ..retry import backoff_delay, should_retry
from ..stream import DEFAULT_MAX_EVENT_SIZE, ChunkDecoder
from ..types import Message, MessageStreamChunk, ProviderConfig

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "AnthropicProvider"]

logger = logging.getLogger("provider")

# A read timeout bounds the gap between two reads, not the whole stream: a long reply with
# pings never times out, a silent connection does.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
# Streams are long-lived: with httpx's default of 100 connections, a 101st concurrent stream
# would wait for one and fail after the pool timeout. The official SDK allows 1000 too.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
_MAX_ERROR_BODY = 1 << 20  # error bodies are small; a gateway must not make us buffer more
_DRAIN_GRACE = 1.0  # seconds to wait for the end of the body after message_stop


def _body(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    # httpx types aiter_bytes() as an AsyncIterator, but it is a generator: it has aclose().
    return cast(AsyncGenerator[bytes, None], response.aiter_bytes())


class AnthropicProvider(BaseProvider):
    """Streams the Anthropic Messages API as typed chunks.

    ``http_client``: an ``httpx.AsyncClient`` to use (and leave open); by default the provider
    makes its own, closed by ``aclose()`` or ``async with``, which honours ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` / ``NO_PROXY``, or uses ``proxy`` (a URL or ``httpx.Proxy``) when given.
    ``max_retries``: extra attempts for connection failures and 408/409/429/5xx/529 answers,
    made only before the first chunk reaches the caller. ``timeout``: seconds or an
    ``httpx.Timeout``. ``max_event_size``: the largest SSE event accepted (bytes; 16 MiB by
    default), so a broken server cannot make the client buffer without bound.
    """

    def __init__(
        self,
        config: ProviderConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int = 2,
        timeout: float | httpx.Timeout | None = None,
        proxy: str | httpx.Proxy | None = None,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        retry_base_delay: float = 0.5,
    ) -> None:
        super().__init__(config)
        if max_retries < 0:
            raise ProviderError(f"max_retries must be >= 0, got {max_retries}")
        if proxy is not None and http_client is not None:
            raise ProviderError("Pass proxy= to your own http_client, not to the provider")
        base_url = config.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.url = messages_url(base_url)
        check_secure(self.url, config.allow_insecure_http)
        self._headers = request_headers(config, os.environ)
        self._secrets = secrets_of(self._headers, config)
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self._proxy = proxy
        if max_event_size < 1:
            raise ProviderError(f"max_event_size must be >= 1, got {max_event_size}")
        self.max_event_size = max_event_size
        self._client = http_client
        self._owns_client = http_client is None
        info = self.get_model().info
        self._max_tokens = info.max_tokens or DEFAULT_MAX_TOKENS

    async def __aenter__(self) -> AnthropicProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if the provider made it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env (httpx's default) honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
            self._client = httpx.AsyncClient(
                timeout=self.timeout, proxy=self._proxy, limits=DEFAULT_LIMITS
            )
        return self._client

    async def create_message(
        self, system_prompt: str, messages: Sequence[Message]
    ) -> AsyncGenerator[MessageStreamChunk, None]:
        """Stream the reply to ``messages`` as TextChunk, ThinkingChunk, ToolUseChunk,
        UsageChunk and StopChunk, each as soon as its event is complete.

        Raises a ProviderError subclass on any failure, after every chunk that arrived was
        yielded. Stopping early (``break``, ``aclose()``, cancellation) closes the response.
        """
        body = encode_body(self.config.model_id, self._max_tokens, system_prompt, messages)
        client = self._http()
        request = client.build_request(
            "POST", self.url, content=body, headers=self._headers, timeout=self.timeout
        )
        attempt = 0
        while True:
            yielded = False
            headers: httpx.Headers | None = None  # of the response, once there is one
            try:
                response = await self._send(client, request)
                headers = response.headers
                try:
                    await self._check(response)
                    decoder = ChunkDecoder(max_event_size=self.max_event_size)
                    try:
                        async with aclosing(_body(response)) as stream:
                            async for data in stream:
                                for chunk in decoder.feed(data):
                                    yielded = True
                                    yield chunk
                                if decoder.error is not None:
                                    raise decoder.error
                                if decoder.done:
                                    await self._drain(stream, decoder)
                                    break
                        for chunk in decoder.close():
                            yielded = True
                            yield chunk
                    except ProviderError as e:
                        if e.request_id is None:
                            e.request_id = response.headers.get("request-id")
                        raise
                    except httpx.HTTPError as e:
                        raise self._transport_error(e, "while reading the stream") from e
                finally:
                    # Shielded: a cancelled caller must still close the connection.
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                return
            except ProviderError as e:
                e.hide(self._secrets)  # before it is logged or raised
                delay = self._retry_delay(e, attempt, yielded, headers)
                if delay is None:
                    raise
                attempt += 1
                logger.info(
                    "retrying in %.2fs (attempt %d of %d): %s", delay, attempt, self.max_retries, e
                )
                await anyio.sleep(delay)

    async def _drain(self, body: AsyncIterator[bytes], decoder: ChunkDecoder) -> None:
        """Read what follows ``message_stop`` (normally just the end of the body), so that the
        connection returns to the pool instead of being dropped. A server that keeps the
        response open past ``message_stop`` gets a short grace period, not a hang."""
        with anyio.move_on_after(_DRAIN_GRACE):
            try:
                async for data in body:
                    # After message_stop the machine gives no chunk; stray events are a fault.
                    decoder.feed(data)
                    if decoder.error is not None:
                        raise decoder.error
            except httpx.HTTPError:
                # The message is complete; a connection that fails now only loses its reuse.
                return

    def _retry_delay(
        self, error: ProviderError, attempt: int, yielded: bool, headers: httpx.Headers | None
    ) -> float | None:
        """Seconds to wait before trying again, or None when the error goes to the caller."""
        if yielded or attempt >= self.max_retries:
            return None
        if not should_retry(error, headers):
            return None
        return backoff_delay(attempt, self.retry_base_delay, error.retry_after)

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        try:
            # Never follow redirects: that would resend the key to another location.
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as e:
            raise self._transport_error(e, "while sending the request") from e

    async def _check(self, response: httpx.Response) -> None:
        """Read the status and error body before any SSE parsing."""
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("location", "no Location header")
            raise ProviderError(
                f"HTTP {status} redirect to {location}: not followed, since it would resend the "
                "API key; point base_url at the final address",
                status=status,
                request_id=response.headers.get("request-id"),
            )
        if status >= 400 or status < 200:
            body, failure = await self._read_bounded(response)
            error = error_from_response(status, response.headers, body, self.url)
            raise error from failure
        content_type = response.headers.get("content-type", "")
        if not content_type.lower().startswith("text/event-stream"):
            body, failure = await self._read_bounded(response)
            raise ProviderError(
                f"HTTP {status} from {self.url} is not an event stream "
                f"(content-type {content_type or 'missing'!r}): {snippet(body) or 'empty body'}",
                status=status,
                request_id=response.headers.get("request-id"),
            ) from failure

    async def _read_bounded(self, response: httpx.Response) -> tuple[bytes, httpx.HTTPError | None]:
        """The start of an error body, and the read failure if the body was cut short: the
        status is the news, so a proxy that resets the connection after its error page must
        not turn a 407 or 502 into a bare NetworkError."""
        parts: list[bytes] = []
        size = 0
        failure: httpx.HTTPError | None = None
        try:
            async with aclosing(_body(response)) as stream:
                async for data in stream:
                    parts.append(data)
                    size += len(data)
                    if size >= _MAX_ERROR_BODY:
                        break
        except httpx.HTTPError as e:
            failure = e
        return b"".join(parts)[:_MAX_ERROR_BODY], failure

    def _transport_error(self, error: httpx.HTTPError, when: str) -> ProviderError:
        """A NetworkError for connection failures and timeouts; a ProviderError otherwise."""
        detail = str(error) or type(error).__name__
        if isinstance(error, httpx.TimeoutException):
            kind = type(error).__name__  # ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout
            seconds = {
                "ConnectTimeout": self.timeout.connect,
                "ReadTimeout": self.timeout.read,
                "WriteTimeout": self.timeout.write,
                "PoolTimeout": self.timeout.pool,
            }.get(kind)
            limit = f" after {seconds:g}s" if seconds is not None else ""
            return NetworkError(f"{kind}{limit} {when} ({self.url})", error)
        if isinstance(error, httpx.TransportError):
            return NetworkError(f"{type(error).__name__} {when} ({self.url}): {detail}", error)
        return ProviderError(f"{type(error).__name__} {when} ({self.url}): {detail}", error)
