"""Shared test configuration: every async test runs under asyncio and under trio, and the tests
of the provider's own HTTP client (faults, gateways, proxies, key safety, loopback) run on each
transport it can choose (``http_transport``)."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from provider.providers import anthropic as anthropic_shell
from provider.transport import TRANSPORT_VARIABLE, make_async_client

# "httpx": the plain httpx transport, forced. "fast": the choice left to the provider, which
# under asyncio with aiohttp installed (provider[fast]) is the aiohttp transport.
TRANSPORTS = ("httpx", "fast")
FAST_INSTALLED = importlib.util.find_spec("aiohttp") is not None

# tests/plugin/ runs the provider_cassette plugin in inner pytest sessions.
pytest_plugins = ["pytester"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _plain_transport_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run on httpx's own transport unless they ask for ``http_transport``: many mock
    httpx's transport (pytest-httpx), which the aiohttp transport would bypass."""
    monkeypatch.setenv(TRANSPORT_VARIABLE, "httpx")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "http_transport" in metafunc.fixturenames:
        # Sync tests build no client: one run is enough.
        async_test = inspect.iscoroutinefunction(metafunc.function)
        metafunc.parametrize(
            "http_transport", TRANSPORTS if async_test else TRANSPORTS[:1], indirect=True
        )


@pytest.fixture
def http_transport(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    _plain_transport_by_default: None,
) -> Iterator[str]:
    """The transport the provider's own client uses in this test (see TRANSPORTS)."""
    name = str(request.param)
    if name == "fast":
        if not FAST_INSTALLED:
            pytest.skip("aiohttp is not installed (pip install provider[fast])")
        if (
            "anyio_backend" in request.fixturenames
            and request.getfixturevalue("anyio_backend") != "asyncio"
        ):
            pytest.skip("the fast transport is asyncio-only; under trio the provider uses httpx's")
        monkeypatch.delenv(TRANSPORT_VARIABLE)
    made: list[httpx.AsyncClient] = []

    def recording(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        client = make_async_client(*args, **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(anthropic_shell, "make_async_client", recording)
    yield name
    # Every client the provider made for itself in this test ran on the transport named.
    fast = [type(client).__name__ == "_FastClient" for client in made]
    assert all(fast) if name == "fast" else not any(fast), (name, made)
