"""Memory: peak RSS while streaming a lot of text, and RSS per stream held open.

*Streaming*: each run is a fresh process that streams MB megabytes of text deltas, made on the
fly from memory (the body itself is never held), and only counts the characters. A client that
keeps nothing per event has the same peak at 25 MB as at 100 MB.

*Open streams*: a fresh process opens COUNT streams against a loopback server in another
process, takes each to its first text chunk and holds them all; the RSS it gained, divided by
COUNT, is what one open stream costs (connection, response, parser state, iterator).
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, cast

import msgspec

from .body import CHUNK_SIZE, delta_events, footer, header
from .loopback import server_process
from .stats import Stat, current_rss, peak_rss, run_worker

__all__ = ["MemoryResult", "OpenStreams", "StreamPeak", "open_worker", "run", "stream_worker"]

STREAM_PEERS = ("provider", "sdk_raw")


def _lazy_body(megabytes: float) -> tuple[Callable[[], Iterator[bytes]], int]:
    """A body of about ``megabytes`` made from one ~1 MB block of deltas, repeated, and the
    number of text characters it carries."""
    rng = random.Random(5)
    events, chars = [], 0
    size = 0
    for event, text in delta_events(rng, 1 << 30):
        events.append(event)
        chars += len(text)
        size += len(event)
        if size >= 1 << 20:
            break
    block = b"".join(events)
    parts = [block[i : i + CHUNK_SIZE] for i in range(0, len(block), CHUNK_SIZE)]
    repeats = max(1, round(megabytes * 1e6 / len(block)))
    head, tail = header(rng), footer(rng, 1)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(repeats):
            yield from parts
        yield tail

    return body, chars * repeats


async def _stream(peer: str, megabytes: float) -> dict[str, float]:
    from . import clients

    body, expected = _lazy_body(megabytes)
    small, _ = _lazy_body(0.1)

    async def count(stream: AsyncIterator[str]) -> int:
        return sum([len(text) async for text in stream])

    if peer == "provider":
        provider, http = clients.make_provider(transport=clients.httpx_mock(lambda: next(bodies)))

        def texts() -> AsyncIterator[str]:
            return _provider_texts(provider)

        close: Callable[[], Awaitable[None]] = http.aclose
    else:
        sdk = clients.make_sdk(transport=clients.httpx2_mock(lambda: next(bodies)))

        def texts() -> AsyncIterator[str]:
            return _sdk_raw_texts(sdk)

        close = sdk.close
    bodies = iter([small(), body()])
    try:
        await count(texts())  # warm-up: lazy imports, first-use set-up
        gc.collect()
        baseline = current_rss()
        chars = 0
        seen = 0
        top = baseline
        async for text in texts():
            chars += len(text)
            seen += 1
            if not seen % 2000:  # sample RSS as we go: the peak of this stream, not of imports
                top = max(top, current_rss())
        top = max(top, current_rss())
    finally:
        await close()
    if chars != expected:
        raise RuntimeError(f"{peer}: {chars} characters streamed, {expected} expected")
    return {"baseline": baseline, "peak": top, "process_peak": peak_rss(), "chars": chars}


async def _provider_texts(provider: Any) -> AsyncIterator[str]:
    from provider import Message, TextChunk

    from .clients import PROMPT, SYSTEM

    async for chunk in provider.create_message(SYSTEM, [Message(role="user", content=PROMPT)]):
        if isinstance(chunk, TextChunk):
            yield chunk.text


async def _sdk_raw_texts(sdk: Any) -> AsyncIterator[str]:
    from .clients import MAX_TOKENS, MODEL_ID, PROMPT, SYSTEM

    stream = await sdk.messages.create(
        model=MODEL_ID,
        max_tokens=MAX_TOKENS,
        system=SYSTEM,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
    )
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text


def stream_worker(peer: str, megabytes: float) -> dict[str, float]:
    return asyncio.run(_stream(peer, megabytes))


async def _open(peer: str, count: int, url: str) -> dict[str, float]:
    from provider import Message, TextChunk

    from . import clients

    held: list[Callable[[], Awaitable[None]]] = []
    if peer == "provider":
        provider, http = clients.make_provider(base_url=url)

        async def open_one() -> None:
            # create_message is an async generator; its declared type is the iterator.
            gen = cast(
                AsyncGenerator[object, None],
                provider.create_message(
                    clients.SYSTEM, [Message(role="user", content=clients.PROMPT)]
                ),
            )
            async for chunk in gen:
                if isinstance(chunk, TextChunk):
                    break
            else:
                raise RuntimeError("stream ended before its first text")
            held.append(gen.aclose)

        close: Callable[[], Awaitable[None]] = http.aclose
    else:
        sdk = clients.make_sdk(base_url=url)

        async def open_one() -> None:
            stream = await sdk.messages.create(
                model=clients.MODEL_ID,
                max_tokens=clients.MAX_TOKENS,
                system=clients.SYSTEM,
                messages=[{"role": "user", "content": clients.PROMPT}],
                stream=True,
            )
            iterator = stream.__aiter__()
            while True:
                event = await iterator.__anext__()
                if event.type == "content_block_delta":
                    break
            held.append(stream.close)

        close = sdk.close
    try:
        await open_one()  # warm-up: lazy imports, first connection
        await held.pop()()
        gc.collect()
        before = current_rss()
        for _ in range(count):
            await open_one()
        gc.collect()
        after = current_rss()
        for aclose in held:
            await aclose()
    finally:
        await close()
    return {"before": before, "after": after, "per_stream": (after - before) / count}


def open_worker(peer: str, count: int, url: str) -> dict[str, float]:
    return asyncio.run(_open(peer, count, url))


class StreamPeak(msgspec.Struct):
    peer: str
    megabytes: float
    peak_mb: Stat
    growth_mb: Stat  # peak minus the RSS just before the stream started


class OpenStreams(msgspec.Struct):
    peer: str
    count: int
    kib_per_stream: Stat


class MemoryResult(msgspec.Struct):
    peaks: list[StreamPeak]
    open_streams: list[OpenStreams]

    def peak(self, peer: str, megabytes: float) -> StreamPeak:
        return next(p for p in self.peaks if p.peer == peer and p.megabytes == megabytes)


def run(
    sizes: tuple[float, ...] = (25.0, 100.0), runs: int = 3, open_count: int = 200
) -> MemoryResult:
    raw: dict[tuple[str, float], list[dict[str, float]]] = {}
    for _ in range(runs):
        for peer in STREAM_PEERS:
            for mb in sizes:
                raw.setdefault((peer, mb), []).append(run_worker("stream", peer, str(mb)))
    peaks = [
        StreamPeak(
            peer=peer,
            megabytes=mb,
            peak_mb=Stat.of([r["peak"] / 1e6 for r in rs]),
            growth_mb=Stat.of([(r["peak"] - r["baseline"]) / 1e6 for r in rs]),
        )
        for (peer, mb), rs in raw.items()
    ]
    per_stream: dict[str, list[float]] = {peer: [] for peer in STREAM_PEERS}
    with server_process("hold") as url:
        for _ in range(runs):
            for peer in STREAM_PEERS:
                result = run_worker("open", peer, str(open_count), url)
                per_stream[peer].append(result["per_stream"] / 1024)
    return MemoryResult(
        peaks=peaks,
        open_streams=[
            OpenStreams(peer=p, count=open_count, kib_per_stream=Stat.of(v))
            for p, v in per_stream.items()
        ],
    )
