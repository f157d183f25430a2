"""Synthetic Messages API stream bodies, shaped like the recorded real ones.

The real API pads each ``data:`` JSON with 0-15 trailing spaces, sends one ``ping`` after the
first ``content_block_start`` and cuts text into deltas of a few words; the generator does the
same, deterministically (a seeded RNG), so every client in a run parses exactly the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

__all__ = [
    "CHUNK_SIZE",
    "MODEL",
    "Body",
    "delta_events",
    "footer",
    "header",
    "make_body",
    "pieces",
]

MODEL = "claude-sonnet-4-5-20250929"
CHUNK_SIZE = 64 * 1024  # bytes per piece handed to the HTTP layer (a large socket read)

_VOCABULARY = (
    "the a of to and in is that for it as with was on be by this are or from at which an "
    "not have has but can stream event token model reply client server bytes parse decode "
    "latency memory chunk delta message usage cache request response header socket loop "
    "Python httpx msgspec anyio asyncio trio JSON UTF-8 café naïve über façade résumé "
    "—dash “quoted” 'single' \"double\" back\\slash tab\there 東京 αβγ 😀 ✓ 42 3.14 1e9"
)
_WORDS = _VOCABULARY.split(" ")


def _enc(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def _event(name: str, data: bytes, rng: random.Random) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b" " * rng.randrange(16) + b"\n\n"


def _text(rng: random.Random) -> str:
    """10-40 characters of words, with an occasional newline, as the model's deltas look."""
    target = rng.randrange(10, 41)
    parts: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(_WORDS)
        sep = "\n" if rng.random() < 0.04 else " "
        parts.append(sep + word)
        size += len(word) + 1
    return "".join(parts)[:target]


def header(rng: random.Random, input_tokens: int = 17) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "model": MODEL,
            "id": "msg_017A4s3HAsrqf5d2WvBmrpLr",
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return (
        _event("message_start", _enc(start), rng)
        + _event("content_block_start", _enc(block), rng)
        + _event("ping", b'{"type": "ping"}', rng)
    )


def delta_events(rng: random.Random, n: int) -> Iterator[tuple[bytes, str]]:
    """``n`` content_block_delta events, each with the text it carries."""
    for _ in range(n):
        text = _text(rng)
        data = (
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
            + _enc(text)
            + b"}}"
        )
        yield _event("content_block_delta", data, rng), text


def footer(rng: random.Random, output_tokens: int, input_tokens: int = 17) -> bytes:
    stop = {"type": "content_block_stop", "index": 0}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        },
    }
    return (
        _event("content_block_stop", _enc(stop), rng)
        + _event("message_delta", _enc(delta), rng)
        + _event("message_stop", b'{"type":"message_stop"}', rng)
    )


class Body(msgspec.Struct, frozen=True):
    """One complete stream: its bytes, the text it carries and its event count."""

    data: bytes
    text: str
    events: int
    deltas: int


def make_body(n: int, seed: int = 0) -> Body:
    """A whole stream with ``n`` text deltas (n + 6 events, counting the ping)."""
    rng = random.Random(seed)
    parts = [header(rng)]
    texts: list[str] = []
    for event, text in delta_events(rng, n):
        parts.append(event)
        texts.append(text)
    parts.append(footer(rng, output_tokens=n + 1))
    return Body(data=b"".join(parts), text="".join(texts), events=n + 6, deltas=n)


def pieces(data: bytes, size: int = CHUNK_SIZE) -> list[bytes]:
    """``data`` cut in ``size``-byte pieces, cut blindly (mid-event, mid-UTF-8) as sockets do."""
    return [data[i : i + size] for i in range(0, len(data), size)]
