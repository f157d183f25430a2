"""The HTTP client the provider makes for itself, and the optional fast transport under it.

The package is written against httpx. Under asyncio, when ``httptools`` is installed
(``pip install provider[fast]``), the client's direct connections run on
``provider.fasthttp.FastTransport``: HTTP/1.1 on asyncio protocols, whose response body hands
over everything the socket has delivered at each wake-up, instead of one trip through h11 and
httpcore per HTTP chunk (the API sends one chunk per event). Measured in ``bench/sockets.md``.

Everything above the transport stays httpx: the request, headers, timeouts, redirect refusal,
decompression and the errors. Connections through a proxy (``proxy=`` or ``HTTP_PROXY`` /
``HTTPS_PROXY``, past ``NO_PROXY``) use httpx's own transport, so proxy handling is exactly
httpx's. Under trio, without httptools, or with ``PROVIDER_HTTP_TRANSPORT=httpx`` in the
environment, the client is a plain ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import ssl
from typing import Any

import httpx

__all__ = ["FAST_MODULE", "TRANSPORT_VARIABLE", "fast_available", "make_async_client"]

TRANSPORT_VARIABLE = "PROVIDER_HTTP_TRANSPORT"  # "httpx" forces the plain transport
FAST_MODULE = "httptools"  # what provider[fast] installs


def fast_available() -> bool:
    """Whether the fast transport can be used here: httptools installed, running under asyncio,
    and not turned off by ``PROVIDER_HTTP_TRANSPORT=httpx``."""
    if os.environ.get(TRANSPORT_VARIABLE, "").strip().lower() == "httpx":
        return False
    if not _under_asyncio():
        return False
    try:
        return importlib.util.find_spec(FAST_MODULE) is not None
    except ValueError:  # in sys.modules as None: import blocked
        return False


def _under_asyncio() -> bool:
    try:
        asyncio.get_running_loop()  # raises under trio, or outside any event loop
    except RuntimeError:
        return False
    return True


def make_async_client(
    timeout: httpx.Timeout, proxy: str | httpx.Proxy | None, limits: httpx.Limits
) -> httpx.AsyncClient:
    """The provider's own client: httpx's API on the fast transport where it can run, a plain
    ``httpx.AsyncClient`` otherwise. Proxies from the environment are honoured either way."""
    if not fast_available():
        return httpx.AsyncClient(timeout=timeout, proxy=proxy, limits=limits)
    return _FastClient(timeout=timeout, proxy=proxy, limits=limits)


class _FastClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose direct connections use ``FastTransport``.

    httpx builds the proxy routes itself (from ``proxy=`` or the environment, NO_PROXY
    included) and calls this hook only for the transport of direct connections, so proxied
    requests keep httpx's own transport. (The hook is the one httpx-aiohttp uses too.)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _Cookies(self._cookies)

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 (httpx's own default)
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        ssl_context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
        return self._direct_transport(ssl_context, limits)

    def _direct_transport(
        self, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> httpx.AsyncBaseTransport:
        # One place to choose it: bench/aiohttp_transport.py measures another one here.
        from .fasthttp import FastTransport

        return FastTransport(ssl_context=ssl_context, limits=limits)


class _Cookies(httpx.Cookies):
    """httpx's cookie store, which skips the standard library's cookie jar for a response that
    sets no cookie: the jar builds urllib stand-ins of the request and response for every
    response, about a fifth of a request's cost on the fast transport."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)
