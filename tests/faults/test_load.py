"""Many concurrent streams from one process against one loopback server: all open at once,
every one complete with exactly its own text and usage, and nothing left behind.

The full-size run (500 streams) is ``python -m bench.load``; this one stays quick.
"""

from __future__ import annotations

from contextlib import aclosing

import anyio
import httpx
import pytest

from provider import (
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    StopChunk,
    TextChunk,
    UsageChunk,
)

from .server import CLIENT_CLOSED, FaultServer, LoadScript, no_leaks
from .test_faults import provider_for

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

COUNT = 100  # the provider's own client allows 100 connections: exactly enough
LIMIT = 30.0


async def one_stream(
    p: AnthropicProvider, number: int, results: dict[int, list[MessageStreamChunk]]
) -> None:
    messages = [Message(role="user", content=f"stream {number}")]
    chunks: list[MessageStreamChunk] = []
    async with aclosing(p.create_message("", messages)) as stream:
        async for chunk in stream:
            chunks.append(chunk)
    results[number] = chunks


def check_results(script: LoadScript, results: dict[int, list[MessageStreamChunk]]) -> None:
    assert sorted(results) == list(range(script.count))
    for number, chunks in results.items():
        text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
        usage = [c for c in chunks if isinstance(c, UsageChunk)]
        assert text == script.expected_text(number)
        totals = (sum(u.input_tokens for u in usage), sum(u.output_tokens for u in usage))
        assert totals == script.expected_usage(number)
        assert isinstance(chunks[-1], StopChunk) and chunks[-1].stop_reason == "end_turn"


@pytest.mark.parametrize(
    "own_client", [False, True], ids=["providers-own-client", "callers-client"]
)
async def test_concurrent_streams_complete_exactly(
    fault_server: FaultServer, own_client: bool
) -> None:
    script = LoadScript(COUNT)
    fault_server.script = script
    results: dict[int, list[MessageStreamChunk]] = {}
    async with no_leaks():
        client = (
            httpx.AsyncClient(limits=httpx.Limits(max_connections=None)) if own_client else None
        )
        try:
            async with provider_for(fault_server.url, http_client=client) as p:
                with anyio.fail_after(LIMIT):
                    async with anyio.create_task_group() as group:
                        for number in range(COUNT):
                            group.start_soon(one_stream, p, number, results)
        finally:
            if client is not None:
                await client.aclose()
        with anyio.fail_after(LIMIT):
            await fault_server.wait_closed()
    # The server held every stream until all requests had arrived: they were open together.
    assert script.most_open == COUNT
    check_results(script, results)
    assert len(fault_server.connections) == COUNT
    assert all(conn.closed_by in CLIENT_CLOSED for conn in fault_server.connections)
