"""Client CPU per event over real sockets: 1, 200 and 1,000 concurrent streams, per transport.

``python -m bench.sockets [--streams 1 200 1000] [--runs 3] [--peers ...]`` writes
``bench/sockets.json`` (merged with earlier invocations, one entry per stream count) and
``bench/sockets.md``.

The loopback server runs in its own process, pinned to the last CPU; each client run is a fresh
process pinned to CPU 0. Each response carries ``DELTAS`` text deltas, every event in its own
HTTP chunk as the API sends them, and the server writes the whole body at once, so the client
reads flat out and the figure is the client's own cost. The cost is the client process's CPU
time (user + system) during the streams, divided by the events it received: other processes
on the machine delay it but do not add to it. Wall time is reported too; on a shared machine it
also holds other processes' preemption. Every stream's joined text is checked.

With 1 concurrent stream, ``REPEAT_ONE`` streams run one after another (one alone is too short
to time); its wall figure is per stream.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .clients import API_KEY
from .loopback import expected_body, expected_text, server_process
from .stats import ROOT, load_average, machine

PEERS = {
    # name: what it is (the report's first column)
    "provider-httpx": "provider, plain httpx transport (the default install)",
    "provider-aiohttp": "provider on aiohttp's pool (before: session 9's provider[fast])",
    "provider-fast": "provider, provider[fast]: provider.fasthttp on httptools (after)",
    "provider-httpx-aiohttp": "provider on httpx-aiohttp's HttpxAiohttpClient (candidate)",
    "provider-httpx-uvloop": "provider, plain httpx transport, uvloop (candidate)",
    "provider-fast-uvloop": "provider, provider[fast] transport, uvloop",
    "sdk": "official SDK, raw events, default client",
    "sdk-aiohttp": "official SDK, raw events, DefaultAioHttpClient",
    "httpx-sse": "hand-written httpx + httpx-sse + json loop",
    # The parts apart: the HTTP stack alone (the body read and dropped, nothing parsed), and
    # the parser alone (the same body decoded in memory, no socket).
    "http-fast": "HTTP alone: provider.fasthttp (provider[fast])",
    "http-aiohttp": "HTTP alone: aiohttp transport (session 9's provider[fast])",
    "http-httpx": "HTTP alone: httpx's own transport",
    "parser": "parser alone: the provider's ChunkDecoder, in memory, 64 KiB pieces",
}
DEFAULT_PEERS = tuple(PEERS)
DELTAS = 1000
EXTRA_EVENTS = 6  # message_start, block start, ping, (the deltas), block stop, delta, stop
REPEAT_ONE = 30
CLIENT_CPU = 0
JSON_PATH = Path(__file__).resolve().parent / "sockets.json"
MD_PATH = Path(__file__).resolve().parent / "sockets.md"
LIMIT = 1000  # connections: every stream has its own
_HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}  # the hand-written loops


# --- the client side (a worker process) -------------------------------------------------------


async def _httpx_sse_text(client: Any, url: str) -> str:
    """The loop a developer would write by hand: httpx + httpx-sse + json."""
    from httpx_sse import aconnect_sse

    from .clients import MAX_TOKENS, MODEL_ID, PROMPT, SYSTEM

    body = {
        "model": MODEL_ID,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
    }
    parts: list[str] = []
    async with aconnect_sse(client, "POST", url + "/v1/messages", json=body, headers=_HEADERS) as s:
        async for event in s.aiter_sse():
            if event.event == "content_block_delta":
                delta = json.loads(event.data)["delta"]
                if delta["type"] == "text_delta":
                    parts.append(delta["text"])
    return "".join(parts)


async def _http_body(client: Any, url: str) -> bytes:
    """One response's body through the HTTP stack alone: read, joined, not parsed."""
    parts: list[bytes] = []
    async with client.stream("POST", url + "/v1/messages", content=b"{}", headers=_HEADERS) as r:
        async for data in r.aiter_raw():
            parts.append(data)
    return b"".join(parts)


async def _parsed_in_memory(body: bytes) -> str:
    """The same body through the provider's decoder alone, in 64 KiB pieces."""
    from provider.stream import ChunkDecoder
    from provider.types import TextChunk

    from .body import pieces

    decoder = ChunkDecoder()
    parts: list[str] = []
    for piece in pieces(body):
        for chunk in decoder.feed(piece):
            if isinstance(chunk, TextChunk):
                parts.append(chunk.text)
    decoder.close()
    return "".join(parts)


