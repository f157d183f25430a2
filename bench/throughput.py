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
    seconds: Stat  # CPU seconds of the process per stream (see ``run``)
    wall_seconds: Stat
    events_per_s: Stat  # events per CPU second
    correct: bool


class ThroughputResult(msgspec.Struct):
    series: list[Series]

    def get(self, peer: str, deltas: int) -> Series | None:
        for s in self.series:
            if s.peer == peer and s.deltas == deltas:
                return s
        return None


async def _time(fn: Callable[[], Awaitable[str]], expected: str) -> tuple[float, float, bool]:
    """(CPU seconds, wall seconds, text correct) of one stream."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    text = await fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return cpu, wall, text == expected


def _schedule(runs: dict[str, int], late: frozenset[str]) -> list[str]:
    """The order of the runs: peers take turns, each spread evenly over the whole sequence,
    so drift on the machine hits every peer alike; ``late`` peers run after all the others."""
    most = max((c for p, c in runs.items() if p not in late), default=0)
    order: list[str] = []
    for i in range(most):
        for peer, count in runs.items():
            if peer not in late and (i * count) // most != ((i + 1) * count) // most:
                order.append(peer)
    for peer in late:
        order += [peer] * runs.get(peer, 0)
    return order


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
    cpu: dict[str, list[float]] = {peer: [] for peer in runs}
    wall: dict[str, list[float]] = {peer: [] for peer in runs}
    correct = dict.fromkeys(runs, True)
    try:
        # The SDK helper's big strings churn the heap: it runs after the others.
        for peer in _schedule(runs, late=frozenset({"sdk_helper"})):
            c, w, ok = await _time(fns[peer], body.text)
            cpu[peer].append(c)
            wall[peer].append(w)
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
            seconds=Stat.of(cpu[peer]),
            wall_seconds=Stat.of(wall[peer]),
            events_per_s=Stat.of([body.events / t for t in cpu[peer]]),
            correct=correct[peer],
        )
        for peer in runs
    ]


async def _warm_up() -> None:
    """One small stream per client first, so lazy imports and first-use set-up are not timed."""
    await _measure(make_body(500, seed=99), dict.fromkeys(("provider", "sdk_raw", "sdk_helper"), 1))


def run(
    sizes: tuple[int, ...] = (20_000, 80_000), runs: int = 15, sdk_runs: int = 7
) -> ThroughputResult:
    """Measure every peer at every size.

    Costs are CPU seconds of this (single-threaded) process: on an idle machine they equal
    the wall time, and on a shared one they leave out the time other processes held the CPU.
    ``runs`` for the fast peers, ``sdk_runs`` for the SDK's raw events; the SDK helper is
    quadratic in the text length (it rebuilds the snapshot's text with ``+=``), so it runs
    3 times below 50k deltas and once above.
    """

    async def main() -> list[Series]:
        await _warm_up()
        series: list[Series] = []
        for n in sizes:
            body = make_body(n, seed=n)
            helper_runs = 1 if n >= 50_000 else 3
            series += await _measure(
                body,
                {"provider": runs, "floor": runs, "sdk_raw": sdk_runs, "sdk_helper": helper_runs},
            )
        return series

    return ThroughputResult(series=asyncio.run(main()))
