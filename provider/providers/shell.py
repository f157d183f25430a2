"""What the HTTP shells share: every decision that does not wait on I/O.

As httpx's ``BaseClient`` serves ``Client`` and ``AsyncClient``, ``ShellBase`` serves
``AnthropicProvider`` (async) and ``SyncAnthropicProvider``: checking the settings, building
the request, judging a response from its status and headers, mapping transport failures,
deciding whether and when to retry. The shells only send, read, sleep and close, in one short
loop each:

    call = self._messages_call(system, messages, options) # or _count_call; raises before I/O
    request = self._request(client, call)
    response = send(request)                              # (await) client.send(..., stream=True)
    if refused(response.status_code, response.headers, call.expect):
        raise refusal(..., body=ErrorBody of the body read, ...)
    decoder = call.decoder()                              # bytes in, results out (sans-I/O)
    for data in response body: yield from decoder.feed(data); raise decoder.error if any
    yield from decoder.close()                            # (once done: after_stop the rest)
    # on a ProviderError: delay = self._retry_delay(...); None raises, else sleep and resend

A call's answer is read by a decoder with ``ChunkDecoder``'s interface (``feed``, ``close``,
``done``, ``error``), so a streamed reply and a one-shot JSON answer go through the same loop.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, Protocol, TypeVar

import httpx
import msgspec

from ..base import ProviderCommon
from ..constants import DEFAULT_MAX_TOKENS
from ..content import TextBlock
from ..endpoint import (
    DEFAULT_BASE_URL,
    REPLAYED,
    check_secure,
    environment_proxy,
    messages_url,
    proxy_secrets,
    request_headers,
    secrets_of,
)
from ..errors import NetworkError, ProviderError, secret_values
from ..http_errors import error_from_response, snippet
from ..request import (
    RequestOptions,
    call_headers,
    encode_body,
    encode_count_body,
    options_or_default,
)
from ..retry import backoff_delay, should_retry
from ..stream import ChunkDecoder
from ..types import Message, MessageStreamChunk, ProviderConfig

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "DRAIN_GRACE",
    "EVENT_STREAM",
    "JSON",
    "MAX_ERROR_BODY",
    "BodyDecoder",
    "Call",
    "ErrorBody",
    "ShellBase",
    "TokenCountDecoder",
    "after_stop",
    "refusal",
    "refused",
]

logger = logging.getLogger("provider")

# A read timeout bounds the gap between two reads, not the whole stream: a long reply with
# pings never times out, a silent connection does.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
# Streams are long-lived: with httpx's default of 100 connections, a 101st concurrent stream
# would wait for one and fail after the pool timeout. The official SDK allows 1000 too.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
MAX_ERROR_BODY = 1 << 20  # error bodies are small; a gateway must not make us buffer more
DRAIN_GRACE = 1.0  # seconds to wait for the end of the body after message_stop
EVENT_STREAM = "text/event-stream"
JSON = "application/json"

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class BodyDecoder(Protocol[T_co]):
    """Reads a successful answer: bytes in, results out, as ``ChunkDecoder`` does."""

    @property
    def done(self) -> bool:
        """The answer is complete: what follows is only drained."""

    @property
    def error(self) -> ProviderError | None:
        """A fault found in the bytes fed so far, raised after the results before it."""

    def feed(self, data: bytes) -> Sequence[T_co]: ...

    def close(self) -> Sequence[T_co]: ...


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call, ready to send: what goes out, and how its answer is read."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    secrets: tuple[str, ...]  # masked in every error of this call
    expect: str  # the content type of a successful answer
    decoder: Callable[[], BodyDecoder[T]]
    reading: str  # what is read, for messages: "the stream", "the response"


def refused(status: int, headers: Mapping[str, str], expect: str) -> bool:
    """Whether a response is not the answer the call waits for (a redirect, an error status,
    a 2xx of another content type). Its body, up to ``MAX_ERROR_BODY``, is then read and
    given to :func:`refusal`: the status and body are read before any parsing."""
    if not 200 <= status < 300:
        return True
    return not headers.get("content-type", "").lower().startswith(expect)


_WHAT = {EVENT_STREAM: "an event stream", JSON: "JSON"}


def refusal(
    status: int, headers: Mapping[str, str], body: bytes, url: str, expect: str
) -> ProviderError:
    """The error for a response :func:`refused` refused: the API's own message when the body
    is its JSON error, otherwise the status and an excerpt of the body."""
    request_id = headers.get("request-id")
    if 300 <= status < 400:
        location = headers.get("location", "no Location header")
        return ProviderError(
            f"HTTP {status} redirect to {location}: not followed, since it would resend the "
            "API key; point base_url at the final address",
            status=status,
            request_id=request_id,
        )
    if status >= 400 or status < 200:
        return error_from_response(status, headers, body, url)
    content_type = headers.get("content-type", "")
    return ProviderError(
        f"HTTP {status} from {url} is not {_WHAT.get(expect, expect)} "
        f"(content-type {content_type or 'missing'!r}): {snippet(body) or 'empty body'}",
        status=status,
        request_id=request_id,
    )


def _reason(error: ProviderError) -> str:
    """What a retry is after, in a few words: ``429 rate_limit_error``, ``NetworkError``."""
    parts = [str(part) for part in (error.status, error.error_type) if part is not None]
    return " ".join(parts) or type(error).__name__


class _Count(msgspec.Struct):
    input_tokens: Annotated[int, msgspec.Meta(ge=0)]


_decode_count = msgspec.json.Decoder(_Count).decode


class TokenCountDecoder:
    """Reads a ``count_tokens`` answer, ``{"input_tokens": N}``, into ``[N]`` at ``close``."""

    done = False  # read to the end of the body
    error: ProviderError | None = None

    def __init__(self, url: str) -> None:
        self._url = url
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[int]:
        self._size += len(data)
        if self._size > MAX_ERROR_BODY and self.error is None:
            self.error = ProviderError(
                f"The token count from {self._url} is over {MAX_ERROR_BODY} bytes: not a count"
            )
        elif self.error is None:
            self._parts.append(data)
        return []

    def close(self) -> list[int]:
        body = b"".join(self._parts)
        try:
            return [_decode_count(body).input_tokens]
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise ProviderError(
                f"Not a token count from {self._url} ({e}): {snippet(body) or 'empty body'}", e
            ) from e


class ErrorBody:
    """The start of a refused response's body: ``add`` each piece read until it returns True
    (enough), then ``bytes()``. A gateway's endless error page is not buffered past
    ``MAX_ERROR_BODY``."""

    __slots__ = ("_parts", "_size")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> bool:
        self._parts.append(data)
        self._size += len(data)
        return self._size >= MAX_ERROR_BODY

    def bytes(self) -> bytes:
        return b"".join(self._parts)[:MAX_ERROR_BODY]


def after_stop(decoder: BodyDecoder[T], data: bytes) -> None:
    """Take bytes that follow the end of the answer (read only so that the connection can be
    reused): they yield nothing, and stray events in them are a fault."""
    decoder.feed(data)
    if decoder.error is not None:
        raise decoder.error


class ShellBase(ProviderCommon):
    """The settings and decisions both shells share (see the module docstring)."""

    #: The httpx client a shell drives: the wrong flavour fails at once, not on first use.
    _client_class: type[httpx.AsyncClient] | type[httpx.Client]

    def __init__(
        self,
        config: ProviderConfig,
        *,
        http_client: httpx.AsyncClient | httpx.Client | None,
        max_retries: int,
        timeout: float | httpx.Timeout | None,
        proxy: str | httpx.Proxy | None,
        max_event_size: int,
        retry_base_delay: float,
    ) -> None:
        super().__init__(config)
        if max_retries < 0:
            raise ProviderError(f"max_retries must be >= 0, got {max_retries}")
        if proxy is not None and http_client is not None:
            raise ProviderError("Pass proxy= to your own http_client, not to the provider")
        want = self._client_class
        if http_client is not None and not isinstance(http_client, want):
            raise ProviderError(
                f"{type(self).__name__} needs an httpx.{want.__name__} as http_client, "
                f"not {type(http_client).__module__}.{type(http_client).__name__}"
            )
        base_url = config.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.url = messages_url(base_url)
        # The hop the request travels first: proxy=, else the environment's proxy for this URL
        # when the client reads the environment (a client of yours: its explicit proxy is yours
        # to vet).
        hop: str | httpx.URL | httpx.Proxy | None = proxy
        if hop is None and (http_client is None or http_client.trust_env):
            hop = environment_proxy(self.url, urllib.request.getproxies())
        check_secure(self.url, config.allow_insecure_http, proxy=hop)
        self._headers = request_headers(config, os.environ)
        # One rule for what is secret (endpoint.secrets_of), applied to every error in the
        # chain before it is logged or raised.
        self._secrets = secrets_of(self._headers, *proxy_secrets(hop))
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self._proxy = proxy
        if max_event_size < 1:
            raise ProviderError(f"max_event_size must be >= 1, got {max_event_size}")
        self.max_event_size = max_event_size
        self._owns_client = http_client is None
        info = self.get_model().info
        self._max_tokens = info.max_tokens or DEFAULT_MAX_TOKENS

    def _messages_call(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        options: RequestOptions | None,
    ) -> Call[MessageStreamChunk]:
        """The streaming ``POST /v1/messages``; a malformed argument raises here, before I/O."""
        options = options_or_default(options)
        body = encode_body(self.config.model_id, self._max_tokens, system_prompt, messages, options)
        size = self.max_event_size
        return Call(
            url=self.url,
            headers=call_headers(self._headers, options),
            body=body,
            secrets=self._call_secrets(options),
            expect=EVENT_STREAM,
            decoder=lambda: ChunkDecoder(max_event_size=size),
            reading="the stream",
        )

    def _count_call(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        options: RequestOptions | None,
    ) -> Call[int]:
        """``POST /v1/messages/count_tokens``: the same headers (asking for JSON), the body
        that endpoint takes; a malformed argument raises here, before I/O."""
        options = options_or_default(options)
        body = encode_count_body(self.config.model_id, system_prompt, messages, options)
        headers = call_headers(self._headers, options)
        if headers.get("accept") == EVENT_STREAM:  # ours, not one the config set
            headers["accept"] = JSON
        url = self.url + "/count_tokens"
        return Call(
            url=url,
            headers=headers,
            body=body,
            secrets=self._call_secrets(options),
            expect=JSON,
            decoder=lambda: TokenCountDecoder(url),
            reading="the response",
        )

    def _call_secrets(self, options: RequestOptions) -> tuple[str, ...]:
        """The provider's secrets, and those of the call's own headers, by the same rule
        (``endpoint.secrets_of``): a per-call credential travels there."""
        if not options.headers:
            return self._secrets
        return secret_values([*self._secrets, *secrets_of(options.headers)])

    def _request(self, client: httpx.AsyncClient | httpx.Client, call: Call[T]) -> httpx.Request:
        return client.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=self.timeout
        )

    def _retry_delay(
        self,
        error: ProviderError,
        call: Call[T],
        attempt: int,
        yielded: bool,
        response: httpx.Response | None,
    ) -> float | None:
        """Name the response's request id in the error and mask it (every field, the whole
        chain: before it is logged or raised), then the seconds to wait before trying again, or
        None when it goes to the caller: retries happen only before the first result reached
        the caller, so text is never repeated. An answer replayed from a recording is retried
        at once: waiting cannot change it. Each retry is logged at INFO, ``retrying in 14.0s
        after 429 rate_limit_error (1/2): …`` (the command line prints it)."""
        headers = None if response is None else response.headers
        if error.request_id is None and headers is not None:
            error.request_id = headers.get("request-id")  # masked too: a server may echo a key
        error.hide(call.secrets)
        replayed = response is not None and response.extensions.get(REPLAYED) is True
        if yielded or attempt >= self.max_retries:
            return None
        if not should_retry(error, headers):
            return None
        delay = backoff_delay(attempt, self.retry_base_delay, error.retry_after)
        if delay is not None:
            logger.info(
                "retrying in %.1fs after %s (%d/%d)%s: %s",
                delay,
                _reason(error),
                attempt + 1,
                self.max_retries,
                ", not waited: a recording" if replayed else "",
                error,
            )
            if replayed:
                return 0.0
        return delay

    def _transport_error(self, error: httpx.HTTPError, when: str, url: str) -> ProviderError:
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
            return NetworkError(f"{kind}{limit} {when} ({url})", error)
        if isinstance(error, httpx.TransportError):
            return NetworkError(f"{type(error).__name__} {when} ({url}): {detail}", error)
        return ProviderError(f"{type(error).__name__} {when} ({url}): {detail}", error)
