"""Load: 500 concurrent streams from one process against a loopback server, every one complete
with exactly its own text and usage: ``python -m bench.load [--streams N] [--backend ...]``.

The server is the fault suite's scripted server (``tests/faults/server.py``) running the
well-behaved ``LoadScript`` in the same process: every stream gets its own text and usage, and
holds after its first text until all requests have arrived, so every stream is open at once.
One ``AnthropicProvider`` drives them all (``--clients K``: K providers, each with its own
client), over a client made as the provider makes its own (``provider.transport``: the fast
transport under asyncio when httptools is installed; ``--transport httpx`` forces httpx's) whose
pool allows that many connections. Client and server share one process here, so CPU figures
hold both; ``python -m bench.sockets`` measures the client alone.
Prints one JSON line per backend; exits 1 if any stream is wrong or a connection was leaked.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from contextlib import AsyncExitStack, aclosing

import anyio
import httpx
import msgspec

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    ProviderConfig,
    StopChunk,
    TextChunk,
    UsageChunk,
)
from provider.transport import make_async_client

# Run from the repository root (as ``python -m bench.load`` is): the server lives in tests/.
from tests.faults.server import CLIENT_CLOSED, FaultServer, LoadScript

__all__ = ["LoadResult", "main", "run"]


class LoadResult(msgspec.Struct):
    backend: str
    transport: str
    streams: int
    pieces: int
    clients: int
    all_open_s: float  # until every request had reached the server (and every stream was open)
    wall_s: float  # until every stream had ended
    cpu_s: float  # client and server together: one process
    peak_rss_mb: float
    open_fds: int | None  # at the moment every stream was open (Linux), client and server sides
    wrong: int
    leaked_connections: int


def _fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _correct(script: LoadScript, number: int, chunks: list[MessageStreamChunk]) -> bool:
    text = "".join(c.text for c in chunks if isinstance(c, TextChunk))
    usage = [c for c in chunks if isinstance(c, UsageChunk)]
    totals = (sum(u.input_tokens for u in usage), sum(u.output_tokens for u in usage))
    return (
        bool(chunks)
        and isinstance(chunks[-1], StopChunk)
        and text == script.expected_text(number)
        and totals == script.expected_usage(number)
    )


async def run(
    streams: int = 500, pieces: int = 32, clients: int = 1, transport: str = "auto"
) -> LoadResult:
    """Run ``streams`` concurrent streams of ``pieces`` text deltas each, over ``clients``
    providers (each with its own httpx client, streams dealt round-robin); check every one."""
    script = LoadScript(streams, pieces=pieces)
    results: dict[int, list[MessageStreamChunk]] = {}
    fds: int | None = None
    kind = "httpx"
    all_open = start = 0.0

    async def one(p: AnthropicProvider, number: int) -> None:
        messages = [Message(role="user", content=f"stream {number}")]
        chunks: list[MessageStreamChunk] = []
        async with aclosing(p.create_message("", messages)) as stream:
            async for chunk in stream:
                chunks.append(chunk)
        results[number] = chunks

    async def note_all_open() -> None:
        nonlocal fds, all_open
        await script.all_arrived.wait()
        all_open = time.perf_counter() - start
        fds = _fds()

    async with FaultServer(script) as server:
        config = ProviderConfig(
            model_id="claude-sonnet-4-5",
            model_info=MODELS["claude-sonnet-4-5"],
            api_key="sk-ant-bench-load",
            base_url=server.url,
        )
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=streams)
        async with AsyncExitStack() as stack:
            providers = []
            for _ in range(clients):
                if transport == "httpx":
                    made = httpx.AsyncClient(limits=limits, timeout=60.0)
                else:
                    made = make_async_client(httpx.Timeout(60.0), None, limits)
                kind = "fast" if type(made).__name__ == "_FastClient" else "httpx"
                client = await stack.enter_async_context(made)
                providers.append(
                    await stack.enter_async_context(
                        AnthropicProvider(config, http_client=client, max_retries=0)
                    )
                )
            cpu, start = time.process_time(), time.perf_counter()
            with anyio.fail_after(300):
                async with anyio.create_task_group() as group:
                    group.start_soon(note_all_open)
                    for number in range(streams):
                        group.start_soon(one, providers[number % clients], number)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        with anyio.fail_after(30):
            await server.wait_closed()
        server.check()
        leaked = sum(conn.closed_by not in CLIENT_CLOSED for conn in server.connections)
    wrong = sum(not _correct(script, n, results.get(n, [])) for n in range(streams))
    wrong += streams - script.most_open  # a stream that was not open with all the others
    return LoadResult(
        backend="",
        transport=kind,
        streams=streams,
        pieces=pieces,
        clients=clients,
        all_open_s=round(all_open, 3),
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        open_fds=fds,
        wrong=wrong,
        leaked_connections=leaked,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--pieces", type=int, default=32, help="text deltas per stream")
    parser.add_argument(
        "--clients", type=int, default=1, help="providers (httpx clients) to share the streams"
    )
    parser.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    parser.add_argument(
        "--transport",
        choices=["auto", "httpx"],
        default="auto",
        help="auto: as the provider chooses for its own client; httpx: httpx's transport",
    )
    args = parser.parse_args(argv)
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        result = anyio.run(
            run, args.streams, args.pieces, args.clients, args.transport, backend=backend
        )
        result.backend = backend
        print(msgspec.json.encode(result).decode())
        failed = failed or bool(result.wrong or result.leaked_connections)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
