"""Sync throughput: ``SyncAnthropicProvider`` next to the async provider and the SDK's sync client.

``python -m bench.sync`` (a few seconds). The throughput section's method (``throughput.py``):
the same body cut in the same 64 KiB pieces, each client on an in-memory transport of its own
HTTP library (httpx for provider, sync or async; httpx2 for ``anthropic.Anthropic``), the
caller joins the text, which is compared with the body's; CPU seconds of this process, runs
interleaved client by client. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from provider import Message, ModelInfo, ProviderConfig, SyncAnthropicProvider, TextChunk

from . import clients
from .body import make_body, pieces
from .stats import Stat

if TYPE_CHECKING:
    import anthropic

__all__ = ["main", "run"]

PEERS = {
    "provider_sync": "provider SyncAnthropicProvider",
    "provider_async": "provider AnthropicProvider (asyncio)",
    "sdk_sync_raw": "SDK anthropic.Anthropic raw events",
}


class _SyncListStream(httpx.SyncByteStream):
    def __init__(self, parts: Iterable[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self._parts


def make_sync_provider(parts: list[bytes]) -> tuple[SyncAnthropicProvider, httpx.Client]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=clients.SSE_HEADERS, stream=_SyncListStream(parts))

    client = httpx.Client(transport=httpx.MockTransport(handler), timeout=600.0)
    config = ProviderConfig(
        model_id=clients.MODEL_ID,
        model_info=ModelInfo(max_tokens=clients.MAX_TOKENS, input_price=3.0, output_price=15.0),
        api_key=clients.API_KEY,
        base_url="https://bench.invalid",
    )
    return SyncAnthropicProvider(config, http_client=client, max_retries=0), client


def sync_provider_text(p: SyncAnthropicProvider) -> str:
    """Stream one message with the sync twin and join its text (the caller's loop)."""
    parts: list[str] = []
    append = parts.append
    for chunk in p.create_message(clients.SYSTEM, [Message(role="user", content=clients.PROMPT)]):
        if isinstance(chunk, TextChunk):
            append(chunk.text)
    return "".join(parts)


def make_sync_sdk(parts: list[bytes]) -> anthropic.Anthropic:
    import anthropic
    import httpx2

    class ListStream2(httpx2.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from parts

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=clients.SSE_HEADERS, stream=ListStream2())

    client = httpx2.Client(transport=httpx2.MockTransport(handler), timeout=600.0)
    return anthropic.Anthropic(
        api_key=clients.API_KEY, base_url="https://bench.invalid", http_client=client, max_retries=0
    )


def sdk_sync_raw_text(client: anthropic.Anthropic) -> str:
    """The SDK's sync raw event iteration (``messages.create(stream=True)``), as documented."""
    parts: list[str] = []
    append = parts.append
    stream = client.messages.create(
        model=clients.MODEL_ID,
        max_tokens=clients.MAX_TOKENS,
        system=clients.SYSTEM,
        messages=[{"role": "user", "content": clients.PROMPT}],
        stream=True,
    )
    with stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                append(event.delta.text)
    return "".join(parts)


def _timed(fn: Callable[[], str], expected: str) -> tuple[float, bool]:
    gc.collect()
    cpu = time.process_time()
    text = fn()
    return time.process_time() - cpu, text == expected


def run(deltas: int = 20_000, runs: int = 5, sdk_runs: int = 3) -> dict[str, Any]:
    """CPU seconds per stream of each peer (``Stat``), events per CPU second, correctness."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    body = make_body(deltas, seed=deltas)
    parts = pieces(body.data)
    sync_p, sync_http = make_sync_provider(parts)
    async_p, async_http = clients.make_provider(transport=clients.httpx_mock(parts))
    sdk = make_sync_sdk(parts)
    loop = asyncio.new_event_loop()
    fns: dict[str, Callable[[], str]] = {
        "provider_sync": lambda: sync_provider_text(sync_p),
        # One event loop for every run (what a sync caller of an async client would pay for
        # a new loop per call, asyncio.run, is left out: only the streaming is compared).
        "provider_async": lambda: loop.run_until_complete(clients.provider_text(async_p)),
        "sdk_sync_raw": lambda: sdk_sync_raw_text(sdk),
    }
    counts = {"provider_sync": runs, "provider_async": runs, "sdk_sync_raw": sdk_runs}
    cpu: dict[str, list[float]] = {peer: [] for peer in counts}
    correct = dict.fromkeys(counts, True)
    try:
        for peer in counts:  # warm-up: lazy imports and first-use set-up are not timed
            fns[peer]()
        for i in range(max(counts.values())):
            for peer, count in counts.items():
                if i < count:
                    seconds, ok = _timed(fns[peer], body.text)
                    cpu[peer].append(seconds)
                    correct[peer] = correct[peer] and ok
    finally:
        sync_http.close()
        loop.run_until_complete(async_http.aclose())
        loop.close()
        sdk.close()
    return {
        "deltas": deltas,
        "events": body.events,
        "megabytes": len(body.data) / 1e6,
        "seconds": {peer: Stat.of(v) for peer, v in cpu.items()},
        "correct": correct,
    }


def render(result: dict[str, Any]) -> str:
    seconds: dict[str, Stat] = result["seconds"]
    sync = seconds["provider_sync"].median
    lines = [
        f"N={result['deltas']:,} deltas ({result['megabytes']:.1f} MB), in-memory transports, "
        "CPU seconds per stream, median (min-max)",
        "",
        "| client | events per CPU s | CPU s per stream | vs provider sync | correct |",
        "|---|---|---|---|---|",
    ]
    for peer, label in PEERS.items():
        stat = seconds[peer]
        rate = Stat(
            result["events"] / stat.max,
            result["events"] / stat.median,
            result["events"] / stat.min,
            stat.n,
        )
        ok = "yes" if result["correct"][peer] else "**NO**"
        lines.append(
            f"| {label} | {rate.fmt()} | {stat.fmt()} | {stat.median / sync:.2f}x | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__)
    parser.add_argument("--deltas", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sdk-runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.deltas, args.runs, args.sdk_runs)
    print(render(result))
    return 0 if all(result["correct"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
