"""Subprocess entry points: ``python -m bench.worker COMMAND ARGS`` prints one JSON line.

Measurements whose result is a process-wide figure (import time, peak RSS, CPU seconds) run
here, one fresh interpreter each, so nothing measured earlier in the bench leaks into them.

Commands:
  stream PEER MEGABYTES                   stream that much text from memory; peak RSS
  open PEER COUNT URL                     hold COUNT streams open at once; RSS per stream
  concurrent PEER COUNT URL DELTAS        COUNT concurrent streams; wall, CPU, peak RSS
  profile PEER COUNT URL DELTAS           the same under cProfile: CPU per package
  serve MODE DELTAS [BURST INTERVAL]      a loopback server; prints its URL, runs until stdin closes
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> None:
    command, *args = argv
    result: object
    if command == "stream":
        from .memory import stream_worker

        result = stream_worker(args[0], float(args[1]))
    elif command == "open":
        from .memory import open_worker

        result = open_worker(args[0], int(args[1]), args[2])
    elif command == "concurrent":
        from .concurrency import concurrent_worker

        result = concurrent_worker(args[0], int(args[1]), args[2], int(args[3]))
    elif command == "profile":
        from .concurrency import profile_worker

        result = profile_worker(args[0], int(args[1]), args[2], int(args[3]))
    elif command == "serve":
        from .loopback import serve_worker

        serve_worker(args[0], int(args[1]), *(float(a) for a in args[2:]))
        return
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
