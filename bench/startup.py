"""Start-up: the cost of ``import provider`` and ``import anthropic`` in fresh interpreters.

Each sample is a new process that times its one import and reads its RSS before and after, so
nothing is cached in ``sys.modules``; bytecode caches are warm (they are after any install).
One ``-X importtime`` run of ``provider`` says which packages its import time goes to.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict

import msgspec

from .stats import ROOT, Stat

__all__ = ["ImportCost", "StartupResult", "import_breakdown", "run"]

MODULES = ("provider", "anthropic", "httpx")


class ImportCost(msgspec.Struct):
    module: str
    ms: Stat  # wall time of the import
    cpu_ms: Stat  # CPU time of the import (what other processes on the machine cannot inflate)
    rss_mb: Stat  # RSS added by the import
    modules_loaded: int
    process_ms: Stat  # the whole `python -c "import X"` process, interpreter start-up included


class StartupResult(msgspec.Struct):
    costs: list[ImportCost]
    breakdown: list[tuple[str, float]]  # top-level package -> ms, for ``import provider``
    slowest: list[tuple[str, float]]  # single modules by self ms, for ``import provider``

    def get(self, module: str) -> ImportCost:
        return next(c for c in self.costs if c.module == module)


class _Node:
    def __init__(self, name: str, depth: int, self_us: int, cumulative_us: int) -> None:
        self.name = name
        self.depth = depth
        self.self_us = self_us
        self.cumulative_us = cumulative_us
        self.children: list[_Node] = []


def _import_tree(stderr: str, module: str) -> _Node:
    """Rebuild the import tree from ``-X importtime`` lines (children come before parents)."""
    pending: list[_Node] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or line.rstrip().endswith("imported package"):
            continue
        own, cumulative, raw = line.split("|")
        name = raw.rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        node = _Node(name.strip(), depth, int(own.split(":")[1]), int(cumulative))
        while pending and pending[-1].depth == depth + 1:
            node.children.insert(0, pending.pop())
        pending.append(node)
        if depth == 0 and node.name == module:
            return node
    raise RuntimeError(f"{module} not found in -X importtime output")


def import_breakdown(
    module: str = "provider", top: int = 10
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Where ``import module`` spends its time: ms per package it pulls in (the standard
    library as one entry) and the module's own code, largest first; and the ``top`` single
    modules by their own (self) time."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    root = _import_tree(proc.stderr, module)
    totals: dict[str, float] = defaultdict(float)

    def walk(node: _Node) -> float:
        """Charge foreign packages to themselves; return the microseconds charged."""
        charged = 0.0
        for child in node.children:
            package = child.name.split(".")[0]
            if package != module:
                key = "stdlib" if package in sys.stdlib_module_names else package
                totals[key] += child.cumulative_us
                charged += child.cumulative_us
            else:
                charged += walk(child)
        return charged

    foreign = walk(root)
    totals[f"{module} (own modules)"] = root.cumulative_us - foreign
    totals["total"] = root.cumulative_us
    packages = sorted(((k, v / 1000) for k, v in totals.items()), key=lambda kv: -kv[1])

    nodes: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.children)
    nodes.sort(key=lambda n: -n.self_us)
    return packages, [(n.name, n.self_us / 1000) for n in nodes[:top]]


# The child imports nothing but `time` (built in) before the import it measures, so the
# packages under test find nothing preloaded; RSS comes from /proc without any import.
_CHILD = """
import sys, time
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1])
n, r = len(sys.modules), rss()
c, t = time.process_time(), time.perf_counter()
import {module}
t, c = time.perf_counter() - t, time.process_time() - c
print(t, c, rss() - r, len(sys.modules) - n)
"""


def _sample(module: str) -> tuple[float, float, float, int, float]:
    """(import seconds, import CPU seconds, RSS bytes added, modules loaded, process seconds)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    seconds, cpu, pages, modules = proc.stdout.split()
    return float(seconds), float(cpu), int(pages) * os.sysconf("SC_PAGE_SIZE"), int(modules), wall


def run(runs: int = 7) -> StartupResult:
    samples: dict[str, list[tuple[float, float, float, int, float]]] = {m: [] for m in MODULES}
    for _ in range(runs):
        for module in MODULES:
            samples[module].append(_sample(module))
    costs = [
        ImportCost(
            module=m,
            ms=Stat.of([s[0] * 1000 for s in samples[m]]),
            cpu_ms=Stat.of([s[1] * 1000 for s in samples[m]]),
            rss_mb=Stat.of([s[2] / 1e6 for s in samples[m]]),
            modules_loaded=samples[m][-1][3],
            process_ms=Stat.of([s[4] * 1000 for s in samples[m]]),
        )
        for m in MODULES
    ]
    packages, slowest = import_breakdown("provider")
    return StartupResult(costs=costs, breakdown=packages, slowest=slowest)
