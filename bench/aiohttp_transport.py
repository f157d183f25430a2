"""The previous fast transport (session 9's ``provider[fast]``): httpx's API on aiohttp's
connection pool, the body read with ``readany()``. Kept here as a candidate for
``bench/sockets.py``, measured beside ``provider.fasthttp`` in the same run; the package no
longer ships it (``bench/TRANSPORTS.md`` says why).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any

import httpx

from provider.transport import _FastClient, _under_asyncio

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpClient", "AiohttpTransport"]


class AiohttpClient(_FastClient):
    """The provider's own fast client (httpx's proxy routes, its cookie store), with
    ``AiohttpTransport`` for direct connections: only the transport differs in the comparison."""

    def _direct_transport(
        self, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> httpx.AsyncBaseTransport:
        return AiohttpTransport(ssl_context=ssl_context, limits=limits)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an ``aiohttp`` connection pool (asyncio only, HTTP/1.1).

    The request goes out as httpx built it (no header added, no redirect followed, no
    decompression: httpx does that); the body is read with ``readany()``, which returns every
    byte buffered so far. Errors are httpx's: ``ConnectError``, ``ConnectTimeout``,
    ``ReadTimeout``, ``ReadError``, ``RemoteProtocolError``. aiohttp has no write timeout; the
    connect timeout covers waiting for a free connection too (httpx's pool timeout).
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, limits: httpx.Limits | None = None
    ) -> None:
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._limits = limits if limits is not None else httpx.Limits()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop it belongs to.
        import aiohttp

        limits = self._limits
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,  # 0: no limit, as None is for httpx
            keepalive_timeout=limits.keepalive_expiry,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies are httpx's business
            auto_decompress=False,  # httpx decodes content-encoding
            trust_env=False,  # proxies are routed by httpx
            skip_auto_headers=_AUTO_HEADERS,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not _under_asyncio():
            raise RuntimeError("AiohttpTransport runs under asyncio only; use httpx's transport")
        import aiohttp
        import yarl

        session = self._session or self._open()
        seconds = request.extensions.get("timeout", {})
        connect, pool = seconds.get("connect"), seconds.get("pool")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=seconds.get("read"),
        )
        body = await request.aread()
        failure: Exception | None = None
        try:
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except Exception as exc:
            failure = _mapped(exc, request)
        if failure is not None:
            raise failure
        if response.status == 101:
            # Nothing here asks for an upgrade: a 101 is the server breaking HTTP.
            response.close()
            raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols", request=request)
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


# Headers aiohttp would add when httpx's request has none: the request goes out as built.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class _Body(httpx.AsyncByteStream):
    """The response body: each step returns all bytes buffered so far, not one HTTP chunk."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        failure: Exception | None = None
        try:
            data: bytes = await self._response.content.readany()
        except Exception as exc:
            failure = _mapped(exc, self._request)
        if failure is not None:
            raise failure
        if not data:
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        # A body read to its end gives its connection back to the pool; any other is closed,
        # so the server sees the close at once.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


def _mapped(exc: Exception, request: httpx.Request) -> Exception:
    """aiohttp's (and the socket's) exceptions as the httpx ones the shell handles.

    The result carries aiohttp's message but not aiohttp's exception: that holds the request's
    headers (the API key among them), so it must not travel in the error chain. The caller
    raises it outside its ``except`` block, so it has no ``__context__`` either.
    """
    import aiohttp

    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientResponseError):
        # A malformed response head; str() would add the URL, which may hold a password.
        return httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc.message}", request=request)
    elif isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        kind = httpx.ReadError
    elif isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(f"{type(exc).__name__}", request=request)
    elif isinstance(exc, aiohttp.ClientError):
        kind = httpx.TransportError
    else:
        return exc
    return kind(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, request=request)