async def _client(
    peer: str, url: str, clients: int = 1
) -> tuple[Callable[[], Awaitable[str | bytes]], list[Any]]:
    """One stream's coroutine factory for ``peer``, and the things to close afterwards.
    ``clients``: provider peers spread the streams over that many providers (each with its own
    HTTP client), round-robin."""
    import httpx

    from . import clients as peers

    limits = httpx.Limits(max_connections=LIMIT, max_keepalive_connections=LIMIT)
    timeout = httpx.Timeout(600.0)
    if peer.startswith("provider"):
        https: list[httpx.AsyncClient] = []
        for _ in range(clients):
            if peer.startswith("provider-fast"):
                from provider.transport import make_async_client

                http = make_async_client(timeout, None, limits)
                assert type(http).__name__ == "_FastClient", "the fast transport is not in use"
            elif peer == "provider-aiohttp":
                from .aiohttp_transport import AiohttpClient

                http = AiohttpClient(limits=limits, timeout=timeout)
            elif peer == "provider-httpx-aiohttp":
                from httpx_aiohttp import HttpxAiohttpClient

                http = HttpxAiohttpClient(limits=limits, timeout=timeout)
            else:
                http = httpx.AsyncClient(limits=limits, timeout=timeout)
            https.append(http)
        providers = [peers.make_provider(base_url=url, client=http)[0] for http in https]
        turn = itertools.count()

        def one() -> Awaitable[str]:
            return peers.provider_text(providers[next(turn) % len(providers)])

        return one, https
    if peer == "httpx-sse":
        http = httpx.AsyncClient(limits=limits, timeout=timeout)
        return (lambda: _httpx_sse_text(http, url)), [http]
    if peer.startswith("http-"):
        if peer == "http-fast":
            from provider.transport import make_async_client

            http = make_async_client(timeout, None, limits)
            assert type(http).__name__ == "_FastClient", "the fast transport is not in use"
        elif peer == "http-aiohttp":
            from .aiohttp_transport import AiohttpClient

            http = AiohttpClient(limits=limits, timeout=timeout)
        else:
            http = httpx.AsyncClient(limits=limits, timeout=timeout)
        return (lambda: _http_body(http, url)), [http]
    if peer == "parser":
        body = expected_body(DELTAS)
        return (lambda: _parsed_in_memory(body)), []
    import anthropic

    if peer == "sdk-aiohttp":
        import httpx2

        sdk_http = anthropic.DefaultAioHttpClient(
            limits=httpx2.Limits(max_connections=LIMIT, max_keepalive_connections=LIMIT),
            timeout=600.0,
        )
        sdk = anthropic.AsyncAnthropic(
            api_key=peers.API_KEY, base_url=url, http_client=sdk_http, max_retries=0
        )
    else:
        sdk = peers.make_sdk(base_url=url)
    return (lambda: peers.sdk_raw_text(sdk)), [sdk]


