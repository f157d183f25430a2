"""Where provider's time goes per event: its layers timed one by one, then a cProfile run.

Layers, each timed on the same body and pieces as the throughput bench (CPU time, best of
the runs):
  framer       ``SSEFramer.feed_into``: bytes to SSE events
  decode       msgspec decoding of the framed events' data with provider's own decoders
  core         ``ChunkDecoder.feed``: framer + msgspec decoding + the state machine (sans-I/O)
  full         ``create_message`` through ``httpx.MockTransport``: the core plus httpx's
               response streaming, the shell's async generator and the caller's loop
The differences say what each layer adds. The profile (which slows everything down, calls more
than the rest) names the functions.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import time
from collections.abc import AsyncIterator, Callable

import msgspec

from provider import TextChunk
from provider.stream import ChunkDecoder, SSEEvent, SSEFramer
from provider.stream.events import decoder_for

from . import clients
from .body import make_body, pieces
from .stats import ROOT
from .throughput import floor_text

__all__ = ["Breakdown", "Hotspot", "run"]


class Hotspot(msgspec.Struct):
    function: str
    ns_per_event: float  # own time (tottime), under the profiler
    calls_per_event: float


class Breakdown(msgspec.Struct):
    deltas: int
    events: int
    layers: list[tuple[str, float]]  # layer -> ns per event (best of runs, no profiler)
    hotspots: list[Hotspot]


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def run(deltas: int = 80_000, runs: int = 5, top: int = 12) -> Breakdown:
    body = make_body(deltas, seed=deltas)
    parts = pieces(body.data)

    def framer() -> None:
        sink: list[object] = []
        f = SSEFramer()
        for part in parts:
            f.feed_into(part, sink.append)

    framed: list[SSEEvent] = []
    framing = SSEFramer()
    for part in parts:
        framing.feed_into(part, framed.append)
    decoders = [(decoder_for(e.event), e.data) for e in framed]

    def decode() -> None:
        for decoder, data in decoders:
            if decoder is not None:
                decoder.decode(data)

    def core() -> None:
        texts: list[str] = []
        decoder = ChunkDecoder()
        for part in parts:
            for chunk in decoder.feed(part):
                if isinstance(chunk, TextChunk):
                    texts.append(chunk.text)
        for chunk in decoder.close():
            if isinstance(chunk, TextChunk):
                texts.append(chunk.text)
        if "".join(texts) != body.text:
            raise RuntimeError("ChunkDecoder: wrong text")

    provider, http = clients.make_provider(transport=clients.httpx_mock(parts))

    def floor() -> None:
        floor_text(body.data)

    per_event = 1e9 / body.events
    layers = [
        ("floor (split + msgspec, no HTTP)", _best(floor, runs) * per_event),
        ("SSEFramer.feed_into alone: bytes to SSEEvents", _best(framer, runs) * per_event),
        (
            "msgspec decode alone: provider's decoders on the framed events",
            _best(decode, runs) * per_event,
        ),
        ("ChunkDecoder.feed (framer + decode + state machine)", _best(core, runs) * per_event),
    ]

    # The full path in one event loop, so the loop's own start-up is not counted per run.
    async def full_runs() -> float:
        best = float("inf")
        for _ in range(runs):
            gc.collect()
            start = time.process_time()
            text = await clients.provider_text(provider)
            best = min(best, time.process_time() - start)
            if text != body.text:
                raise RuntimeError("create_message: wrong text")
        return best

    async def profiled() -> cProfile.Profile:
        profile = cProfile.Profile()
        profile.enable()
        await clients.provider_text(provider)
        profile.disable()
        await http.aclose()
        return profile

    async def yield_only() -> float:
        """The async generator protocol alone: yield ready-made chunks to an ``async for``."""
        chunks = [TextChunk("x")] * body.events

        async def gen() -> AsyncIterator[TextChunk]:
            for chunk in chunks:
                yield chunk

        best = float("inf")
        for _ in range(runs):
            start = time.process_time()
            async for chunk in gen():
                if isinstance(chunk, TextChunk):
                    pass
            best = min(best, time.process_time() - start)
        return best

    layers.append(
        ("create_message via httpx.MockTransport (all of it)", asyncio.run(full_runs()) * per_event)
    )
    layers.append(
        (
            "for reference: an async generator yielding ready chunks",
            asyncio.run(yield_only()) * per_event,
        )
    )
    profile = asyncio.run(profiled())
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.split("/site-packages/")[-1].removeprefix(f"{ROOT}/")
        label = f"{where}:{line}({name})" if line else name
        rows.append(Hotspot(label, tottime * per_event, calls / body.events))
    rows.sort(key=lambda h: -h.ns_per_event)
    return Breakdown(deltas=deltas, events=body.events, layers=layers, hotspots=rows[:top])
