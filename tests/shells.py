"""Both shells behind one small interface, so that a suite written once runs against
``AnthropicProvider`` and ``SyncAnthropicProvider`` alike (the ``shell`` fixture in
``tests/conftest.py`` parametrises it).

The tests' servers run on the test's event loop, so the sync provider is driven from a worker
thread here; the provider itself starts no thread. Each method returns what the caller saw,
and the test checks it exactly as for the async provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager, closing
from typing import Any, Literal

import anyio
import anyio.to_thread

from provider import (
    AnthropicProvider,
    AssistantTurn,
    Message,
    MessageStreamChunk,
    ProviderConfig,
    SyncAnthropicProvider,
)

__all__ = ["SHELLS", "STOPS", "AsyncShell", "Shell", "Stop", "SyncShell"]

#: How a caller leaves a stream early: ``break`` inside ``aclosing``/``closing``, the
#: generator's ``aclose()``/``close()``, or an exception raised in the caller's loop.
Stop = Literal["break", "close", "raise"]
STOPS: tuple[Stop, ...] = ("break", "close", "raise")

Chunks = list[MessageStreamChunk]
Provider = Any  # AnthropicProvider | SyncAnthropicProvider: each shell takes its own


class _Raised(Exception):
    """The caller's own exception, raised inside its loop."""


class _Shell:
    """What both shells build from their own ``provider``, ``consume`` and ``close``."""

    def provider(self, config: ProviderConfig, **options: Any) -> Provider:
        raise NotImplementedError

    async def consume(
        self, p: Provider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> tuple[Chunks, Exception | None]:
        raise NotImplementedError

    async def close(self, p: Provider) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def opened(self, config: ProviderConfig, **options: Any) -> AsyncIterator[Provider]:
        """A provider, closed (``aclose()`` or ``close()``) when the block ends."""
        p = self.provider(config, **options)
        try:
            yield p
        finally:
            await self.close(p)

    async def chunks(
        self, p: Provider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> Chunks:
        """Every chunk of one stream; its error, if any, is raised."""
        chunks, error = await self.consume(p, system, messages, **kw)
        if error is not None:
            raise error
        return chunks

    async def count_tokens(
        self, p: Provider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> int:
        raise NotImplementedError

    async def complete(
        self, p: Provider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> AssistantTurn:
        raise NotImplementedError


class AsyncShell(_Shell):
    name = "async"

    def provider(self, config: ProviderConfig, **options: Any) -> AnthropicProvider:
        return AnthropicProvider(config, **options)

    async def consume(
        self, p: AnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> tuple[Chunks, Exception | None]:
        """Every chunk until the stream ends, and the exception it ended with (None: none)."""
        chunks: Chunks = []
        try:
            async with aclosing(p.create_message(system, messages, **kw)) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
        except Exception as exc:  # anything at all: the test checks what it is
            return chunks, exc
        return chunks, None

    async def stop_at(
        self,
        p: AnthropicProvider,
        messages: Sequence[Message],
        until: Callable[[MessageStreamChunk], bool],
        how: Stop,
    ) -> Chunks:
        """Read chunks up to the first for which ``until`` is true, then leave as ``how`` says."""
        chunks: Chunks = []
        if how == "close":
            stream = p.create_message("", messages)
            while not until(chunk := await anext(stream)):
                chunks.append(chunk)
            chunks.append(chunk)
            await stream.aclose()
            return chunks
        try:
            async with aclosing(p.create_message("", messages)) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    if until(chunk):
                        if how == "raise":
                            raise _Raised
                        break
        except _Raised:
            pass
        return chunks

    async def count_tokens(
        self, p: AnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> int:
        return await p.count_tokens(system, messages, **kw)

    async def complete(
        self, p: AnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> AssistantTurn:
        return await p.complete(system, messages, **kw)

    async def close(self, p: AnthropicProvider) -> None:
        await p.aclose()


class SyncShell(_Shell):
    name = "sync"

    def provider(self, config: ProviderConfig, **options: Any) -> SyncAnthropicProvider:
        return SyncAnthropicProvider(config, **options)

    async def consume(
        self, p: SyncAnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> tuple[Chunks, Exception | None]:
        def run() -> tuple[Chunks, Exception | None]:
            chunks: Chunks = []
            try:
                with closing(p.create_message(system, messages, **kw)) as stream:
                    for chunk in stream:
                        chunks.append(chunk)
            except Exception as exc:
                return chunks, exc
            return chunks, None

        return await _in_thread(run)

    async def stop_at(
        self,
        p: SyncAnthropicProvider,
        messages: Sequence[Message],
        until: Callable[[MessageStreamChunk], bool],
        how: Stop,
    ) -> Chunks:
        def run() -> Chunks:
            chunks: Chunks = []
            if how == "close":
                stream = p.create_message("", messages)
                while not until(chunk := next(stream)):
                    chunks.append(chunk)
                chunks.append(chunk)
                stream.close()
                return chunks
            if how == "break":
                with closing(p.create_message("", messages)) as stream:
                    for chunk in stream:
                        chunks.append(chunk)
                        if until(chunk):
                            break
                return chunks
            try:
                # A bare loop, as most sync code writes it: the exception drops the only
                # reference to the generator, which CPython closes at once.
                for chunk in p.create_message("", messages):
                    chunks.append(chunk)
                    if until(chunk):
                        raise _Raised
            except _Raised:
                pass
            return chunks

        return await _in_thread(run)

    async def count_tokens(
        self, p: SyncAnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> int:
        count: int = await _in_thread(lambda: p.count_tokens(system, messages, **kw))
        return count

    async def complete(
        self, p: SyncAnthropicProvider, system: Any, messages: Sequence[Message], **kw: Any
    ) -> AssistantTurn:
        turn: AssistantTurn = await _in_thread(lambda: p.complete(system, messages, **kw))
        return turn

    async def close(self, p: SyncAnthropicProvider) -> None:
        p.close()


async def _in_thread(run: Callable[[], Any]) -> Any:
    # abandon_on_cancel: a test's deadline fails the test instead of waiting on a hung read.
    return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)


Shell = AsyncShell | SyncShell
SHELLS: dict[str, Shell] = {"async": AsyncShell(), "sync": SyncShell()}