async def _measure(
    peer: str, count: int, url: str, repeat: int, deltas: int, clients: int
) -> dict[str, float]:
    expected: str | bytes = (
        expected_body(deltas) if peer.startswith("http-") else expected_text(deltas)
    )
    one, closeables = await _client(peer, url, clients)
    try:
        if await one() != expected:  # warm-up: lazy imports, first connection
            raise RuntimeError(f"{peer}: wrong text")
        gc.collect()
        texts: list[str | bytes] = []
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(repeat):
            texts += await asyncio.gather(*(one() for _ in range(count)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        for closeable in closeables:
            await (getattr(closeable, "aclose", None) or closeable.close)()
    wrong = sum(text != expected for text in texts)
    if wrong:
        raise RuntimeError(f"{peer}: {wrong} of {len(texts)} streams carried the wrong text")
    events = len(texts) * (deltas + EXTRA_EVENTS)
    return {"cpu_s": cpu, "wall_s": wall / repeat, "us_per_event": cpu / events * 1e6}


def worker(
    peer: str, count: int, url: str, repeat: int, deltas: int = DELTAS, clients: int = 1
) -> dict[str, float]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    measure = _measure(peer, count, url, repeat, deltas, clients)
    if peer.endswith("uvloop"):
        import uvloop

        return uvloop.run(measure)
    return asyncio.run(measure)


# --- the orchestration ------------------------------------------------------------------------


def _run_worker(
    peer: str, count: int, url: str, repeat: int, deltas: int = DELTAS, clients: int = 1
) -> dict[str, float]:
    args = [peer, str(count), url, str(repeat), str(deltas), str(clients)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sockets", "--worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{peer} x{count} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def available(peer: str) -> str | None:
    """Why ``peer`` cannot run here, or None."""
    import importlib.util

    needs = {
        "provider-fast": "httptools",
        "provider-aiohttp": "aiohttp",
        "http-fast": "httptools",
        "http-aiohttp": "aiohttp",
        "provider-fast-uvloop": "uvloop",
        "provider-httpx-aiohttp": "httpx_aiohttp",
        "provider-httpx-uvloop": "uvloop",
        "sdk": "anthropic",
        "sdk-aiohttp": "aiohttp",  # the SDK vendors httpx-aiohttp
        "httpx-sse": "httpx_sse",
    }.get(peer)
    if peer == "provider-fast-uvloop" and importlib.util.find_spec("httptools") is None:
        return "httptools not installed"
    if needs and importlib.util.find_spec(needs) is None:
        return f"{needs} not installed"
    return None


def run(streams: list[int], runs: int, peers: list[str]) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[-1] if len(cpus) > 1 else None
    out: dict[str, Any] = {
        "load_start": load_average(),
        "server_cpu": server_cpu,
        "deltas": DELTAS,
        "by_streams": {},
    }
    with server_process("whole", DELTAS, cpu=server_cpu) as url:
        for count in streams:
            repeat = REPEAT_ONE if count == 1 else 1
            samples: dict[str, list[dict[str, float]]] = {p: [] for p in peers}
            for _ in range(runs):  # interleaved: each run measures every peer once
                for peer in peers:
                    began = time.perf_counter()
                    samples[peer].append(_run_worker(peer, count, url, repeat))
                    print(
                        f"bench.sockets: {peer} x{count}: {samples[peer][-1]} "
                        f"({time.perf_counter() - began:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
            out["by_streams"][str(count)] = samples
    out["load_end"] = load_average()
    return out


def spread(
    streams: int, deltas: int, clients: list[int], runs: int, peers: list[str]
) -> list[dict[str, Any]]:
    """The same streams spread over K providers, each with its own HTTP client."""
    cpus = sorted(os.sched_getaffinity(0))
    rows: list[dict[str, Any]] = []
    with server_process("whole", deltas, cpu=cpus[-1] if len(cpus) > 1 else None) as url:
        samples: dict[tuple[str, int], list[dict[str, float]]] = {
            (p, k): [] for p in peers for k in clients
        }
        for _ in range(runs):
            for peer in peers:
                for k in clients:
                    samples[peer, k].append(_run_worker(peer, streams, url, 1, deltas, k))
                    print(
                        f"bench.sockets: {peer} x{streams} over {k}: {samples[peer, k][-1]}",
                        file=sys.stderr,
                        flush=True,
                    )
    for (peer, k), found in samples.items():
        rows.append(
            {"peer": peer, "clients": k, "streams": streams, "deltas": deltas, "runs": found}
        )
    return rows


# --- the report -------------------------------------------------------------------------------


def _med(rows: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in rows]
    return min(values), statistics.median(values), max(values)


def stream_count_section(data: dict[str, Any], count: str, level: str) -> list[str]:
    """The table of one stream count (``python -m bench`` puts the largest in results.md)."""
    samples = data["by_streams"][count]
    meta = data["meta"].get(count, {})
    lines = [
        f"{level} {int(count):,} concurrent stream{'s' if count != '1' else ''} of "
        f"{data['deltas']:,} deltas",
        "",
        f"Commit {meta.get('commit', '?')}; "
        f"load average at start {meta.get('load_start', '?')}, "
        f"at end {meta.get('load_end', '?')}.",
        "",
        "| client | runs | µs CPU per event | CPU s | wall s"
        + (" per stream" if count == "1" else "")
        + " | SDK / this (CPU per event) |",
        "|---|---|---|---|---|---|",
    ]
    sdk = samples.get("sdk")
    sdk_us = _med(sdk, "us_per_event")[1] if sdk else None
    for peer, rows in samples.items():
        if not rows:
            continue
        us, cpu, wall = (_med(rows, k) for k in ("us_per_event", "cpu_s", "wall_s"))
        alone = peer.startswith("http-") or peer == "parser"  # a part, not a whole client
        ratio = f"{sdk_us / us[1]:.2f}x" if sdk_us and not alone else "-"
        lines.append(
            f"| {PEERS.get(peer, peer)} | {len(rows)} | "
            f"{us[1]:.2f} ({us[0]:.2f}-{us[2]:.2f}) | "
            f"{cpu[1]:.2f} ({cpu[0]:.2f}-{cpu[2]:.2f}) | "
            f"{wall[1]:.3g} ({wall[0]:.3g}-{wall[2]:.3g}) | {ratio} |"
        )
    lines.append("")
    return lines


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Client CPU per event over real sockets (`python -m bench.sockets`)",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "Figures: median (min-max) of the runs. Ratios: the SDK's (default client) median CPU "
        "per event over the peer's, both measured in the same invocation.",
        "",
    ]
    for count in sorted(data["by_streams"], key=int):
        lines += stream_count_section(data, count, "##")
    if data.get("spread"):
        first = data["spread"][0]
        lines += [
            f"## Spreading {first['streams']:,} streams of {first['deltas']:,} deltas over several "
            "clients",
            "",
            "The same streams dealt round-robin over K providers, each with its own HTTP client "
            f"(`--spread`). Runs: {len(first['runs'])}.",
            "",
            "| client | HTTP clients | µs CPU per event | CPU s | wall s |",
            "|---|---|---|---|---|",
        ]
        for row in data["spread"]:
            us, cpu, wall = (_med(row["runs"], k) for k in ("us_per_event", "cpu_s", "wall_s"))
            lines.append(
                f"| {PEERS.get(row['peer'], row['peer'])} | {row['clients']} | "
                f"{us[1]:.2f} ({us[0]:.2f}-{us[2]:.2f}) | "
                f"{cpu[1]:.2f} ({cpu[0]:.2f}-{cpu[2]:.2f}) | "
                f"{wall[1]:.3g} ({wall[0]:.3g}-{wall[2]:.3g}) |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--worker"]:
        peer, count, url, *numbers = args_in[1:]
        print(json.dumps(worker(peer, int(count), url, *map(int, numbers))), flush=True)
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.sockets", description=__doc__)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 200, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers", nargs="+", choices=list(PEERS), default=list(DEFAULT_PEERS))
    parser.add_argument("--no-write", action="store_true", help="print, do not update files")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add these runs to the stored ones of the same stream count (a long series in "
        "several bounded invocations) instead of replacing them",
    )
    parser.add_argument(
        "--spread",
        type=int,
        nargs="+",
        metavar="K",
        help="instead: the first --streams count, DELTAS deltas each, spread over K clients",
    )
    parser.add_argument("--deltas", type=int, default=32, help="deltas per stream for --spread")
    args = parser.parse_args(args_in)
    peers = [p for p in args.peers if available(p) is None]
    for p in set(args.peers) - set(peers):
        print(f"bench.sockets: skipping {p}: {available(p)}", file=sys.stderr)
    data: dict[str, Any] = {"deltas": DELTAS, "by_streams": {}, "meta": {}, "machine": {}}
    if JSON_PATH.exists() and not args.no_write:
        data = json.loads(JSON_PATH.read_text())
    if args.spread:
        data["spread"] = spread(args.streams[0], args.deltas, args.spread, args.runs, peers)
        fresh: dict[str, Any] = {"by_streams": {}}
    else:
        fresh = run(args.streams, args.runs, peers)
    data["machine"] = machine()
    for count, samples in fresh["by_streams"].items():
        runs = args.runs
        if args.append and count in data["by_streams"]:
            for peer, rows in data["by_streams"][count].items():
                samples[peer] = rows + samples.get(peer, [])
            runs += data["meta"][count]["runs"]
        data["by_streams"][count] = samples
        data["meta"][count] = {
            "runs": runs,
            "commit": data["machine"].get("commit", "?"),
            "load_start": fresh["load_start"],
            "load_end": fresh["load_end"],
        }
    text = render(data)
    if not args.no_write:
        JSON_PATH.write_text(json.dumps(data, indent=1) + "\n")
        MD_PATH.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
