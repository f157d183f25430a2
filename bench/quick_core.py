"""Informal speed check of the streaming core (not a test): ChunkDecoder against a floor.

The floor is the least work any SSE client must do: split the body into blocks and lines and
decode each ``data:`` line with a reused msgspec decoder of a matching Struct. ChunkDecoder
does all of that plus the WHATWG line rules, event-name dispatch, order checks and chunks.

    .venv/bin/python bench/quick_core.py [deltas]
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator

import msgspec

from provider.stream import ChunkDecoder
from provider.types import MessageStreamChunk

PIECE = 64 * 1024
WORDS = ["Hello", " world", ", how", " are", " you", " today", "? Fine", " thanks", "!\\n"]


def build_stream(deltas: int) -> bytes:
    """A realistic text stream with ``deltas`` content_block_delta events (~100 bytes each)."""
    parts = [
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"id":"msg_01","type":"message",'
        b'"role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,'
        b'"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}\n\n',
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
    ]
    for i in range(deltas):
        word = WORDS[i % len(WORDS)]
        parts.append(
            b"event: content_block_delta\n"
            b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
            b'"text":"' + word.encode() + b'"}}\n\n'
        )
        if i % 500 == 0:
            parts.append(b'event: ping\ndata: {"type": "ping"}\n\n')
    parts.append(b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n')
    parts.append(
        b"event: message_delta\n"
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
        b'"usage":{"output_tokens":' + str(deltas).encode() + b"}}\n\n"
    )
    parts.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return b"".join(parts)


class _Delta(msgspec.Struct):
    type: str | None = None
    text: str | None = None


class _Event(msgspec.Struct):
    type: str
    index: int | None = None
    delta: _Delta | None = None


_FLOOR_DECODER = msgspec.json.Decoder(_Event)


def floor(body: bytes) -> int:
    decode = _FLOOR_DECODER.decode
    n = 0
    for block in body.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                decode(line[5:])
                n += 1
    return n


def pieces(body: bytes) -> list[bytes]:
    return [body[i : i + PIECE] for i in range(0, len(body), PIECE)]


def decoder(chunks: list[bytes]) -> int:
    dec = ChunkDecoder()
    n = 0
    for data in chunks:
        for _ in dec.feed(data):
            n += 1
    for _ in dec.close():
        n += 1
    return n


async def _shell(chunks: list[bytes]) -> AsyncIterator[MessageStreamChunk]:
    # What the httpx shell adds: an async generator around the decoder.
    dec = ChunkDecoder()
    for data in chunks:
        for chunk in dec.feed(data):
            yield chunk
        if dec.done:
            break
    for chunk in dec.close():
        yield chunk


def shell(chunks: list[bytes]) -> int:
    async def run() -> int:
        n = 0
        async for _ in _shell(chunks):
            n += 1
        return n

    return asyncio.run(run())


def best(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _events(body: bytes) -> Iterator[bytes]:
    return (b for b in body.split(b"\n\n") if b)


def main() -> None:
    deltas = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    body = build_stream(deltas)
    events = sum(1 for _ in _events(body))
    chunks = pieces(body)
    print(f"{deltas} deltas, {events} events, {len(body) / 1e6:.2f} MB in {len(chunks)} pieces")
    t_floor = best(lambda: floor(body))
    t_dec = best(lambda: decoder(chunks))
    t_shell = best(lambda: shell(chunks))
    print(f"floor          {events / t_floor:12,.0f} events/s")
    print(f"ChunkDecoder   {events / t_dec:12,.0f} events/s   {t_floor / t_dec:.2f}x floor")
    print(f"+ async gen    {events / t_shell:12,.0f} events/s   {t_floor / t_shell:.2f}x floor")
    big = build_stream(deltas * 4)
    t_big = best(lambda: decoder(pieces(big)), repeat=3)
    print(f"4x the deltas costs {t_big / t_dec:.2f}x the time (linear: 4.0)")


if __name__ == "__main__":
    main()
