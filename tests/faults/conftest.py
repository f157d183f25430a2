"""The fault-injecting server as a pytest fixture: one per test, scripted by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .server import FaultServer


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """A started ``FaultServer``; the test sets ``fault_server.script`` before connecting."""
    async with FaultServer() as server:
        yield server
    server.check()
