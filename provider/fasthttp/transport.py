"""``FastTransport``: an ``httpx.AsyncBaseTransport`` on asyncio protocols and httptools.

httpx builds the request (headers, body, timeouts, redirect refusal) and decodes the response's
content-encoding above this; the transport only moves bytes: it writes the request as httpx
built it, adding nothing, and hands over the body as every byte that has arrived at each step.
Its errors are httpx's (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``, ``WriteError``,
``WriteTimeout``, ``ReadError``, ``ReadTimeout``, ``RemoteProtocolError``,
``LocalProtocolError``, ``UnsupportedProtocol``), made here with a message of their own and no
cause or context, so nothing of the request travels in them.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import Any, NoReturn

import httpx

from .connection import Connection, Failure
from .pool import Origin, Pool

__all__ = ["FastTransport"]

_PORTS = {"http": 80, "https": 443}
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[^\x00\r\n]*")  # h11 refuses these too: they would split the head


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio (asyncio only), with httpx's ``Limits`` and timeouts.

    No h11, no httpcore: each HTTP chunk costs one call from llhttp into ``list.append``, and the
    reader wakes once per socket read, not once per chunk (``bench/TRANSPORTS.md``).
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, limits: httpx.Limits | None = None
    ) -> None:
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._limits = limits if limits is not None else httpx.Limits()
        self._pool: Pool | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("FastTransport runs under asyncio only") from None
        url = request.url
        scheme = url.scheme
        if scheme not in _PORTS:
            _raise((httpx.UnsupportedProtocol, f"unsupported URL scheme {scheme!r}"), request)
        host = url.raw_host.decode("ascii")
        origin: Origin = (scheme, host, url.port or _PORTS[scheme])
        head = _head(request, url)
        body = await request.aread()
        if request.headers.get("transfer-encoding", "").lower() == "chunked":
            body = (b"%x\r\n%b\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        timeouts = request.extensions.get("timeout", {})
        pool = self._pool
        if pool is None:
            pool = self._pool = Pool(self._ssl, self._limits)
        sni = request.extensions.get("sni_hostname")
        got = await pool.acquire(
            origin, timeouts.get("connect"), timeouts.get("pool"), sni if sni else None
        )
        if not isinstance(got, Connection):
            _raise(got, request)
        conn = got
        try:
            await conn.send(head + body, timeouts.get("write"))
            read = timeouts.get("read")
            while not conn.head_done and conn.failure is None and not conn.timed_out:
                await conn.wait(read)
        except BaseException:  # cancelled
            pool.release_broken(conn)
            raise
        if not conn.head_done:
            pool.release_broken(conn)
            _raise(conn.failure or (httpx.ReadTimeout, "timed out reading the response"), request)
        # A head that arrived is the news even if the body then failed (a proxy that resets
        # after its 502 page): the failure is raised after the body bytes that did arrive.
        extensions: dict[str, Any] = {"http_version": conn.version, "reason_phrase": conn.reason}
        stream = _Body(conn, pool, request, read, empty=request.method == "HEAD")
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()


class _Body(httpx.AsyncByteStream):
    """The response body: each step returns every byte that has arrived, not one HTTP chunk."""

    def __init__(
        self,
        conn: Connection,
        pool: Pool,
        request: httpx.Request,
        read_timeout: float | None,
        *,
        empty: bool,
    ) -> None:
        self._conn: Connection | None = conn
        self._pool = pool
        self._request = request
        self._timeout = read_timeout
        self._empty = empty  # HEAD: no body, whatever the head says

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None or self._empty:
            raise StopAsyncIteration
        while True:
            if conn.parts:
                return conn.take()
            if conn.done:
                raise StopAsyncIteration
            if conn.failure is not None:
                _raise(conn.failure, self._request)
            if conn.timed_out:
                _raise((httpx.ReadTimeout, "timed out reading the response"), self._request)
            await conn.wait(self._timeout)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._empty or conn.parts or not conn.done:
            # Not read to its end: closed, so the server sees the close at once.
            self._pool.release_broken(conn)
        else:
            self._pool.release(conn)


def _head(request: httpx.Request, url: httpx.URL) -> bytes:
    """The request line and headers, as httpx built them."""
    lines = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            _raise((httpx.LocalProtocolError, "illegal header name or value"), request)
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def _raise(failure: Failure, request: httpx.Request) -> NoReturn:
    kind, message = failure
    raise kind(message, request=request)
