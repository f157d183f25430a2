"""Throughput: events per second through each client, from memory, on the same bytes.

Every peer gets the same body cut in the same 64 KiB pieces, through an in-memory transport of
its own HTTP library (httpx for ``provider``, httpx2 for the SDK), and the caller joins the text.
Runs are interleaved peer by peer so drift on the machine hits all peers alike. The joined text
of every run is compared with the text the body carries: a fast but wrong client fails the bench.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable

import msgspec

from . import clients
from .body import Body, make_body, pieces
from .stats import Stat

__all__ = ["Series", "ThroughputResult", "floor_text", "run"]


class _Delta(msgspec.Struct):
    type: str = ""
    text: str = ""


class _WireEvent(msgspec.Struct):
    """Just what the floor needs from every event; unknown fields are skipped by msgspec."""

    type: str
    delta: _Delta | None = None


_floor_decoder = msgspec.json.Decoder(_WireEvent)


def floor_text(data: bytes) -> str:
    """The floor: split events, decode each ``data:`` line with a reused decoder, join the text.

    Pure parsing with no HTTP, no framing across reads and no validation: no client can do
    less work than this in Python with msgspec.
    """
    decode = _floor_decoder.decode
    parts: list[str] = []
    append = parts.append
    for block in data.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                event = decode(line[5:])
                delta = event.delta
                if event.type == "content_block_delta" and delta and delta.type == "text_delta":
                    append(delta.text)
    return "".join(parts)


class Series(msgspec.Struct):
    """One peer at one stream size."""

    peer: str
    deltas: int
    events: int
    megabytes: float
    seconds: Stat
    events_per_s: Stat
    correct: bool


class ThroughputResult(msgspec.Struct):
    series: list[Series]

    def get(self, peer: str, deltas: int) -> Series | None:
        for s in self.series:
            if s.peer == peer and s.deltas == deltas:
                return s
        return None


async def _time(fn: Callable[[], Awaitable[str]], expected: str) -> tuple[float, bool]:
    gc.collect()
    start = time.perf_counter()
    text = await fn()
    elapsed = time.perf_counter() - start
    return elapsed, text == expected


async def _measure(body: Body, runs: dict[str, int]) -> list[Series]:
    parts = pieces(body.data)
    provider, http = clients.make_provider(transport=clients.httpx_mock(parts))
    sdk = clients.make_sdk(transport=clients.httpx2_mock(parts))

    async def floor() -> str:
        return floor_text(body.data)

    fns: dict[str, Callable[[], Awaitable[str]]] = {
        "provider": lambda: clients.provider_text(provider),
        "sdk_raw": lambda: clients.sdk_raw_text(sdk),
        "sdk_helper": lambda: clients.sdk_helper_text(sdk),
        "floor": floor,
    }
    times: dict[str, list[float]] = {peer: [] for peer in runs}
    correct = dict.fromkeys(runs, True)
    try:
        # Peers with as many runs as the most take turns; the others (the slow SDK helper, whose
        # big strings churn the heap) run after them.
        most = max(runs.values())
        order = [[p for p, c in runs.items() if c == most and i < c] for i in range(most)]
        order.append([p for p, c in runs.items() if c < most for _ in range(c)])
        for turn in order:
            for peer in turn:
                elapsed, ok = await _time(fns[peer], body.text)
                times[peer].append(elapsed)
                correct[peer] = correct[peer] and ok
    finally:
        await http.aclose()
        await sdk.close()
    mb = len(body.data) / 1e6
    return [
        Series(
            peer=peer,
            deltas=body.deltas,
            events=body.events,
            megabytes=mb,
            seconds=Stat.of(ts),
            events_per_s=Stat.of([body.events / t for t in ts]),
            correct=correct[peer],
        )
        for peer, ts in times.items()
    ]


async def _warm_up() -> None:
    """One small stream per client first, so lazy imports and first-use set-up are not timed."""
    await _measure(make_body(500, seed=99), dict.fromkeys(("provider", "sdk_raw", "sdk_helper"), 1))


def run(sizes: tuple[int, ...] = (20_000, 80_000), runs: int = 5) -> ThroughputResult:
    """Measure every peer at every size. The SDK helper is quadratic in the text length
    (it rebuilds the snapshot's text with ``+=``), so at the largest size it runs once."""

    async def main() -> list[Series]:
        await _warm_up()
        series: list[Series] = []
        for n in sizes:
            body = make_body(n, seed=n)
            helper_runs = 1 if n >= 50_000 else 3
            series += await _measure(
                body, {"provider": runs, "sdk_raw": runs, "floor": runs, "sdk_helper": helper_runs}
            )
        return series

    return ThroughputResult(series=asyncio.run(main()))
