"""Concurrency: many streams at once from one process against a loopback server.

The server runs in its own process and paces each stream as a model would (a burst of events
every interval), so the client process's wall time, CPU seconds and peak RSS are the client's
own. Every stream's joined text is checked against what the server sent.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from .loopback import expected_text, server_process
from .profiling import package_shares, top_functions
from .stats import Stat, peak_rss, run_worker

__all__ = [
    "ConcurrencyResult",
    "PeerConcurrency",
    "PeerProfile",
    "concurrent_worker",
    "profile_worker",
    "run",
]

# provider_fast: the provider on the client it makes for itself with provider[fast] installed.
PEERS = ("provider", "provider_fast", "sdk_raw", "sdk_helper")


async def _concurrent(
    peer: str, count: int, url: str, deltas: int, profile: cProfile.Profile | None = None
) -> dict[str, float]:
    from . import clients

    expected = expected_text(deltas)
    if peer in ("provider", "provider_fast"):
        client = None
        if peer == "provider_fast":
            import httpx

            from provider.transport import make_async_client

            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            client = make_async_client(httpx.Timeout(600.0), None, limits)
        provider, http = clients.make_provider(base_url=url, client=client)

        def one() -> Awaitable[str]:
            return clients.provider_text(provider)

        close: Callable[[], Awaitable[None]] = http.aclose
    else:
        sdk = clients.make_sdk(base_url=url)
        stream = clients.sdk_raw_text if peer == "sdk_raw" else clients.sdk_helper_text

        def one() -> Awaitable[str]:
            return stream(sdk)

        close = sdk.close
    try:
        if await one() != expected:  # warm-up: lazy imports, first connection
            raise RuntimeError(f"{peer}: wrong text")
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        texts = await asyncio.gather(*(one() for _ in range(count)))
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await close()
    wrong = sum(text != expected for text in texts)
    if wrong:
        raise RuntimeError(f"{peer}: {wrong} of {count} streams carried the wrong text")
    return {"wall": wall, "cpu": cpu, "peak_rss": peak_rss()}


def concurrent_worker(peer: str, count: int, url: str, deltas: int) -> dict[str, float]:
    return asyncio.run(_concurrent(peer, count, url, deltas))


def profile_worker(peer: str, count: int, url: str, deltas: int) -> dict[str, Any]:
    """The same run under cProfile: own time per package, and provider's top functions."""
    # The default (wall) clock: a CPU-time clock costs a system call per sample and inflates
    # small functions many times over. Time blocked in epoll is left out by the summaries.
    profile = cProfile.Profile()
    result = asyncio.run(_concurrent(peer, count, url, deltas, profile))
    stats = pstats.Stats(profile)
    return {
        "events": count * (deltas + 6),
        "cpu": result["cpu"],
        "packages": package_shares(stats),
        "top": top_functions(stats, 12),
    }


class PeerConcurrency(msgspec.Struct):
    peer: str
    wall_s: Stat
    cpu_s: Stat
    peak_rss_mb: Stat


class PeerProfile(msgspec.Struct):
    """One run under cProfile (which slows it down): where the client's own time goes."""

    peer: str
    events: int
    cpu_s: float
    packages: list[tuple[str, float]]  # package -> own seconds, built-ins charged to callers
    top: list[tuple[str, float, int]]  # function -> own seconds, calls


class ConcurrencyResult(msgspec.Struct):
    streams: int
    deltas: int
    burst: int
    interval: float
    peers: list[PeerConcurrency]
    profiles: list[PeerProfile] = msgspec.field(default_factory=list)

    def get(self, peer: str) -> PeerConcurrency:
        return next(p for p in self.peers if p.peer == peer)


def run(
    streams: int = 500,
    deltas: int = 200,
    burst: int = 10,
    interval: float = 0.05,
    runs: int = 3,
    profile: bool = True,
) -> ConcurrencyResult:
    import importlib.util

    peers = [p for p in PEERS if p != "provider_fast" or importlib.util.find_spec("httptools")]
    raw: dict[str, list[dict[str, float]]] = {p: [] for p in peers}
    profiles: list[PeerProfile] = []
    with server_process("paced", deltas, burst, interval) as url:
        for _ in range(runs):
            for peer in peers:
                raw[peer].append(run_worker("concurrent", peer, str(streams), url, str(deltas)))
        if profile:
            for peer in ("provider", "sdk_raw"):
                found = run_worker("profile", peer, str(streams), url, str(deltas))
                profiles.append(
                    PeerProfile(
                        peer=peer,
                        events=found["events"],
                        cpu_s=found["cpu"],
                        packages=[(name, secs) for name, secs in found["packages"]],
                        top=[(name, secs, calls) for name, secs, calls in found["top"]],
                    )
                )
    return ConcurrencyResult(
        streams=streams,
        deltas=deltas,
        burst=burst,
        interval=interval,
        peers=[
            PeerConcurrency(
                peer=p,
                wall_s=Stat.of([r["wall"] for r in rs]),
                cpu_s=Stat.of([r["cpu"] for r in rs]),
                peak_rss_mb=Stat.of([r["peak_rss"] / 1e6 for r in rs]),
            )
            for p, rs in raw.items()
        ],
        profiles=profiles,
    )
