"""However the caller stops a stream (cancelling its task, a deadline, ``break`` inside
``aclosing``, ``aclose()``; for the sync twin ``break`` inside ``closing``, ``close()``, an
exception in the loop), the connection is closed at once, by the stream itself: the server
sees it before the provider is closed, and no task or ResourceWarning is left behind.

The server holds each stream open after some bytes, so only the client can end it.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing, nullcontext

import anyio
import pytest

from provider import AnthropicProvider, TextChunk

from ..shells import STOPS, Shell, Stop
from .server import (
    CLIENT_CLOSED,
    FaultConnection,
    FaultServer,
    Response,
    Script,
    message_events,
    no_leaks,
)
from .test_faults import FIRST_DELTA, MESSAGES, PIECES, config_for, provider_for

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

LIMIT = 10.0  # seconds: "promptly" is anything well inside this; a leak hangs until it


def holding(response: Response | None, stop: int | None, reached: anyio.Event) -> Script:
    """Read the request, send ``stop`` bytes of ``response`` (None: nothing), then hold."""

    async def script(conn: FaultConnection) -> None:
        await conn.read_request()
        if response is not None:
            await conn.send(response, stop=stop)
        reached.set()
        # Returning leaves the connection open until the client closes it.

    return script


def stream_reply() -> Response:
    return Response(message_events(PIECES))


async def closed_by_the_client(server: FaultServer) -> None:
    with anyio.fail_after(LIMIT):
        await server.wait_closed()
    (conn,) = server.connections
    assert conn.closed_by in CLIENT_CLOSED


@pytest.mark.parametrize("how", STOPS)
async def test_leaving_the_stream_early(shell: Shell, fault_server: FaultServer, how: Stop) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks():
        p = shell.provider(config_for(fault_server.url), max_retries=0)
        try:
            with anyio.fail_after(LIMIT):
                chunks = await shell.stop_at(p, MESSAGES, lambda c: isinstance(c, TextChunk), how)
            # The server still holds the stream and the provider is open: only the stream's
            # own cleanup can have closed the connection.
            await closed_by_the_client(fault_server)
        finally:
            await shell.close(p)
    assert chunks[-1] == TextChunk(PIECES[0])


@pytest.mark.parametrize("wrapped", [True, False], ids=["aclosing", "bare"])
async def test_cancelling_the_consuming_task(fault_server: FaultServer, wrapped: bool) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    texts: list[str] = []
    got_text = anyio.Event()

    async def consume(p: AnthropicProvider) -> None:
        # Bare: the cancellation is raised inside the generator, whose own cleanup runs.
        stream = p.create_message("", MESSAGES)
        async with aclosing(stream) if wrapped else nullcontext(stream):
            async for chunk in stream:
                if isinstance(chunk, TextChunk):
                    texts.append(chunk.text)
                    got_text.set()

    async with no_leaks(), provider_for(fault_server.url) as p:
        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as group:
                group.start_soon(consume, p)
                await got_text.wait()
                await reached.wait()
                group.cancel_scope.cancel()
        await closed_by_the_client(fault_server)
    assert texts == [PIECES[0]]


async def test_a_deadline_around_the_stream(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        with anyio.move_on_after(LIMIT) as scope:

            async def expire_once_held() -> None:
                # The deadline falls while the server holds the stream, however slow the
                # machine is in getting there (a fixed 0.2 s could pass before the connect).
                await reached.wait()
                scope.deadline = anyio.current_time() + 0.05

            async with anyio.create_task_group() as group:
                group.start_soon(expire_once_held)
                async with aclosing(p.create_message("", MESSAGES)) as stream:
                    async for _chunk in stream:
                        pass
        assert scope.cancelled_caught
        await closed_by_the_client(fault_server)


async def test_cancel_before_the_response_head(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    fault_server.script = holding(None, None, reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, p)
                await reached.wait()
                group.cancel_scope.cancel()
        await closed_by_the_client(fault_server)


async def test_cancel_while_reading_an_error_body(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    body = b'{"type":"error","error":{"type":"api_error","message":"' + b"x" * 990 + b'"}}'
    response = Response(
        [body], status=500, headers=[("content-type", "application/json")], framing="length"
    )
    fault_server.script = holding(response, len(response.head) + 10, reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, p)
                await reached.wait()
                group.cancel_scope.cancel()
        await closed_by_the_client(fault_server)


async def test_cancel_during_the_retry_wait(fault_server: FaultServer) -> None:
    """A 529 asks for a retry in 30 s; cancelling the wait ends it at once, with no second
    request (the first connection rests in the pool, whole, until the provider closes)."""
    answered = anyio.Event()
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    headers = [("content-type", "application/json"), ("retry-after", "30")]
    response = Response([body], status=529, headers=headers, framing="length")
    fault_server.script = holding(response, None, answered)
    async with no_leaks():
        async with provider_for(fault_server.url, max_retries=2) as p:
            with anyio.fail_after(LIMIT):
                async with anyio.create_task_group() as group:
                    group.start_soon(_drain, p)
                    await answered.wait()
                    await anyio.sleep(0.05)  # the client reads the answer and starts waiting
                    group.cancel_scope.cancel()
        await closed_by_the_client(fault_server)


async def test_break_inside_aclosing(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        with anyio.fail_after(LIMIT):
            async with aclosing(p.create_message("", MESSAGES)) as stream:
                async for chunk in stream:
                    if isinstance(chunk, TextChunk):
                        break
            await closed_by_the_client(fault_server)
        assert chunk == TextChunk(PIECES[0])


async def test_aclose_on_the_generator(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        stream = p.create_message("", MESSAGES)
        with anyio.fail_after(LIMIT):
            while not isinstance(await stream.__anext__(), TextChunk):
                pass
            await stream.aclose()  # type: ignore[attr-defined]
            await closed_by_the_client(fault_server)
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_native_asyncio_task_cancel(fault_server: FaultServer) -> None:
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        task = asyncio.create_task(_drain(p))
        with anyio.fail_after(LIMIT):
            await reached.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await closed_by_the_client(fault_server)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_native_trio_cancel_scope(fault_server: FaultServer) -> None:
    import trio

    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        with trio.CancelScope() as scope:
            async for chunk in p.create_message("", MESSAGES):
                if isinstance(chunk, TextChunk):
                    # The next step of the stream meets the cancellation inside the generator.
                    scope.cancel()
        assert scope.cancelled_caught
        await closed_by_the_client(fault_server)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_break_without_aclosing_under_asyncio(fault_server: FaultServer) -> None:
    """asyncio's async-generator finalizer closes an abandoned stream (under trio, use
    ``aclosing``: trio warns about a generator abandoned without it)."""
    reached = anyio.Event()
    response = stream_reply()
    fault_server.script = holding(response, response.end_of(FIRST_DELTA), reached)
    async with no_leaks(), provider_for(fault_server.url) as p:
        async for chunk in p.create_message("", MESSAGES):
            if isinstance(chunk, TextChunk):
                break
        await closed_by_the_client(fault_server)


async def _drain(p: AnthropicProvider) -> None:
    async with aclosing(p.create_message("", MESSAGES)) as stream:
        async for _chunk in stream:
            pass
