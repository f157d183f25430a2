"""The loopback server in its own process, so the client process's CPU and RSS are its own.

Modes:
  ``hold``   message_start, content_block_start, ping and one text delta, then the stream stays
             open until the client closes it (streams held open at once).
  ``paced``  DELTAS text deltas written BURST events at a time, INTERVAL seconds apart, as a
             model produces them (many concurrent streams).
  ``whole``  every event in its own HTTP chunk, as the API sends them, but the whole body
             written at once: the server costs next to nothing, the client reads flat out
             (the client's CPU per event over real sockets).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .body import delta_events, footer, header, make_body
from .server import Response, SSEServer
from .stats import ROOT

__all__ = ["expected_body", "expected_text", "serve_worker", "server_process"]

SEED = 11


def expected_text(deltas: int) -> str:
    """The text every ``paced`` stream with ``deltas`` deltas carries."""
    return make_body(deltas, seed=SEED).text


def expected_body(deltas: int) -> bytes:
    """The body every ``whole`` stream with ``deltas`` deltas carries, without its chunking."""
    return make_body(deltas, seed=SEED).data


async def _serve(mode: str, deltas: int, burst: int, interval: float) -> None:
    rng = random.Random(SEED)
    head = header(rng)
    events = [event for event, _ in delta_events(rng, max(deltas, 1))]
    tail = footer(rng, deltas + 1)
    groups = [b"".join(events[i : i + burst]) for i in range(0, deltas, burst)]
    # One HTTP chunk per event (the JSON escapes newlines, so a blank line ends an event).
    every = [e + b"\n\n" for part in (head, *events, tail) for e in part.split(b"\n\n") if e]
    framed = b"".join(b"%x\r\n%b\r\n" % (len(e), e) for e in every)

    async def handler(response: Response) -> None:
        if mode == "hold":
            await response.send(head + events[0])
            await response.wait_closed_by_peer()
            return
        if mode == "whole":
            await response.send_framed(framed)
            return
        await response.send(head)
        for group in groups:
            await asyncio.sleep(interval)
            await response.send(group)
        await response.send(tail)

    async with SSEServer(handler) as server:
        print(server.url, flush=True)
        # Serve until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def serve_worker(mode: str, deltas: int, burst: float = 10, interval: float = 0.0) -> None:
    asyncio.run(_serve(mode, deltas, int(burst), interval))


@contextmanager
def server_process(
    mode: str, deltas: int = 1, burst: int = 10, interval: float = 0.0, cpu: int | None = None
) -> Iterator[str]:
    """Run a loopback server in a child process (pinned to ``cpu`` if given); yields its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.worker",
            "serve",
            mode,
            str(deltas),
            str(burst),
            str(interval),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if cpu is not None:
            os.sched_setaffinity(proc.pid, {cpu})
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"bench server did not start (said {url!r})")
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
