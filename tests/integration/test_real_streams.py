"""Every recorded real API stream decodes, checked against an independent plain-json reading.

The streams live outside the repository (``/work/shared/real-streams``); the tests are skipped
when they are absent. The oracle below shares no code with the package: it splits the body
on blank lines, reads ``event:`` / ``data:`` lines by hand and uses ``json.loads``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provider.stream import ChunkDecoder
from provider.types import (
    MessageStreamChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
    UsageChunk,
)

STREAMS_DIR = Path("/work/shared/real-streams")
STREAMS = sorted(STREAMS_DIR.glob("*.sse")) if STREAMS_DIR.is_dir() else []

pytestmark = pytest.mark.skipif(
    not STREAMS, reason=f"no recorded streams in {STREAMS_DIR} (they are not part of the repo)"
)

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass
class Expected:
    text: str = ""
    thinking: str = ""
    tools: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


def read_with_json(body: bytes) -> Expected:
    """What the stream says, read with nothing but str methods and json.loads."""
    expected = Expected()
    usage = dict.fromkeys((*USAGE_KEYS, "1h"), 0)
    tool_parts: dict[int, list[str]] = {}
    tool_meta: dict[int, tuple[str, str, Any]] = {}
    for block in body.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        data_lines = [
            line[len("data:") :].strip() for line in block.split("\n") if line[:5] == "data:"
        ]
        if not data_lines:
            continue
        event = json.loads("\n".join(data_lines))
        kind = event["type"]
        if kind in ("message_start", "message_delta"):
            reported = event["message"]["usage"] if kind == "message_start" else event["usage"]
            for key in USAGE_KEYS:
                if reported.get(key) is not None:
                    usage[key] = reported[key]
            split = reported.get("cache_creation") or {}
            if split.get("ephemeral_1h_input_tokens") is not None:
                usage["1h"] = split["ephemeral_1h_input_tokens"]
            if kind == "message_delta" and event["delta"].get("stop_reason"):
                expected.stop_reason = event["delta"]["stop_reason"]
        elif kind == "content_block_start":
            content = event["content_block"]
            if content["type"] == "tool_use":
                tool_meta[event["index"]] = (content["id"], content["name"], content["input"])
                tool_parts[event["index"]] = []
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                expected.text += delta["text"]
            elif delta["type"] == "thinking_delta":
                expected.thinking += delta["thinking"]
            elif delta["type"] == "input_json_delta" and event["index"] in tool_parts:
                tool_parts[event["index"]].append(delta["partial_json"])
        elif kind == "content_block_stop" and event["index"] in tool_meta:
            tool_id, name, start_input = tool_meta[event["index"]]
            joined = "".join(tool_parts[event["index"]])
            expected.tools.append((tool_id, name, json.loads(joined) if joined else start_input))
    expected.usage = usage
    return expected


def decode(body: bytes, piece: int) -> tuple[list[MessageStreamChunk], bool]:
    decoder = ChunkDecoder()
    chunks: list[MessageStreamChunk] = []
    for i in range(0, len(body), piece):
        chunks += decoder.feed(body[i : i + piece])
    chunks += decoder.close()
    return chunks, decoder.done


def summed(chunks: list[MessageStreamChunk]) -> dict[str, int]:
    usages = [c for c in chunks if isinstance(c, UsageChunk)]
    return {
        "input_tokens": sum(u.input_tokens for u in usages),
        "output_tokens": sum(u.output_tokens for u in usages),
        "cache_creation_input_tokens": sum(u.cache_write_tokens for u in usages),
        "cache_read_input_tokens": sum(u.cache_read_tokens for u in usages),
        "1h": sum(u.cache_write_1h_tokens for u in usages),
    }


@pytest.mark.parametrize("path", STREAMS, ids=[p.name for p in STREAMS])
def test_a_real_stream_matches_a_plain_json_reading(path: Path) -> None:
    body = path.read_bytes()
    expected = read_with_json(body)
    chunks, done = decode(body, len(body))
    assert done
    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == expected.text
    assert "".join(c.thinking for c in chunks if isinstance(c, ThinkingChunk)) == expected.thinking
    assert [(c.id, c.name, c.input) for c in chunks if isinstance(c, ToolUseChunk)] == (
        expected.tools
    )
    assert [c.stop_reason for c in chunks if isinstance(c, StopChunk)] == [expected.stop_reason]
    assert summed(chunks) == expected.usage
    # The oracle must have found something, or the comparison proves little.
    assert expected.text or expected.tools
    assert expected.usage["input_tokens"] > 0


@pytest.mark.parametrize("path", STREAMS, ids=[p.name for p in STREAMS])
@pytest.mark.parametrize("piece", [1, 7, 100, 4096])
def test_a_real_stream_in_pieces_gives_the_same_chunks(path: Path, piece: int) -> None:
    body = path.read_bytes()
    assert decode(body, piece) == decode(body, len(body))


@pytest.mark.parametrize("path", STREAMS, ids=[p.name for p in STREAMS])
def test_a_real_stream_with_crlf_and_a_bom(path: Path) -> None:
    body = path.read_bytes()
    variant = b"\xef\xbb\xbf" + body.replace(b"\n", b"\r\n")
    assert decode(variant, 61) == decode(body, len(body))


def test_the_corpus_covers_tools_thinking_and_server_tools() -> None:
    kinds: set[str] = set()
    for path in STREAMS:
        text = path.read_text("utf-8")
        kinds |= {k for k in ("tool_use", "thinking_delta", "server_tool_use") if k in text}
    assert kinds == {"tool_use", "thinking_delta", "server_tool_use"}
