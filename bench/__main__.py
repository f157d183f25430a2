"""``python -m bench``: run every benchmark, write bench/results.md and print it.

``--quick`` runs small sizes once (a smoke test of the harness; writes no file unless
``--output`` says where). ``--only`` runs some sections.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import breakdown, concurrency, latency, memory, startup, throughput
from .report import Report, render
from .stats import load_average, machine

SECTIONS = ("throughput", "breakdown", "latency", "startup", "memory", "concurrency")
RESULTS = Path(__file__).resolve().parent / "results.md"


def _plan(quick: bool) -> dict[str, Callable[[], Any]]:
    if quick:
        return {
            "throughput": lambda: throughput.run(sizes=(2_000, 8_000), runs=2, sdk_runs=2),
            "breakdown": lambda: breakdown.run(deltas=8_000, runs=2),
            "latency": lambda: latency.run(events=300, requests=30, runs=2),
            "startup": lambda: startup.run(runs=2),
            "memory": lambda: memory.run(sizes=(5.0, 20.0), runs=1, open_count=50),
            "concurrency": lambda: concurrency.run(streams=100, runs=1),
        }
    return {
        "throughput": lambda: throughput.run(sizes=(20_000, 80_000), runs=15, sdk_runs=7),
        "breakdown": lambda: breakdown.run(deltas=80_000, runs=5),
        "latency": lambda: latency.run(events=2_000, requests=200, runs=5),
        "startup": lambda: startup.run(runs=7),
        "memory": lambda: memory.run(sizes=(25.0, 100.0), runs=3, open_count=200),
        "concurrency": lambda: concurrency.run(streams=500, runs=3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--output", type=Path, help=f"report file (default {RESULTS})")
    args = parser.parse_args(argv)
    # The SDK warns about deprecated model names; the bench's requests never leave the machine.
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    report = Report(machine=machine())
    report.machine["load average at start (1, 5, 15 min)"] = load_average()
    start = time.perf_counter()
    plan = _plan(args.quick)
    for name in args.only:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            setattr(report, name, plan[name]())
        except Exception as exc:
            traceback.print_exc()
            report.errors[name] = f"{type(exc).__name__}: {exc}"
        print(f"bench: {name} took {time.perf_counter() - began:.0f} s", file=sys.stderr)
    report.seconds = time.perf_counter() - start
    report.machine["load average at end"] = load_average()

    text = render(report)
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        # Write beside it, then rename: an interrupted run never leaves half a report.
        partial = output.with_name(output.name + ".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(output)
    print(text)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
