"""Shared test configuration: every async test runs under asyncio and under trio."""

from __future__ import annotations

import pytest

# tests/plugin/ runs the provider_cassette plugin in inner pytest sessions.
pytest_plugins = ["pytester"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
