"""AnthropicProvider: the thin httpx shell around the sans-I/O core.

Only this module and its sync twin (``sync.py``) wait on I/O: they send the request, read the
answer into its decoder, sleep before a retry and close the response however the caller
stops. Every decision (the request, the verdict on a response, the retry delay, the error for
a transport failure) is made by the pure ``ShellBase`` they share (``shell.py``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import TypeVar, cast

import anyio
import httpx

from ..base import BaseProvider
from ..content import TextBlock
from ..errors import ProviderError
from ..request import RequestOptions
from ..stream import DEFAULT_MAX_EVENT_SIZE
from ..transport import make_async_client
from ..turn import AssistantTurn, collect
from ..types import Message, MessageStreamChunk, ProviderConfig
from .shell import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    DRAIN_GRACE,
    BodyDecoder,
    Call,
    ErrorBody,
    ShellBase,
    after_stop,
    refusal,
    refused,
)

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "AnthropicProvider"]

T = TypeVar("T")


def _body(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    # httpx types aiter_bytes() as an AsyncIterator, but it is a generator: it has aclose().
    return cast(AsyncGenerator[bytes, None], response.aiter_bytes())


class AnthropicProvider(ShellBase, BaseProvider):
    """Streams the Anthropic Messages API as typed chunks.

    ``http_client``: an ``httpx.AsyncClient`` to use (and leave open); by default the provider
    makes its own, closed by ``aclose()`` or ``async with``, which honours ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` / ``NO_PROXY``, or uses ``proxy`` (a URL or ``httpx.Proxy``) when given.
    ``max_retries``: extra attempts for connection failures and 408/409/429/5xx/529 answers,
    made only before the first chunk reaches the caller. ``timeout``: seconds or an
    ``httpx.Timeout``. ``max_event_size``: the largest SSE event accepted (bytes; 16 MiB by
    default), so a broken server cannot make the client buffer without bound.
    """

    _client_class = httpx.AsyncClient

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
        super().__init__(
            config,
            http_client=http_client,
            max_retries=max_retries,
            timeout=timeout,
            proxy=proxy,
            max_event_size=max_event_size,
            retry_base_delay=retry_base_delay,
        )
        self._client = http_client

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

    async def complete(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> AssistantTurn:
        """The whole reply as an ``AssistantTurn``: ``collect(create_message(...))``.

        Raises like ``create_message``; to keep the partial turn of a stream that fails, use
        ``collect(p.create_message(...), accumulator)``.
        """
        return await collect(self.create_message(system_prompt, messages, options=options))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # httpx on the fast transport where it can run (provider/transport.py); either way
            # trust_env (httpx's default) honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
            self._client = make_async_client(self.timeout, self._proxy, DEFAULT_LIMITS)
        return self._client

    def create_message(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> AsyncGenerator[MessageStreamChunk, None]:
        """Stream the reply to ``messages`` as chunks (``StartChunk``, ``TextChunk``,
        ``ThinkingChunk``, ``ToolUseChunk``, ``BlockChunk``, ``UsageChunk``, ``StopChunk`` …:
        ``MessageStreamChunk``), each as soon as its event is complete.

        ``system_prompt``: a str, or TextBlocks (to carry ``cache_control``). ``options``:
        per-call settings (``RequestOptions``). Raises a ProviderError subclass on any
        failure, after every chunk that arrived was yielded; malformed arguments raise on the
        first iteration, before any request. Stopping early (``break``, ``aclose()``,
        cancellation) closes the response.
        """
        return self._exchange(lambda: self._messages_call(system_prompt, messages, options))

    async def count_tokens(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> int:
        """The number of input tokens ``create_message`` would send for the same arguments
        (``POST /v1/messages/count_tokens``); errors, retries and timeouts as for it."""
        call = self._exchange(lambda: self._count_call(system_prompt, messages, options))
        async with aclosing(call) as results:
            async for count in results:
                return count
        raise ProviderError("count_tokens: the answer held no count")  # unreachable

    async def _exchange(self, prepare: Callable[[], Call[T]]) -> AsyncGenerator[T, None]:
        """Send the call ``prepare`` makes (on the first iteration, so that a malformed
        argument raises there, before any I/O), and yield what its decoder reads from the
        answer; retry before the first result, close the response however the caller stops."""
        call = prepare()
        client = self._http()
        request = self._request(client, call)
        attempt = 0
        while True:
            yielded = False
            response: httpx.Response | None = None
            try:
                response = await self._send(client, request, call)
                try:
                    if refused(response.status_code, response.headers, call.expect):
                        body, failure = await self._read_bounded(response)
                        raise refusal(
                            response.status_code, response.headers, body, call.url, call.expect
                        ) from failure
                    decoder = call.decoder()
                    async with aclosing(_body(response)) as stream:
                        async for data in stream:
                            for item in decoder.feed(data):
                                yielded = True
                                yield item
                            if decoder.error is not None:
                                raise decoder.error
                            if decoder.done:
                                await self._drain(stream, decoder)
                                break
                    for item in decoder.close():
                        yielded = True
                        yield item
                except httpx.HTTPError as e:
                    raise self._transport_error(e, f"while reading {call.reading}", call.url) from e
                finally:
                    # Shielded: a cancelled caller must still close the connection.
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                return
            except ProviderError as e:
                delay = self._retry_delay(e, call, attempt, yielded, response)
                if delay is None:
                    raise
                attempt += 1
                await anyio.sleep(delay)

    async def _send(
        self, client: httpx.AsyncClient, request: httpx.Request, call: Call[T]
    ) -> httpx.Response:
        try:
            # Never follow redirects: that would resend the key to another location.
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as e:
            raise self._transport_error(e, "while sending the request", call.url) from e

    async def _drain(self, body: AsyncIterator[bytes], decoder: BodyDecoder[T]) -> None:
        """Read what follows ``message_stop`` (normally just the end of the body), so that the
        connection returns to the pool instead of being dropped. A server that keeps the
        response open past ``message_stop`` gets a short grace period, not a hang."""
        with anyio.move_on_after(DRAIN_GRACE):
            try:
                async for data in body:
                    after_stop(decoder, data)
            except httpx.HTTPError:
                # The message is complete; a connection that fails now only loses its reuse.
                return

    async def _read_bounded(self, response: httpx.Response) -> tuple[bytes, httpx.HTTPError | None]:
        """The start of an error body, and the read failure if the body was cut short: the
        status is the news, so a proxy that resets the connection after its error page must
        not turn a 407 or 502 into a bare NetworkError."""
        body = ErrorBody()
        try:
            async with aclosing(_body(response)) as stream:
                async for data in stream:
                    if body.add(data):
                        break
        except httpx.HTTPError as e:
            return body.bytes(), e
        return body.bytes(), None
