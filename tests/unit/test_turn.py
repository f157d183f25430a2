"""TurnAccumulator, AssistantTurn, Usage and collect: the assistant turn folded from chunks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from provider import (
    AssistantTurn,
    BlockChunk,
    CitationChunk,
    Message,
    MessageStreamChunk,
    NetworkError,
    ProviderError,
    RawBlock,
    RedactedThinkingBlock,
    RedactedThinkingChunk,
    StartChunk,
    StopChunk,
    TextBlock,
    TextChunk,
    ThinkingBlock,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseBlock,
    ToolUseChunk,
    TurnAccumulator,
    Usage,
    UsageChunk,
    collect,
)
from provider.stream import ChunkDecoder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CITATION = {"type": "web_search_result_location", "url": "https://x.test", "cited_text": "c"}
SERVER = RawBlock({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
                   "input": {"query": "q"}})  # fmt: skip


def fold(chunks: list[MessageStreamChunk]) -> AssistantTurn:
    acc = TurnAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.turn()


FULL: list[MessageStreamChunk] = [
    StartChunk("msg_1", "claude-x"),
    UsageChunk(10, 1),
    ThinkingChunk("Let me ", 0),
    ThinkingChunk("think.", 0),
    ThinkingChunk("", 0, "sig=="),
    RedactedThinkingChunk("EmwK", 1),
    BlockChunk(SERVER, 2),
    TextChunk("It is ", 3),
    CitationChunk(CITATION, 3),
    TextChunk("sunny.", 3),
    ToolInputChunk("", 4),
    ToolInputChunk('{"city": "Paris"}', 4),
    ToolUseChunk("toolu_1", "get_weather", {"city": "Paris"}, 4, {"type": "direct"}),
    UsageChunk(output_tokens=40, web_search_requests=1),
    StopChunk("tool_use", None),
]


def test_every_block_kind_in_index_order_with_every_field() -> None:
    turn = fold(FULL)
    assert turn.message == Message(
        "assistant",
        [
            ThinkingBlock("Let me think.", "sig=="),
            RedactedThinkingBlock("EmwK"),
            SERVER,
            TextBlock("It is sunny.", citations=[CITATION]),
            ToolUseBlock("toolu_1", "get_weather", {"city": "Paris"}, caller={"type": "direct"}),
        ],
    )
    assert (turn.id, turn.model, turn.stop_reason, turn.stop_sequence) == (
        "msg_1",
        "claude-x",
        "tool_use",
        None,
    )
    assert turn.usage == Usage(10, 41, web_search_requests=1)
    assert turn.complete
    assert turn.text == "It is sunny."
    assert turn.tool_uses == [turn.message.content[4]]


def test_the_message_encodes_to_the_api_json() -> None:
    sent = json.loads(msgspec.json.encode(fold(FULL).message))
    assert sent["role"] == "assistant"
    thinking = {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="}
    assert sent["content"][0] == thinking
    assert sent["content"][2] == dict(SERVER)
    assert sent["content"][4] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
        "caller": {"type": "direct"},
    }
    # and it decodes back into the same message, as a saved history does
    assert msgspec.json.decode(msgspec.json.encode(fold(FULL).message), type=Message) == (
        fold(FULL).message
    )


def test_blocks_are_ordered_by_index_not_by_arrival() -> None:
    turn = fold([TextChunk("b", 1), TextChunk("a", 0), StopChunk("end_turn")])
    assert [b.text for b in turn.message.content] == ["a", "b"]  # type: ignore[union-attr]


def test_a_tool_call_cut_short_is_left_out_and_the_turn_is_incomplete() -> None:
    chunks: list[MessageStreamChunk] = [
        StartChunk("m", "x"),
        TextChunk("Calling.", 0),
        ToolInputChunk("", 1),
        ToolInputChunk('{"filename": "tax', 1),
        UsageChunk(output_tokens=124),
        StopChunk("max_tokens"),
    ]
    turn = fold(chunks)
    assert turn.message.content == (TextBlock("Calling."),)
    assert turn.tool_uses == []
    assert not turn.complete
    assert turn.stop_reason == "max_tokens"


def test_a_max_tokens_turn_with_whole_blocks_is_complete() -> None:
    turn = fold([TextChunk("cut mid-sent", 0), StopChunk("max_tokens")])
    assert turn.complete
    assert turn.text == "cut mid-sent"


def test_a_stream_without_its_stop_is_incomplete() -> None:
    turn = fold([StartChunk("m", "x"), TextChunk("half", 0)])
    assert not turn.complete
    assert turn.text == "half"


def test_what_is_left_out_on_purpose() -> None:
    turn = fold(
        [
            TextChunk("", 0),  # empty text: the API refuses empty text blocks
            ThinkingChunk("", 1),  # no thinking, no signature: nothing to send back
            TextChunk("kept", 2),
            StopChunk("end_turn"),
        ]
    )
    assert turn.message.content == (TextBlock("kept"),)
    assert turn.complete


def test_an_empty_turn_still_has_a_message() -> None:
    turn = fold([StartChunk("m", "x"), StopChunk("max_tokens")])
    assert turn.message.role == "assistant"
    assert turn.message.content == ()
    assert json.loads(msgspec.json.encode(turn.message)) == {"role": "assistant", "content": []}


def test_thinking_with_only_a_signature_is_kept() -> None:
    # Thinking shown as "omitted": the block has no text, and still must go back signed.
    turn = fold([ThinkingChunk("", 0, "sig"), TextChunk("x", 1), StopChunk("end_turn")])
    assert turn.message.content[0] == ThinkingBlock("", "sig")


def test_chunks_of_two_kinds_for_one_index_are_refused() -> None:
    acc = TurnAccumulator()
    acc.add(TextChunk("a", 0))
    with pytest.raises(ProviderError, match="ThinkingChunk for block 0, which is a text block"):
        acc.add(ThinkingChunk("b", 0))
    with pytest.raises(ProviderError, match="not a stream chunk"):
        acc.add("text")  # type: ignore[arg-type]


def test_turn_can_be_taken_at_any_time() -> None:
    acc = TurnAccumulator()
    acc.add(TextChunk("a", 0))
    first = acc.turn()
    acc.add(TextChunk("b", 0))
    assert first.text == "a"
    assert acc.turn().text == "ab"


def test_usage_adds_up() -> None:
    a = Usage(1, 2, 3, 4, 1, 5)
    b = Usage(10, 20, 30, 40, 10, 50)
    assert a + b == Usage(11, 22, 33, 44, 11, 55)
    assert a + UsageChunk(1, 1, 1, 1, 1, 1) == Usage(2, 3, 4, 5, 2, 6)
    assert sum([a, b], Usage()) == a + b
    assert (a + b).prompt_tokens == 11 + 33 + 44
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]


def test_turn_usage_is_the_final_cumulative_usage_of_the_stream() -> None:
    body = (FIXTURES / "prompt_caching.sse").read_bytes()
    decoder = ChunkDecoder()
    turn = fold(decoder.feed(body) + decoder.close())
    reported: dict[str, Any] = {}
    for line in body.decode().splitlines():
        if line.startswith("data:"):
            event = json.loads(line[5:])
            usage = event.get("usage") or event.get("message", {}).get("usage") or {}
            reported.update({k: v for k, v in usage.items() if v is not None})
    assert turn.usage.input_tokens == reported["input_tokens"]
    assert turn.usage.output_tokens == reported["output_tokens"]
    assert turn.usage.cache_write_tokens == reported["cache_creation_input_tokens"]
    assert turn.usage.cache_read_tokens == reported["cache_read_input_tokens"]
    assert (
        turn.usage.cache_write_1h_tokens
        == (reported["cache_creation"]["ephemeral_1h_input_tokens"])
    )


# -- collect ----------------------------------------------------------------------------------


class Stream:
    """An async iterator of chunks that can fail after them, and records aclose()."""

    def __init__(self, chunks: list[MessageStreamChunk], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.closed = False

    def __aiter__(self) -> AsyncIterator[MessageStreamChunk]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[MessageStreamChunk]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_collect_gives_the_turn_and_closes_the_stream() -> None:
    stream = Stream(FULL)
    turn = await collect(stream)
    assert turn == fold(FULL)
    assert stream.closed


@pytest.mark.anyio
async def test_after_an_error_the_accumulator_holds_the_partial_turn() -> None:
    error = NetworkError("stream ended before message_stop")
    stream = Stream([StartChunk("m", "x"), UsageChunk(5, 1), TextChunk("Half a", 0)], error)
    acc = TurnAccumulator()
    with pytest.raises(NetworkError):
        await collect(stream, acc)
    turn = acc.turn()
    assert turn.text == "Half a"
    assert not turn.complete
    assert turn.usage == Usage(5, 1)
    assert stream.closed


@pytest.mark.anyio
async def test_an_error_after_the_stop_chunk_still_makes_the_turn_incomplete() -> None:
    stream = Stream([TextChunk("all", 0), StopChunk("end_turn")], NetworkError("cut"))
    acc = TurnAccumulator()
    with pytest.raises(NetworkError):
        await collect(stream, acc)
    assert not acc.turn().complete


@pytest.mark.anyio
async def test_collect_of_a_plain_async_iterator() -> None:
    async def chunks() -> AsyncIterator[MessageStreamChunk]:
        yield TextChunk("hi", 0)
        yield StopChunk("end_turn")

    turn = await collect(chunks())
    assert turn.text == "hi"
    assert turn.complete


# -- a block cut before any of its content: the stop names it, the turn is incomplete ---------


def _events(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()
        for name, data in events
    )


def _cut_stream(kind: str, deltas: int) -> bytes:
    """Text in block 0, then block 1 of ``kind`` started, ``deltas`` input pieces, and the
    message stopped on max_tokens without the block's end (as a cut stream arrives)."""
    block: dict[str, Any] = {"type": kind, "id": "toolu_cut", "name": "make_file", "input": {}}
    pieces = [
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                        "partial_json": '{"file'}})
    ] * deltas  # fmt: skip
    return _events(
        ("message_start", {"message": {"id": "msg_cut", "model": "claude-x", "role": "assistant",
                                       "content": [], "usage": {"input_tokens": 5}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Calling."}}),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": block}),
        *pieces,
        ("message_delta", {"delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {}),
    )  # fmt: skip


@pytest.mark.parametrize("deltas", [0, 1], ids=["before any input", "mid-input"])
@pytest.mark.parametrize("kind", ["tool_use", "server_tool_use", "mcp_tool_use"])
def test_a_block_the_stop_left_unfinished_makes_the_turn_incomplete(kind: str, deltas: int) -> None:
    # The gap this closes: a server-tool block that never closes, or a client tool block cut
    # before its first input delta, gave no chunk at all, so the turn said complete=True.
    decoder = ChunkDecoder()
    chunks = [*decoder.feed(_cut_stream(kind, deltas)), *decoder.close()]
    assert chunks[-1] == StopChunk("max_tokens", None, cut_blocks=(1,))
    turn = fold(chunks)
    assert turn.message.content == (TextBlock("Calling."),)  # the cut block is left out
    assert not turn.complete
    assert turn.stop_reason == "max_tokens"


def test_a_stop_that_cut_nothing_names_no_block() -> None:
    decoder = ChunkDecoder()
    chunks = [*decoder.feed((FIXTURES / "tool_use.sse").read_bytes()), *decoder.close()]
    stop = chunks[-1]
    assert isinstance(stop, StopChunk) and stop.cut_blocks == ()
    assert fold(chunks).complete


def test_a_cut_block_named_by_the_stop_alone_makes_the_turn_incomplete() -> None:
    turn = fold([TextChunk("Calling.", 0), StopChunk("max_tokens", None, cut_blocks=(1,))])
    assert turn.text == "Calling."
    assert not turn.complete
