"""Latency over a real loopback socket, server and client in one process and one event loop.

*Per event*: the server writes one text delta, notes the time, and waits until the caller holds
the chunk (the caller notes the time and sets a shared event) before writing the next, so every
sample is one event's trip: socket, HTTP layer, SSE parsing, the client's event objects, the
caller's ``async for``. *Request to first chunk*: on a kept-alive connection, from the call
that starts a stream to the caller holding its first text (the server answers at once).
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import anthropic
import msgspec

from provider import AnthropicProvider, Message, TextChunk

from . import clients
from .body import delta_events, footer, header, make_body
from .server import Response, SSEServer
from .stats import Stat, percentile

__all__ = ["LatencyResult", "PeerLatency", "run"]

PEERS = ("provider", "sdk_raw", "sdk_helper")


class PeerLatency(msgspec.Struct):
    peer: str
    event_median_us: Stat
    event_p99_us: Stat
    first_median_us: Stat
    first_p99_us: Stat


class LatencyResult(msgspec.Struct):
    events_per_run: int
    requests_per_run: int
    runs: int
    peers: list[PeerLatency]


class _Probe:
    """Shared by the server (which writes) and the caller (which receives), one per stream."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self.at = 0

    def hit(self) -> None:
        self.at = time.perf_counter_ns()
        self.received.set()


class _State:
    def __init__(self) -> None:
        self.mode = "lockstep"
        self.events = 0
        self.probe = _Probe()
        self.samples: list[float] = []
        self.burst = make_body(50, seed=7).data


async def _handler(state: _State, response: Response) -> None:
    if state.mode == "burst":
        await response.send(state.burst)
        return
    rng = random.Random(3)
    await response.send(header(rng))
    probe = state.probe
    for event, _text in delta_events(rng, state.events):
        probe.received.clear()
        start = time.perf_counter_ns()
        await response.send(event)
        await asyncio.wait_for(probe.received.wait(), 10.0)
        state.samples.append((probe.at - start) / 1000)
    await response.send(footer(rng, state.events + 1))


def _streams(
    state: _State, provider: AnthropicProvider, sdk: anthropic.AsyncAnthropic
) -> dict[str, Callable[[Callable[[], None]], Awaitable[None]]]:
    """For each peer: stream one message, calling ``on_text`` as each text piece arrives."""

    async def provider_stream(on_text: Callable[[], None]) -> None:
        async for chunk in provider.create_message(
            clients.SYSTEM, [Message(role="user", content=clients.PROMPT)]
        ):
            if isinstance(chunk, TextChunk):
                on_text()

    async def sdk_raw_stream(on_text: Callable[[], None]) -> None:
        stream = await sdk.messages.create(
            model=clients.MODEL_ID,
            max_tokens=clients.MAX_TOKENS,
            system=clients.SYSTEM,
            messages=[{"role": "user", "content": clients.PROMPT}],
            stream=True,
        )
        async with stream:
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    on_text()

    async def sdk_helper_stream(on_text: Callable[[], None]) -> None:
        async with sdk.messages.stream(
            model=clients.MODEL_ID,
            max_tokens=clients.MAX_TOKENS,
            system=clients.SYSTEM,
            messages=[{"role": "user", "content": clients.PROMPT}],
        ) as stream:
            async for _text in stream.text_stream:
                on_text()

    return {"provider": provider_stream, "sdk_raw": sdk_raw_stream, "sdk_helper": sdk_helper_stream}


async def _main(events: int, requests: int, runs: int) -> LatencyResult:
    state = _State()
    per_event: dict[str, list[tuple[float, float]]] = {p: [] for p in PEERS}
    first: dict[str, list[tuple[float, float]]] = {p: [] for p in PEERS}
    async with SSEServer(lambda r: _handler(state, r)) as server:
        provider, http = clients.make_provider(base_url=server.url)
        sdk = clients.make_sdk(base_url=server.url)
        streams = _streams(state, provider, sdk)
        try:
            for run in range(runs + 1):  # run 0 warms up connections and lazy imports
                for peer, stream in streams.items():
                    gc.collect()
                    state.mode, state.events, state.samples = "lockstep", events, []
                    state.probe = _Probe()
                    await stream(state.probe.hit)
                    if len(state.samples) != events:
                        raise RuntimeError(f"{peer}: {len(state.samples)} of {events} events seen")
                    lockstep = state.samples

                    state.mode = "burst"
                    firsts: list[float] = []
                    for _ in range(requests):
                        begin = time.perf_counter_ns()
                        got: list[int] = []

                        def on_text(got: list[int] = got) -> None:
                            if not got:
                                got.append(time.perf_counter_ns())

                        await stream(on_text)
                        firsts.append((got[0] - begin) / 1000)
                    if run:
                        per_event[peer].append(
                            (statistics.median(lockstep), percentile(lockstep, 99))
                        )
                        first[peer].append((statistics.median(firsts), percentile(firsts, 99)))
        finally:
            await http.aclose()
            await sdk.close()
    return LatencyResult(
        events_per_run=events,
        requests_per_run=requests,
        runs=runs,
        peers=[
            PeerLatency(
                peer=peer,
                event_median_us=Stat.of([m for m, _ in per_event[peer]]),
                event_p99_us=Stat.of([p for _, p in per_event[peer]]),
                first_median_us=Stat.of([m for m, _ in first[peer]]),
                first_p99_us=Stat.of([p for _, p in first[peer]]),
            )
            for peer in PEERS
        ],
    )


def run(events: int = 2000, requests: int = 200, runs: int = 5) -> LatencyResult:
    return asyncio.run(_main(events, requests, runs))
