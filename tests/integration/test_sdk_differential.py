"""The same bytes through the official SDK and through ChunkDecoder must say the same thing.

The SDK (a test oracle only, never imported by the package) gets the body from an httpx2
``MockTransport`` as ``text/event-stream``; its raw events from
``client.messages.create(..., stream=True)`` are folded into a final message by the SDK's own
``accumulate_event`` (which also parses tool input JSON, with jiter). Compared: the text, the
thinking, each tool call's input, the stop reason and the final usage.

Known differences, documented here and not tested against the SDK:

- A body that starts with a UTF-8 BOM: the SDK keeps the BOM in the first line, which then
  is not an ``event:`` line, so it loses ``message_start`` (and fails on the next event).
  ChunkDecoder strips it (see tests/unit/test_sse.py and tests/integration/test_real_streams.py).
- Data-only events (no ``event:`` line, as some gateways send): the SDK skips every event
  whose SSE name is missing, so such a stream comes out empty. ChunkDecoder picks the kind by
  the data's ``type`` (tests/unit/test_machine.py).
- The 1-hour cache split: the SDK's accumulated usage keeps ``cache_creation`` from
  ``message_start`` only; the comparison reads a later ``cache_creation`` from the raw
  ``message_delta`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from provider.errors import OverloadedError, ProviderError
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
REAL = sorted(STREAMS_DIR.glob("*.sse")) if STREAMS_DIR.is_dir() else []
NO_REAL = pytest.mark.skipif(not REAL, reason=f"no recorded streams in {STREAMS_DIR}")

Summary = dict[str, Any]


def through_sdk(body: bytes) -> tuple[Summary, BaseException | None]:
    """What the SDK makes of ``body``: a summary of its final message, and its error if any.

    The SDK's synchronous client, on purpose: on an ``error`` event the SDK raises from its
    stream generator without closing the generators it reads from, and the exception's
    traceback keeps them alive in a reference cycle. With the async client under trio, the
    collector then finalizes them whenever it happens to run (so it depends on what ran
    before), and if the trio loop still runs, trio warns about each one: a ResourceWarning,
    an error in this suite. Plain generators are closed without a warning, and the traceback
    is dropped so that they go at once, by reference counting.
    """

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    one_hour: int | None = None
    error: BaseException | None = None
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
        client = anthropic.Anthropic(api_key="test-key", http_client=http, max_retries=0)
        try:
            stream = client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=64,
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
            )
            with stream:
                for event in stream:
                    snapshot = accumulate_event(
                        event=event, current_snapshot=snapshot, json_bufs=json_bufs
                    )
                    if event.type == "message_start" and event.message.usage.cache_creation:
                        one_hour = event.message.usage.cache_creation.ephemeral_1h_input_tokens
                    elif event.type == "message_delta":
                        split = (event.usage.model_extra or {}).get("cache_creation") or {}
                        if split.get("ephemeral_1h_input_tokens") is not None:
                            one_hour = split["ephemeral_1h_input_tokens"]
        except anthropic.APIError as exc:
            error = exc.with_traceback(None)
        finally:
            client.close()
    return summarize_sdk(snapshot, one_hour), error


def summarize_sdk(message: Any, one_hour: int | None) -> Summary:
    if message is None:
        return {}
    blocks = message.content
    usage = message.usage
    return {
        "text": "".join(b.text for b in blocks if b.type == "text"),
        "thinking": "".join(b.thinking for b in blocks if b.type == "thinking"),
        "tools": [(b.id, b.name, b.input) for b in blocks if b.type == "tool_use"],
        "stop_reason": message.stop_reason,
        "usage": (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_creation_input_tokens or 0,
            usage.cache_read_input_tokens or 0,
            one_hour or 0,
        ),
    }


def through_decoder(body: bytes, piece: int = 1000) -> tuple[Summary, ProviderError | None]:
    decoder = ChunkDecoder()
    chunks: list[MessageStreamChunk] = []
    error = None
    try:
        for i in range(0, len(body), piece):
            chunks += decoder.feed(body[i : i + piece])
        chunks += decoder.close()
    except ProviderError as exc:
        error = exc
    stops = [c.stop_reason for c in chunks if isinstance(c, StopChunk)]
    usages = [c for c in chunks if isinstance(c, UsageChunk)]
    if not usages:
        return {}, error
    return {
        "text": "".join(c.text for c in chunks if isinstance(c, TextChunk)),
        "thinking": "".join(c.thinking for c in chunks if isinstance(c, ThinkingChunk)),
        "tools": [(c.id, c.name, c.input) for c in chunks if isinstance(c, ToolUseChunk)],
        "stop_reason": stops[-1] if stops else None,
        "usage": (
            sum(u.input_tokens for u in usages),
            sum(u.output_tokens for u in usages),
            sum(u.cache_write_tokens for u in usages),
            sum(u.cache_read_tokens for u in usages),
            sum(u.cache_write_1h_tokens for u in usages),
        ),
    }, error


def sse(*events: tuple[str, dict[str, Any]], eol: str = "\n") -> bytes:
    lines = []
    for name, body in events:
        data = json.dumps({"type": name, **body}, ensure_ascii=False)
        lines.append(f"event: {name}{eol}data: {data}{eol}{eol}")
    return "".join(lines).encode()


def start(usage: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return ("message_start", {"message": message})


def block(index: int, **content_block: Any) -> tuple[str, dict[str, Any]]:
    return ("content_block_start", {"index": index, "content_block": content_block})


def delta(index: int, **body: Any) -> tuple[str, dict[str, Any]]:
    return ("content_block_delta", {"index": index, "delta": body})


def stop(index: int) -> tuple[str, dict[str, Any]]:
    return ("content_block_stop", {"index": index})


def finish(reason: str, usage: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "message_delta",
            {"delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage},
        ),
        ("message_stop", {}),
    ]


TOOL_JSON = json.dumps({"city": "Zürich", "days": [1, 2], "units": {"temp": "°C"}})

SYNTHETIC = {
    "text_and_tool_crlf": sse(
        start({"input_tokens": 42, "output_tokens": 1}),
        block(0, type="text", text=""),
        delta(0, type="text_delta", text="Let me look\u2028that up — "),
        ("ping", {}),
        delta(0, type="text_delta", text='😀 "quoted"\n'),
        stop(0),
        block(1, type="tool_use", id="toolu_9", name="forecast", input={}),
        *[
            delta(1, type="input_json_delta", partial_json=TOOL_JSON[i : i + 7])
            for i in range(0, len(TOOL_JSON), 7)
        ],
        stop(1),
        *finish("tool_use", {"output_tokens": 77}),
        eol="\r\n",
    ),
    "gateway_zeros_then_real_usage": sse(
        start(
            {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        ),
        block(0, type="text", text=""),
        delta(0, type="text_delta", text="Hi"),
        stop(0),
        *finish(
            "end_turn",
            {
                "input_tokens": 1500,
                "output_tokens": 12,
                "cache_creation_input_tokens": 800,
                "cache_read_input_tokens": 4000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 300,
                    "ephemeral_1h_input_tokens": 500,
                },
            },
        ),
    ),
    "cache_split_at_start_cr": sse(
        start(
            {
                "input_tokens": 10,
                "output_tokens": 1,
                "cache_creation_input_tokens": 2048,
                "cache_read_input_tokens": 0,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 48,
                    "ephemeral_1h_input_tokens": 2000,
                },
            }
        ),
        block(0, type="thinking", thinking="", signature=""),
        delta(0, type="thinking_delta", thinking="Consider the cache."),
        delta(0, type="signature_delta", signature="EoQDCm0IDhgC"),
        stop(0),
        block(1, type="text", text=""),
        delta(1, type="text_delta", text="Done."),
        stop(1),
        *finish("max_tokens", {"output_tokens": 64}),
        eol="\r",
    ),
    "empty_tool_input": sse(
        start({"input_tokens": 5, "output_tokens": 1}),
        block(0, type="tool_use", id="toolu_0", name="now", input={}),
        delta(0, type="input_json_delta", partial_json=""),
        stop(0),
        *finish("tool_use", {"output_tokens": 9}),
    ),
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_streams_agree_with_the_sdk(name: str) -> None:
    body = SYNTHETIC[name]
    sdk, sdk_error = through_sdk(body)
    ours, error = through_decoder(body, piece=5)
    assert sdk_error is None
    assert error is None
    assert sdk  # the SDK saw a message at all
    assert ours == sdk


@NO_REAL
@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_streams_agree_with_the_sdk(path: Path) -> None:
    body = path.read_bytes()
    sdk, sdk_error = through_sdk(body)
    ours, error = through_decoder(body)
    assert sdk_error is None
    assert error is None
    assert sdk["text"] or sdk["tools"]
    assert ours == sdk


def test_a_mid_stream_error_after_the_same_text() -> None:
    body = sse(
        start({"input_tokens": 3, "output_tokens": 1}),
        block(0, type="text", text=""),
        delta(0, type="text_delta", text="Partial "),
        delta(0, type="text_delta", text="answer"),
        ("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
    sdk, sdk_error = through_sdk(body)
    ours, error = through_decoder(body)
    assert isinstance(sdk_error, anthropic.APIStatusError)
    assert "overloaded_error" in str(sdk_error)
    assert isinstance(error, OverloadedError)
    assert ours["text"] == sdk["text"] == "Partial answer"
