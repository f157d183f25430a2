"""Shared test configuration: every async test runs under asyncio and under trio; the tests
of the provider's own HTTP client (faults, gateways, proxies, key safety, loopback) run on each
transport it can choose (``http_transport``), and the tests that take ``shell`` against the async
provider and its sync twin."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from provider.providers import anthropic as anthropic_shell
from provider.transport import FAST_MODULE, TRANSPORT_VARIABLE, make_async_client
from tests.shells import SHELLS, Shell

if os.environ.get("PROVIDER_TEST_WITHOUT_FAST"):
    # The install without the extra (``make test`` runs part of the suite this way too).
    sys.modules[FAST_MODULE] = None  # type: ignore[assignment]

# "httpx": httpx's own transport, forced. "auto": the provider's own choice, which under asyncio
# with httptools installed (provider[fast], part of the dev install) is the fast transport, and
# httpx's otherwise.
TRANSPORTS = ("httpx", "auto")
try:
    FAST_INSTALLED = importlib.util.find_spec(FAST_MODULE) is not None
except ValueError:  # blocked above
    FAST_INSTALLED = False

# tests/plugin/ runs the provider_cassette plugin in inner pytest sessions.
pytest_plugins = ["pytester"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _plain_transport_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run on httpx's own transport unless they ask for ``http_transport``: many mock
    httpx's transport (pytest-httpx), which the fast transport would bypass."""
    monkeypatch.setenv(TRANSPORT_VARIABLE, "httpx")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "http_transport" in metafunc.fixturenames:
        # Sync tests build no client: one run is enough.
        async_test = inspect.iscoroutinefunction(metafunc.function)
        metafunc.parametrize(
            "http_transport", TRANSPORTS if async_test else TRANSPORTS[:1], indirect=True
        )


def _redundant(params: dict[str, Any]) -> bool:
    """A combination of parameters that repeats another one: the provider always uses httpx's
    transport under trio, and the sync provider runs no event loop (one backend for the test's
    server) and always uses httpx's transport."""
    backend = params.get("anyio_backend", "asyncio")
    transport = params.get("http_transport", "httpx")
    if transport == "auto" and backend != "asyncio":
        return True
    return params.get("shell") == "sync" and (backend != "asyncio" or transport != "httpx")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Deselected rather than skipped: they are not tests left out, but repeats never made.
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        redundant = callspec is not None and _redundant(callspec.params)
        (dropped if redundant else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def http_transport(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    _plain_transport_by_default: None,
) -> Iterator[str]:
    """The transport the provider's own client uses in this test: "httpx" or "fast" (the
    "auto" case with httptools installed)."""
    expect_fast = False
    if request.param == "auto":
        monkeypatch.delenv(TRANSPORT_VARIABLE)
        expect_fast = FAST_INSTALLED
    made: list[httpx.AsyncClient] = []

    def recording(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        client = make_async_client(*args, **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(anthropic_shell, "make_async_client", recording)
    yield "fast" if expect_fast else "httpx"
    # Every client the provider made for itself in this test ran on the transport expected.
    assert [type(c).__name__ == "_FastClient" for c in made] == [expect_fast] * len(made), made


@pytest.fixture(params=["async", "sync"])
def shell(request: pytest.FixtureRequest) -> Shell:
    """The provider flavour under test (``tests/shells.py``): ``AnthropicProvider`` or its sync
    twin. Its repeats (a second backend, a transport choice) are deselected: see
    ``_redundant``."""
    return SHELLS[request.param]
