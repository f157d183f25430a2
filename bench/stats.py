"""Summaries of repeated measurements, the machine description, and worker subprocesses."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "NOISY_SPREAD",
    "ROOT",
    "Stat",
    "current_rss",
    "load_average",
    "machine",
    "peak_rss",
    "percentile",
    "run_worker",
]

ROOT = Path(__file__).resolve().parent.parent
NOISY_SPREAD = 0.25  # (max - min) / median above this marks a figure noisy


class Stat(msgspec.Struct, frozen=True):
    """min / median / max of repeated runs."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        if not samples:
            raise ValueError("no samples")
        return cls(min(samples), statistics.median(samples), max(samples), len(samples))

    @property
    def noisy(self) -> bool:
        return self.n > 1 and self.median > 0 and (self.max - self.min) / self.median > NOISY_SPREAD

    def fmt(self, spec: str = ".3g", unit: str = "") -> str:
        """``median (min-max)`` with a noisy mark, or the single value for one run."""
        if self.n == 1:
            return f"{self.median:{spec}}{unit} (1 run)"
        mark = " ~noisy" if self.noisy else ""
        return f"{self.median:{spec}}{unit} ({self.min:{spec}}-{self.max:{spec}}){mark}"


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def current_rss() -> int:
    """This process's resident set size now, in bytes (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """This process's peak resident set size so far, in bytes (VmHWM).

    Not ``getrusage().ru_maxrss``: Linux carries the parent's high-water mark across
    fork/exec into it, so a child of a big bench process would report the parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine makes figures noisy)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    """The repository's HEAD, and whether provider/ differs from it (the code measured)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "provider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    return f"{head or 'unknown'}{' + uncommitted changes in provider/' if dirty else ''}"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    versions = {}
    dists = ("provider", "httpx", "httpx2", "httpx-sse", "msgspec", "anyio", "h11", "anthropic")
    for dist in dists:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "commit": _commit(),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        **versions,
    }


def run_worker(*args: str, timeout: float = 300.0) -> Any:
    """Run ``python -m bench.worker ARGS`` in a fresh interpreter; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"bench worker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])
