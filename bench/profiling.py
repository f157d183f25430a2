"""cProfile results summarised per library: which package a client's CPU time goes to.

Waiting in ``epoll`` is left out: the profiler's clock is wall time, and a client blocked until
the server's next burst is idle, not working.

Time spent in C built-ins (socket calls, ``epoll``, msgspec's decoder, ``dict.get``) is charged
to the package of the Python function that called them, in proportion to what each caller
spent, so ``recv`` shows up under the HTTP library that reads and ``decode`` under provider.
"""

from __future__ import annotations

import pstats
from collections import defaultdict
from typing import Any

from .stats import ROOT

__all__ = ["is_idle_wait", "package_of", "package_shares", "top_functions"]


def is_idle_wait(name: str) -> bool:
    """The event loop blocked in ``epoll``/``select`` waiting for the network: not CPU work
    (cProfile's clock is wall time), so the summaries leave it out."""
    return "of 'select." in name


def package_of(filename: str) -> str:
    """The library a source file belongs to."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(f"{ROOT}/"):
        return filename.removeprefix(f"{ROOT}/").split("/", 1)[0]
    if "/asyncio/" in filename:
        return "asyncio"
    if filename in ("~", ""):
        return "builtins"
    return "stdlib"


def _raw(stats: pstats.Stats) -> dict[tuple[str, int, str], Any]:
    return stats.stats  # type: ignore[attr-defined,no-any-return]


def package_shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own CPU seconds per package, built-ins charged to their callers, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, callers) in _raw(stats).items():
        if is_idle_wait(name):
            continue
        package = package_of(filename)
        if package != "builtins" or not callers:
            totals[package] += tottime
            continue
        # callers: {caller: (cc, nc, tottime of this function under that caller, cumtime)}
        for (caller_file, _l, _n), edge in callers.items():
            totals[package_of(caller_file)] += edge[2]
    return sorted(totals.items(), key=lambda kv: -kv[1])


def top_functions(stats: pstats.Stats, count: int) -> list[tuple[str, float, int]]:
    """The ``count`` functions with the most own time: (label, seconds, calls)."""
    rows = []
    for (filename, line, name), (_cc, calls, tottime, _ct, _callers) in _raw(stats).items():
        if is_idle_wait(name):
            continue
        where = filename.split("site-packages/")[-1].removeprefix(f"{ROOT}/")
        label = f"{where}:{line}({name})" if line else name
        rows.append((label, tottime, calls))
    rows.sort(key=lambda r: -r[1])
    return rows[:count]
