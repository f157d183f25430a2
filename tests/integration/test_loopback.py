"""The project client against a real 127.0.0.1 server: chunks leave as they arrive, stopping
early closes the connection, and a base URL with a path prefix is honoured (by the sync twin
too: the tests that take ``shell``)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, aclosing
from pathlib import Path
from typing import Any

import anyio
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    ProviderConfig,
    TextChunk,
)
from provider.serve import ReplayServer
from tests.shells import Shell

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

HAIKU = Path(__file__).resolve().parents[2] / "fixtures" / "haiku.sse"
# message_start, content_block_start, ping, then the first text delta: the server holds there.
FIRST_TEXT_EVENT = 4
LIMIT = 10  # seconds: a hang fails the test instead of the suite


def config(url: str) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key="sk-ant-loopback-test",
        base_url=url,
    )


def client(url: str) -> AnthropicProvider:
    return AnthropicProvider(config(url), max_retries=0)


def opened(shell: Shell, url: str) -> AbstractAsyncContextManager[Any]:
    """The ``shell``'s provider (async or its sync twin), closed when the block ends."""
    return shell.opened(config(url), max_retries=0)


def messages() -> list[Message]:
    return [Message(role="user", content="Write a haiku about streaming.")]


async def test_first_chunk_arrives_while_the_server_holds_the_rest() -> None:
    async with (
        ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server,
        client(server.url) as p,
    ):
        chunks: list[MessageStreamChunk] = []
        with anyio.fail_after(LIMIT):
            async for chunk in p.create_message("", messages()):
                chunks.append(chunk)
                if isinstance(chunk, TextChunk) and not server.resume.is_set():
                    # The caller holds text while the rest of the stream is still unsent.
                    assert chunk.text == "Bytes"
                    await server.paused.wait()
                    assert server.pieces_sent == FIRST_TEXT_EVENT
                    server.resume.set()
    text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
    assert text.startswith("Bytes drift down the wire,")
    assert server.pieces_sent > FIRST_TEXT_EVENT
    assert server.disconnects == 0  # a complete stream is not a cut-short one


async def test_early_stop_closes_the_connection() -> None:
    async with (
        ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server,
        client(server.url) as p,
    ):
        with anyio.fail_after(LIMIT):
            async with aclosing(p.create_message("", messages())) as stream:
                async for chunk in stream:
                    if isinstance(chunk, TextChunk):
                        break
            # The server is still holding the stream; only our close can end it.
            await server.wait_for_disconnects(1)
        assert server.disconnects == 1
        assert not server.resume.is_set()


async def test_cancelling_the_consumer_closes_the_connection() -> None:
    async with (
        ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server,
        client(server.url) as p,
    ):
        got_text = anyio.Event()

        async def consume() -> None:
            async with aclosing(p.create_message("", messages())) as stream:
                async for chunk in stream:
                    if isinstance(chunk, TextChunk):
                        got_text.set()

        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await got_text.wait()
                tg.cancel_scope.cancel()
            await server.wait_for_disconnects(1)
        assert server.disconnects == 1


@pytest.mark.parametrize("prefix", ["/anthropic", "/anthropic/", "/gw/v1"])
async def test_base_url_path_prefix_is_honoured(shell: Shell, prefix: str) -> None:
    async with ReplayServer(HAIKU) as server, opened(shell, server.url + prefix) as p:
        with anyio.fail_after(LIMIT):
            chunks = await shell.chunks(p, "", messages())
    expected = prefix.rstrip("/").removesuffix("/v1") + "/v1/messages"
    assert [r.path for r in server.requests] == [expected]
    assert any(isinstance(c, TextChunk) for c in chunks)


async def test_connection_is_reused_across_messages(shell: Shell) -> None:
    async with ReplayServer(HAIKU) as server, opened(shell, server.url) as p:
        with anyio.fail_after(LIMIT):
            for _ in range(3):
                await shell.chunks(p, "", messages())
    # Reading to the end of each body returns the connection to the pool.
    assert len({r.connection for r in server.requests}) == 1
    assert len(server.requests) == 3
