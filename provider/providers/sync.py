"""SyncAnthropicProvider: the synchronous twin of ``AnthropicProvider`` (``anthropic.py``).

For scripts, notebooks, WSGI views and pipelines that have no event loop. It is the async shell
line for line without ``await``: the same ``ShellBase`` decides everything (request, verdict on
a response, retry delay, errors, secrets), the same decoders read the answer, so both give the
same chunks and the same errors. It starts no thread and no event loop.
``tests/unit/test_shell_twins.py`` checks that the twins stay the same code, ``await`` aside.

What has no sync form: cancellation (a sync caller stops by leaving the generator, which closes
the response at once), and the grace period after ``message_stop``, which here is checked
between reads (a server that holds the body open after ``message_stop`` keeps the caller at
most the read timeout past it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from types import TracebackType
from typing import TypeVar, cast

import httpx

from ..content import TextBlock
from ..errors import ProviderError
from ..request import RequestOptions
from ..stream import DEFAULT_MAX_EVENT_SIZE
from ..turn import AssistantTurn, collect_sync
from ..types import Message, MessageStreamChunk, ProviderConfig
from .shell import (
    DEFAULT_LIMITS,
    DRAIN_GRACE,
    BodyDecoder,
    Call,
    ErrorBody,
    ShellBase,
    after_stop,
    refusal,
    refused,
)

__all__ = ["SyncAnthropicProvider"]

T = TypeVar("T")


def _body(response: httpx.Response) -> Generator[bytes, None, None]:
    # httpx types iter_bytes() as an Iterator, but it is a generator: it has close().
    return cast(Generator[bytes, None, None], response.iter_bytes())


class SyncAnthropicProvider(ShellBase):
    """Streams the Anthropic Messages API as typed chunks, synchronously.

    The constructor is ``AnthropicProvider``'s, with ``http_client`` an ``httpx.Client`` (used
    and left open); the provider's own client is closed by ``close()`` or ``with``::

        with SyncAnthropicProvider(config) as p:
            with closing(p.create_message(system, messages)) as stream:
                for chunk in stream:
                    ...
    """

    _client_class = httpx.Client

    def __init__(
        self,
        config: ProviderConfig,
        *,
        http_client: httpx.Client | None = None,
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

    def __enter__(self) -> SyncAnthropicProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if the provider made it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            client.close()

    def complete(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> AssistantTurn:
        """The whole reply as an ``AssistantTurn``: ``collect_sync(create_message(...))``.

        Raises like ``create_message``; to keep the partial turn of a stream that fails, use
        ``collect_sync(p.create_message(...), accumulator)``.
        """
        return collect_sync(self.create_message(system_prompt, messages, options=options))

    def _http(self) -> httpx.Client:
        if self._client is None:
            # trust_env (httpx's default) honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
            self._client = httpx.Client(
                timeout=self.timeout, proxy=self._proxy, limits=DEFAULT_LIMITS
            )
        return self._client

    def create_message(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> Generator[MessageStreamChunk, None, None]:
        """Stream the reply to ``messages``: the chunks ``AnthropicProvider.create_message``
        gives for the same arguments, as a plain generator.

        Raises a ProviderError subclass on any failure, after every chunk that arrived was
        yielded; malformed arguments raise on the first iteration, before any request.
        Leaving the loop early (``break`` inside ``contextlib.closing``, ``close()``, an
        exception in the loop) closes the response at once.
        """
        return self._exchange(lambda: self._messages_call(system_prompt, messages, options))

    def count_tokens(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> int:
        """The number of input tokens ``create_message`` would send for the same arguments
        (``POST /v1/messages/count_tokens``); errors, retries and timeouts as for it."""
        call = self._exchange(lambda: self._count_call(system_prompt, messages, options))
        with closing(call) as results:
            for count in results:
                return count
        raise ProviderError("count_tokens: the answer held no count")  # unreachable

    def _exchange(self, prepare: Callable[[], Call[T]]) -> Generator[T, None, None]:
        """``AnthropicProvider._exchange`` without ``await``: send, read into the decoder,
        retry before the first result, close the response however the caller stops."""
        call = prepare()
        client = self._http()
        request = self._request(client, call)
        attempt = 0
        while True:
            yielded = False
            response: httpx.Response | None = None
            try:
                response = self._send(client, request, call)
                try:
                    if refused(response.status_code, response.headers, call.expect):
                        body, failure = self._read_bounded(response)
                        raise refusal(
                            response.status_code, response.headers, body, call.url, call.expect
                        ) from failure
                    decoder = call.decoder()
                    with closing(_body(response)) as stream:
                        for data in stream:
                            for item in decoder.feed(data):
                                yielded = True
                                yield item
                            if decoder.error is not None:
                                raise decoder.error
                            if decoder.done:
                                self._drain(stream, decoder)
                                break
                    for item in decoder.close():
                        yielded = True
                        yield item
                except httpx.HTTPError as e:
                    raise self._transport_error(e, f"while reading {call.reading}", call.url) from e
                finally:
                    # Runs when the caller leaves the loop too (GeneratorExit at the yield).
                    response.close()
                return
            except ProviderError as e:
                delay = self._retry_delay(e, call, attempt, yielded, response)
                if delay is None:
                    raise
                attempt += 1
                time.sleep(delay)

    def _send(self, client: httpx.Client, request: httpx.Request, call: Call[T]) -> httpx.Response:
        try:
            # Never follow redirects: that would resend the key to another location.
            return client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as e:
            raise self._transport_error(e, "while sending the request", call.url) from e

    def _drain(self, body: Iterator[bytes], decoder: BodyDecoder[T]) -> None:
        """Read what follows ``message_stop`` so that the connection returns to the pool; a
        server that keeps sending past it is given up after the grace period."""
        deadline = time.monotonic() + DRAIN_GRACE
        try:
            for data in body:
                after_stop(decoder, data)
                if time.monotonic() > deadline:
                    return
        except httpx.HTTPError:
            # The message is complete; a connection that fails now only loses its reuse.
            return

    def _read_bounded(self, response: httpx.Response) -> tuple[bytes, httpx.HTTPError | None]:
        """The start of an error body, and the read failure if the body was cut short."""
        body = ErrorBody()
        try:
            with closing(_body(response)) as stream:
                for data in stream:
                    if body.add(data):
                        break
        except httpx.HTTPError as e:
            return body.bytes(), e
        return body.bytes(), None
