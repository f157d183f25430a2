"""Which transport the provider's own client runs on (provider/transport.py). The fast
transport's own promises are in ``test_fasthttp.py``; its behaviour over real sockets (faults,
proxies, TLS, key safety) is tested on each transport by the suites that use
``http_transport``."""

from __future__ import annotations

import sys

import httpx
import pytest

from provider import MODELS, AnthropicProvider, ProviderConfig
from provider.transport import FAST_MODULE, TRANSPORT_VARIABLE, fast_available, make_async_client
from tests.conftest import FAST_INSTALLED

needs_fast = pytest.mark.skipif(not FAST_INSTALLED, reason="httptools is not installed")
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
TIMEOUT = httpx.Timeout(5.0)


def is_fast(client: httpx.AsyncClient) -> bool:
    return type(client).__name__ == "_FastClient"


def config() -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key="sk-ant-transport-test",
        base_url="http://127.0.0.1:9",
    )


@pytest.fixture
def auto(monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice left to the provider (the suite forces httpx's transport by default)."""
    monkeypatch.delenv(TRANSPORT_VARIABLE)


@needs_fast
@asyncio_only
@pytest.mark.anyio
async def test_asyncio_with_httptools_installed_gets_the_fast_transport(auto: None) -> None:
    async with make_async_client(TIMEOUT, None, LIMITS) as client:
        assert is_fast(client)
        assert isinstance(client, httpx.AsyncClient)  # the package's API is still httpx's
        assert client.timeout == TIMEOUT


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_trio_gets_httpx_transport_even_with_httptools_installed(auto: None) -> None:
    assert not fast_available()
    async with make_async_client(TIMEOUT, None, LIMITS) as client:
        assert type(client) is httpx.AsyncClient


@asyncio_only
@pytest.mark.anyio
async def test_the_environment_variable_forces_httpx_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRANSPORT_VARIABLE, "HTTPX ")
    async with make_async_client(TIMEOUT, None, LIMITS) as client:
        assert type(client) is httpx.AsyncClient


@asyncio_only
@pytest.mark.anyio
async def test_without_httptools_the_client_is_plain_httpx(
    auto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, FAST_MODULE, None)  # as if it were not installed
    assert not fast_available()
    async with make_async_client(TIMEOUT, None, LIMITS) as client:
        assert type(client) is httpx.AsyncClient


def test_outside_an_event_loop_the_client_is_plain_httpx(auto: None) -> None:
    assert not fast_available()


@pytest.mark.anyio
async def test_a_callers_http_client_is_used_as_is(auto: None) -> None:
    async with httpx.AsyncClient() as mine:
        p = AnthropicProvider(config(), http_client=mine)
        assert p._http() is mine
        await p.aclose()
        assert not mine.is_closed  # the caller's to close


@needs_fast
@asyncio_only
@pytest.mark.anyio
async def test_the_providers_own_client_is_fast_and_closed_with_it(auto: None) -> None:
    p = AnthropicProvider(config())
    client = p._http()
    assert is_fast(client)
    await p.aclose()
    assert client.is_closed


@needs_fast
@asyncio_only
@pytest.mark.anyio
@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_proxied_requests_keep_httpx_transport_and_no_proxy_goes_fast(
    auto: None, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from provider.fasthttp import FastTransport  # needs httptools

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    proxy = "http://127.0.0.1:9"
    if how == "environment":
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "gateway.internal")
    async with make_async_client(TIMEOUT, proxy if how == "argument" else None, LIMITS) as client:
        route = client._transport_for_url  # httpx's own routing, proxies from the environment
        assert type(route(httpx.URL("https://api.anthropic.com"))) is httpx.AsyncHTTPTransport
        if how == "environment":
            assert isinstance(route(httpx.URL("https://gateway.internal")), FastTransport)
            assert isinstance(route(httpx.URL("http://127.0.0.1:8080")), FastTransport)
