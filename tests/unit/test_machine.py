"""The stream state machine and ChunkDecoder: order checks, chunks, usage sums, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provider.content import RawBlock
from provider.errors import (
    AuthenticationError,
    NetworkError,
    OverloadedError,
    ProviderError,
    RateLimitError,
)
from provider.stream import ChunkDecoder, StreamMachine, decode_event
from provider.types import (
    BlockChunk,
    CitationChunk,
    MessageStreamChunk,
    RedactedThinkingChunk,
    StartChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseChunk,
    UsageChunk,
)

Event = tuple[str, dict[str, Any]]


def sse(events: list[Event]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps({'type': name, **body})}\n\n".encode()
        for name, body in events
    )


def start(**usage: Any) -> Event:
    usage = usage or {"input_tokens": 10, "output_tokens": 1}
    return (
        "message_start",
        {"message": {"id": "msg_1", "model": "claude-x", "role": "assistant", "usage": usage}},
    )


def block(index: int, kind: str = "text", **fields: Any) -> Event:
    return ("content_block_start", {"index": index, "content_block": {"type": kind, **fields}})


def delta(index: int, kind: str = "text_delta", **fields: Any) -> Event:
    return ("content_block_delta", {"index": index, "delta": {"type": kind, **fields}})


def text(index: int, value: str) -> Event:
    return delta(index, "text_delta", text=value)


def stop(index: int) -> Event:
    return ("content_block_stop", {"index": index})


def message_delta(stop_reason: str | None = "end_turn", **usage: Any) -> Event:
    body: dict[str, Any] = {"delta": {"stop_reason": stop_reason, "stop_sequence": None}}
    if usage:
        body["usage"] = usage
    return ("message_delta", body)


END: Event = ("message_stop", {})
PING: Event = ("ping", {})


def decode(body: bytes) -> list[MessageStreamChunk]:
    decoder = ChunkDecoder()
    chunks = list(decoder.feed(body))
    chunks += decoder.close()
    assert decoder.done
    return chunks


def collect(body: bytes) -> tuple[list[MessageStreamChunk], ProviderError | None]:
    """The chunks a stream gives, and the error it ends with, if any."""
    decoder = ChunkDecoder()
    chunks: list[MessageStreamChunk] = []
    try:
        for chunk in decoder.feed(body):
            chunks.append(chunk)
        for chunk in decoder.close():
            chunks.append(chunk)
    except ProviderError as exc:
        return chunks, exc
    return chunks, None


def usage_sum(chunks: list[MessageStreamChunk]) -> tuple[int, int, int, int, int]:
    usages = [c for c in chunks if isinstance(c, UsageChunk)]
    return (
        sum(u.input_tokens for u in usages),
        sum(u.output_tokens for u in usages),
        sum(u.cache_write_tokens for u in usages),
        sum(u.cache_read_tokens for u in usages),
        sum(u.cache_write_1h_tokens for u in usages),
    )


def texts(chunks: list[MessageStreamChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


# -- chunks ---------------------------------------------------------------------------------


def test_a_text_stream() -> None:
    body = sse(
        [
            start(input_tokens=17, output_tokens=1),
            block(0, text=""),
            PING,
            text(0, "Hello"),
            text(0, ""),
            text(0, ", world"),
            stop(0),
            message_delta("end_turn", output_tokens=9),
            END,
        ]
    )
    assert decode(body) == [
        StartChunk("msg_1", "claude-x"),
        UsageChunk(input_tokens=17, output_tokens=1),
        TextChunk("Hello", 0),
        TextChunk(", world", 0),
        UsageChunk(output_tokens=8),
        StopChunk("end_turn", None),
    ]


def test_thinking_signature_citations_and_redacted_thinking() -> None:
    body = sse(
        [
            start(),
            block(0, "thinking", thinking="", signature=""),
            delta(0, "thinking_delta", thinking="Let me"),
            delta(0, "thinking_delta", thinking=""),
            delta(0, "thinking_delta", thinking=" think"),
            delta(0, "signature_delta", signature="EoQDCm0IDhgC"),
            stop(0),
            block(1, "redacted_thinking", data="EmwKAhgBEgy3va3pzix"),
            stop(1),
            block(2, text=""),
            delta(2, "citations_delta", citation={"type": "char_location", "cited_text": "x"}),
            text(2, "Cited."),
            stop(2),
            message_delta("end_turn", output_tokens=30),
            END,
        ]
    )
    chunks = decode(body)
    assert [c for c in chunks if not isinstance(c, UsageChunk)] == [
        StartChunk("msg_1", "claude-x"),
        ThinkingChunk("Let me", 0),
        ThinkingChunk(" think", 0),
        ThinkingChunk("", 0, "EoQDCm0IDhgC"),
        RedactedThinkingChunk("EmwKAhgBEgy3va3pzix", 1),
        CitationChunk({"type": "char_location", "cited_text": "x"}, 2),
        TextChunk("Cited.", 2),
        StopChunk("end_turn", None),
    ]


def test_a_block_that_starts_with_text_gives_it() -> None:
    body = sse(
        [
            start(),
            block(0, text="Already "),
            text(0, "here"),
            stop(0),
            block(1, "thinking", thinking="Pre"),
            stop(1),
            message_delta(),
            END,
        ]
    )
    chunks = decode(body)
    assert [c for c in chunks if isinstance(c, TextChunk | ThinkingChunk)] == [
        TextChunk("Already ", 0),
        TextChunk("here", 0),
        ThinkingChunk("Pre", 1),
    ]


def test_unknown_events_blocks_and_deltas_are_skipped() -> None:
    body = sse(
        [
            ("message_annotation", {"x": 1}),
            start(),
            ("something_new", {"index": 5}),
            block(0, "hologram", pixels=[1, 2]),
            delta(0, "hologram_delta", pixels=[3]),
            stop(0),
            block(1, text=""),
            delta(1, "sparkle_delta", amount=3),
            text(1, "ok"),
            stop(1),
            message_delta(),
            END,
            ("after_the_end", {}),
            PING,
        ]
    )
    assert texts(decode(body)) == "ok"


def test_the_stop_chunk_carries_the_stop_sequence() -> None:
    body = sse(
        [
            start(),
            ("message_delta", {"delta": {"stop_reason": "stop_sequence", "stop_sequence": "##"}}),
            END,
        ]
    )
    assert decode(body)[-1] == StopChunk("stop_sequence", "##")


def test_a_message_delta_without_stop_reason_gives_no_stop_chunk() -> None:
    body = sse([start(), message_delta(None, output_tokens=5), message_delta("max_tokens"), END])
    chunks = decode(body)
    assert [c for c in chunks if isinstance(c, StopChunk)] == [StopChunk("max_tokens", None)]
    # One UsageChunk at message_start and one at each message_delta, zero or not.
    assert [c for c in chunks if isinstance(c, UsageChunk)] == [
        UsageChunk(input_tokens=10, output_tokens=1),
        UsageChunk(output_tokens=4),
        UsageChunk(),
    ]


# -- tool use -------------------------------------------------------------------------------


def test_tool_input_pieces_are_joined_and_parsed_at_block_stop() -> None:
    pieces = ['{"loc', 'ation": "San ', "Francisco", '", "unit": ["c"', "]}"]
    body = sse(
        [
            start(),
            block(0, text=""),
            text(0, "Let me check."),
            stop(0),
            block(1, "tool_use", id="toolu_01", name="get_weather", input={}),
            *[delta(1, "input_json_delta", partial_json=p) for p in ["", *pieces]],
            stop(1),
            message_delta("tool_use", output_tokens=40),
            END,
        ]
    )
    chunks = decode(body)
    tools = [c for c in chunks if isinstance(c, ToolUseChunk)]
    assert tools == [
        ToolUseChunk("toolu_01", "get_weather", {"location": "San Francisco", "unit": ["c"]}, 1)
    ]
    # Each piece as it came (for a UI), then the call at its block's stop, before the final
    # usage.
    assert [c for c in chunks if isinstance(c, ToolInputChunk)] == [
        ToolInputChunk(p, 1) for p in ["", *pieces]
    ]
    assert chunks.index(tools[0]) == 3 + 1 + len(pieces)
    assert isinstance(chunks[chunks.index(tools[0]) + 1], UsageChunk)


def test_a_tool_with_no_input_pieces_takes_its_start_input() -> None:
    body = sse(
        [
            start(),
            block(0, "tool_use", id="toolu_a", name="now", input={}),
            delta(0, "input_json_delta", partial_json=""),
            stop(0),
            block(1, "tool_use", id="toolu_b", name="preset", input={"x": 1}),
            stop(1),
            block(2, "tool_use", id="toolu_c", name="blank", input={}),
            delta(2, "input_json_delta", partial_json=" "),
            stop(2),
            message_delta("tool_use"),
            END,
        ]
    )
    tools = [c for c in decode(body) if isinstance(c, ToolUseChunk)]
    assert tools == [
        ToolUseChunk("toolu_a", "now", {}, 0),
        ToolUseChunk("toolu_b", "preset", {"x": 1}, 1),
        ToolUseChunk("toolu_c", "blank", {}, 2),
    ]


def test_interleaved_tool_blocks_keep_their_own_input() -> None:
    body = sse(
        [
            start(),
            block(0, "tool_use", id="t0", name="a", input={}),
            block(1, "tool_use", id="t1", name="b", input={}),
            delta(1, "input_json_delta", partial_json='{"b":'),
            delta(0, "input_json_delta", partial_json='{"a":'),
            delta(0, "input_json_delta", partial_json="0}"),
            delta(1, "input_json_delta", partial_json="1}"),
            stop(1),
            stop(0),
            message_delta("tool_use"),
            END,
        ]
    )
    tools = [c for c in decode(body) if isinstance(c, ToolUseChunk)]
    assert tools == [ToolUseChunk("t1", "b", {"b": 1}, 1), ToolUseChunk("t0", "a", {"a": 0}, 0)]


@pytest.mark.parametrize("pieces", [['{"city": "Par'], ['{"a": 1}', "x"], ["[1, 2]"], ["42"]])
def test_bad_tool_json_names_the_tool(pieces: list[str]) -> None:
    body = sse(
        [
            start(),
            block(0, text=""),
            text(0, "Calling."),
            stop(0),
            block(1, "tool_use", id="toolu_bad", name="get_weather", input={}),
            *[delta(1, "input_json_delta", partial_json=p) for p in pieces],
            stop(1),
            message_delta("tool_use"),
            END,
        ]
    )
    chunks, error = collect(body)
    assert type(error) is ProviderError
    assert "get_weather" in str(error)
    assert "toolu_bad" in str(error)
    assert texts(chunks) == "Calling."


def test_server_tool_blocks_come_whole_as_block_chunks() -> None:
    body = sse(
        [
            start(),
            block(0, "server_tool_use", id="srvtoolu_1", name="web_search", input={}),
            delta(0, "input_json_delta", partial_json='{"query": "weather'),
            delta(0, "input_json_delta", partial_json=' today"}'),
            stop(0),
            block(1, "web_search_tool_result", tool_use_id="srvtoolu_1", content=[]),
            stop(1),
            block(2, text=""),
            text(2, "Sunny."),
            stop(2),
            message_delta("end_turn"),
            END,
        ]
    )
    chunks = decode(body)
    assert not [c for c in chunks if isinstance(c, ToolUseChunk | ToolInputChunk)]
    assert texts(chunks) == "Sunny."
    # Each block as a non-streaming reply holds it: the input assembled from its pieces.
    assert [c for c in chunks if isinstance(c, BlockChunk)] == [
        BlockChunk(
            RawBlock(
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "weather today"},
                }
            ),
            0,
        ),
        BlockChunk(
            RawBlock(
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
            ),
            1,
        ),
    ]


def test_broken_json_in_a_server_tool_block_of_a_whole_message_is_an_error() -> None:
    body = sse(
        [
            start(),
            block(0, "server_tool_use", id="srvtoolu_1", name="web_search", input={}),
            delta(0, "input_json_delta", partial_json='{"query": '),
            stop(0),
            message_delta("end_turn"),
            END,
        ]
    )
    chunks, error = collect(body)
    assert type(error) is ProviderError
    assert "server_tool_use block 0" in str(error)
    assert not [c for c in chunks if isinstance(c, BlockChunk | StopChunk)]


# -- usage ----------------------------------------------------------------------------------


def test_usage_increases_sum_to_the_final_usage() -> None:
    body = sse(
        [
            start(
                input_tokens=598,
                output_tokens=8,
                cache_creation_input_tokens=100,
                cache_read_input_tokens=50,
                cache_creation={"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60},
            ),
            message_delta(
                None,
                input_tokens=598,
                output_tokens=50,
                cache_creation_input_tokens=100,
                cache_read_input_tokens=50,
            ),
            message_delta("end_turn", output_tokens=92),
            END,
        ]
    )
    chunks = decode(body)
    assert usage_sum(chunks) == (598, 92, 100, 50, 60)
    assert [c for c in chunks if isinstance(c, UsageChunk)][1:] == [
        UsageChunk(output_tokens=42),
        UsageChunk(output_tokens=42),
    ]


def test_gateway_zeros_at_start_and_real_counts_at_message_delta() -> None:
    body = sse(
        [
            start(
                input_tokens=0,
                output_tokens=0,
                cache_creation_input_tokens=0,
                cache_read_input_tokens=0,
            ),
            block(0, text=""),
            text(0, "x"),
            stop(0),
            message_delta(
                "end_turn",
                input_tokens=1200,
                output_tokens=35,
                cache_creation_input_tokens=300,
                cache_read_input_tokens=900,
                cache_creation={"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            ),
            END,
        ]
    )
    chunks = decode(body)
    assert chunks[1] == UsageChunk()
    assert usage_sum(chunks) == (1200, 35, 300, 900, 200)


def test_fields_absent_or_null_in_message_delta_keep_their_value() -> None:
    body = sse(
        [
            start(
                input_tokens=500,
                output_tokens=1,
                cache_creation_input_tokens=70,
                cache_read_input_tokens=30,
                cache_creation={"ephemeral_1h_input_tokens": 70},
            ),
            # A real message_delta: cache counts without the cache_creation split.
            message_delta(None, output_tokens=20, cache_read_input_tokens=None),
            message_delta(
                "end_turn", output_tokens=25, cache_creation={"ephemeral_5m_input_tokens": 0}
            ),
            END,
        ]
    )
    chunks = decode(body)
    assert usage_sum(chunks) == (500, 25, 70, 30, 70)
    assert [c for c in chunks if isinstance(c, UsageChunk)] == [
        UsageChunk(500, 1, 70, 30, 70),
        UsageChunk(output_tokens=19),
        UsageChunk(output_tokens=5),
    ]


def test_the_1h_cache_split_can_grow_later() -> None:
    body = sse(
        [
            start(input_tokens=5, output_tokens=1, cache_creation_input_tokens=0),
            message_delta(
                "end_turn",
                cache_creation_input_tokens=1000,
                cache_creation={"ephemeral_5m_input_tokens": 250, "ephemeral_1h_input_tokens": 750},
            ),
            END,
        ]
    )
    assert usage_sum(decode(body)) == (5, 1, 1000, 0, 750)


def test_a_message_start_without_usage() -> None:
    body = sse(
        [
            ("message_start", {"message": {"id": "m"}}),
            message_delta("end_turn", input_tokens=3, output_tokens=4),
            END,
        ]
    )
    chunks = decode(body)
    assert chunks[:2] == [StartChunk("m", ""), UsageChunk()]
    assert usage_sum(chunks) == (3, 4, 0, 0, 0)


# -- order ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([text(0, "x")], "content_block_delta before message_start"),
        ([block(0)], "content_block_start before message_start"),
        ([stop(0)], "content_block_stop before message_start"),
        ([message_delta()], "message_delta before message_start"),
        ([END], "message_stop before message_start"),
        ([start(), start()], "message_start received twice"),
        ([start(), block(0), block(0)], "content_block_start for block 0 that is already open"),
        (
            [start(), block(0), stop(0), block(0)],
            "content_block_start for block 0 that already ended",
        ),
        ([start(), text(3, "x")], "content_block_delta for block 3 that was never started"),
        ([start(), stop(2)], "content_block_stop for block 2 that was never started"),
        (
            [start(), block(0), stop(0), text(0, "x")],
            "content_block_delta for block 0 that already stopped",
        ),
        (
            [start(), block(0), stop(0), stop(0)],
            "content_block_stop for block 0 that already stopped",
        ),
        ([start(), END, start()], "message_start after message_stop"),
        ([start(), END, block(0)], "content_block_start after message_stop"),
        ([start(), END, text(0, "x")], "content_block_delta after message_stop"),
        ([start(), END, message_delta()], "message_delta after message_stop"),
        ([start(), END, END], "message_stop after message_stop"),
    ],
)
def test_order_violations_name_the_event(events: list[Event], message: str) -> None:
    _, error = collect(sse(events))
    assert type(error) is ProviderError
    assert message in str(error)


def test_ping_and_unknown_events_after_message_stop_are_fine() -> None:
    body = sse([start(), message_delta(), END, PING, ("later", {}), PING])
    assert decode(body)[-1] == StopChunk("end_turn", None)


# -- errors ---------------------------------------------------------------------------------


def test_a_mid_stream_overloaded_error_comes_after_the_earlier_text() -> None:
    body = sse(
        [
            start(),
            block(0, text=""),
            text(0, "Half a"),
            text(0, " sentence"),
            ("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
            text(0, "never seen"),
        ]
    )
    decoder = ChunkDecoder()
    seen = decoder.feed(body)  # the chunks before the fault, the fault kept in .error
    assert texts(seen) == "Half a sentence"
    caught = decoder.error
    assert isinstance(caught, OverloadedError)
    assert caught.status is None
    assert caught.error_type == "overloaded_error"
    assert "Overloaded" in str(caught)
    assert not decoder.done
    # The decoder stays failed.
    with pytest.raises(OverloadedError):
        list(decoder.close())


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [
        ("rate_limit_error", RateLimitError),
        ("authentication_error", AuthenticationError),
        ("api_error", ProviderError),
        ("a_new_error", ProviderError),
    ],
)
def test_error_events_map_to_the_error_classes(error_type: str, cls: type[ProviderError]) -> None:
    body = sse(
        [start(), ("error", {"error": {"type": error_type, "message": "nope"}, "request_id": "r1"})]
    )
    chunks, error = collect(body)
    assert type(error) is cls
    assert error.error_type == error_type
    assert error.request_id == "r1"
    assert error.status is None
    assert chunks == [StartChunk("msg_1", "claude-x"), UsageChunk(input_tokens=10, output_tokens=1)]


def test_an_error_event_before_message_start() -> None:
    body = sse([("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})])
    _, error = collect(body)
    assert isinstance(error, OverloadedError)


def test_a_missing_message_stop_is_a_network_error_after_the_chunks() -> None:
    body = sse([start(), block(0, text=""), text(0, "cut"), text(0, " off")])
    chunks, error = collect(body)
    assert type(error) is NetworkError
    assert str(error) == "stream ended before message_stop"
    assert texts(chunks) == "cut off"


def test_a_partial_event_at_the_end_is_a_network_error() -> None:
    body = sse([start(), block(0, text=""), text(0, "a")])
    body += b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0'
    chunks, error = collect(body)
    assert type(error) is NetworkError
    assert "stream ended before message_stop" in str(error)
    assert "in the middle of an event" in str(error)
    assert '"content_block_delta", "index": 0' in str(error)
    assert texts(chunks) == "a"


def test_an_empty_stream_is_a_network_error() -> None:
    chunks, error = collect(b"")
    assert chunks == []
    assert type(error) is NetworkError


def test_a_partial_event_after_message_stop_is_ignored() -> None:
    body = sse([start(), message_delta(), END]) + b"data: {trail"
    assert decode(body)[-1] == StopChunk("end_turn", None)


def test_errors_surface_exactly_at_the_offending_event() -> None:
    body = sse([start(), block(0, text=""), text(0, "one"), text(0, "two")])
    body += b"event: content_block_delta\ndata: {not json}\n\n" + sse([text(0, "three")])
    chunks, error = collect(body)
    assert texts(chunks) == "onetwo"
    assert type(error) is ProviderError
    assert "content_block_delta" in str(error)
    assert "{not json}" in str(error)


def test_invalid_utf8_in_event_data_is_a_provider_error_in_order() -> None:
    body = sse([start(), block(0, text=""), text(0, "fine")])
    body += b"event: content_block_delta\n"
    body += b'data: {"index":0,"delta":{"type":"text_delta","text":"\xc3"}}\n\n'
    chunks, error = collect(body)
    assert texts(chunks) == "fine"
    assert type(error) is ProviderError
    assert "content_block_delta" in str(error)


def test_an_oversized_event_fails_after_the_earlier_chunks_of_the_same_feed() -> None:
    body = sse([start(), block(0, text=""), text(0, "small")])
    body += sse([text(0, "x" * 5_000)])
    decoder = ChunkDecoder(max_event_size=1_000)
    seen = decoder.feed(body)
    assert texts(seen) == "small"
    assert isinstance(decoder.error, ProviderError)
    assert "max_event_size" in str(decoder.error)
    with pytest.raises(ProviderError, match="max_event_size"):
        decoder.feed(b"data: more\n\n")
    with pytest.raises(ProviderError, match="max_event_size"):
        decoder.close()


# -- ChunkDecoder mechanics -----------------------------------------------------------------


FULL = sse(
    [
        start(),
        block(0, text=""),
        text(0, "a"),
        text(0, "b"),
        text(0, "c"),
        stop(0),
        message_delta("end_turn", output_tokens=3),
        END,
    ]
)


def test_feed_returns_every_chunk_its_bytes_complete() -> None:
    # Nothing is held back for later: the chunks of the events complete in the first half
    # come out of the first feed, the rest out of the second.
    expected = decode(FULL)
    cut = FULL.index(b"event: message_delta")
    decoder = ChunkDecoder()
    first = decoder.feed(FULL[: cut + 5])  # ends inside the message_delta event
    assert first == decode_events_before(cut)
    rest = decoder.feed(FULL[cut + 5 :])
    assert first + rest == expected
    assert decoder.done
    assert decoder.close() == []
    assert decoder.error is None


def decode_events_before(cut: int) -> list[MessageStreamChunk]:
    decoder = ChunkDecoder()
    return decoder.feed(FULL[:cut])


def test_a_fault_is_raised_by_every_later_call() -> None:
    decoder = ChunkDecoder()
    assert decoder.feed(sse([text(0, "before any start")])) == []
    assert isinstance(decoder.error, ProviderError)
    for call in (lambda: decoder.feed(FULL), decoder.close):
        with pytest.raises(ProviderError, match="before message_start"):
            call()


def test_done_turns_true_at_message_stop() -> None:
    decoder = ChunkDecoder()
    cut = FULL.index(b"event: message_stop")
    list(decoder.feed(FULL[:cut]))
    assert not decoder.done
    list(decoder.feed(FULL[cut:]))
    assert decoder.done


def test_data_only_events_give_the_same_chunks() -> None:
    # A gateway that drops the "event:" lines: the data's "type" picks the decoder.
    stripped = b"\n".join(line for line in FULL.split(b"\n") if not line.startswith(b"event:"))
    assert b"event:" not in stripped
    assert decode(stripped) == decode(FULL)


def test_feed_after_close_is_an_error() -> None:
    decoder = ChunkDecoder()
    list(decoder.feed(FULL))
    list(decoder.close())
    with pytest.raises(ProviderError, match="after close"):
        decoder.feed(b"")


def test_stream_machine_on_its_own() -> None:
    machine = StreamMachine()
    events = [decode_event(name, json.dumps({"type": name, **body})) for name, body in FULL_EVENTS]
    out: list[MessageStreamChunk] = []
    for event in events:
        out += machine.process(event)
    assert machine.done
    assert out == decode(FULL)
    assert machine.process(None) == []


FULL_EVENTS: list[Event] = [
    start(),
    block(0, text=""),
    text(0, "a"),
    text(0, "b"),
    text(0, "c"),
    stop(0),
    message_delta("end_turn", output_tokens=3),
    END,
]


# -- the whole turn: every block kind, with its index ---------------------------------------


def test_start_chunk_comes_first_then_the_start_usage() -> None:
    chunks = decode(sse([start(input_tokens=3, output_tokens=1), message_delta(), END]))
    assert chunks[:2] == [StartChunk("msg_1", "claude-x"), UsageChunk(3, 1)]


def test_consecutive_text_blocks_keep_apart_by_index() -> None:
    first = [block(0), text(0, "one"), stop(0)]
    second = [block(1), text(1, "two"), stop(1)]
    body = sse([start(), *first, *second, message_delta(), END])
    assert [c for c in decode(body) if isinstance(c, TextChunk)] == [
        TextChunk("one", 0),
        TextChunk("two", 1),
    ]


def test_a_tool_call_keeps_its_caller() -> None:
    caller = {"type": "code_execution_20250825", "tool_id": "srvtoolu_9"}
    body = sse(
        [
            start(),
            block(0, "tool_use", id="toolu_1", name="f", input={}, caller=caller),
            delta(0, "input_json_delta", partial_json='{"x": 1}'),
            stop(0),
            message_delta("tool_use"),
            END,
        ]
    )
    tools = [c for c in decode(body) if isinstance(c, ToolUseChunk)]
    assert tools == [ToolUseChunk("toolu_1", "f", {"x": 1}, 0, caller)]


def test_a_compaction_block_comes_whole_with_its_content() -> None:
    body = sse(
        [
            start(),
            block(0, "compaction", content=None, encrypted_content=None),
            PING,
            delta(0, "compaction_delta", content="Summary.", encrypted_content="Ep0B"),
            stop(0),
            block(1),
            text(1, "Hi"),
            stop(1),
            message_delta(),
            END,
        ]
    )
    blocks = [c for c in decode(body) if isinstance(c, BlockChunk)]
    assert blocks == [
        BlockChunk(
            RawBlock({"type": "compaction", "content": "Summary.", "encrypted_content": "Ep0B"}),
            0,
        )
    ]


def test_an_unknown_block_comes_whole_and_its_unknown_deltas_are_skipped() -> None:
    body = sse(
        [
            start(),
            block(0, "hologram", pixels=[1, 2], meta={"a": None}),
            delta(0, "hologram_delta", pixels=[3]),
            delta(0, "text_delta", text="not for a hologram"),
            stop(0),
            message_delta(),
            END,
        ]
    )
    chunks = decode(body)
    assert [c for c in chunks if isinstance(c, BlockChunk)] == [
        BlockChunk(RawBlock({"type": "hologram", "pixels": [1, 2], "meta": {"a": None}}), 0)
    ]
    assert not [c for c in chunks if isinstance(c, TextChunk)]


def test_web_search_requests_are_summed_like_the_tokens() -> None:
    body = sse(
        [
            start(input_tokens=10, output_tokens=1, server_tool_use={"web_search_requests": 0}),
            message_delta(None, output_tokens=5, server_tool_use={"web_search_requests": 1}),
            message_delta(None, output_tokens=9),  # absent: keeps its value
            message_delta("end_turn", output_tokens=20, server_tool_use={"web_search_requests": 3}),
            END,
        ]
    )
    usages = [c for c in decode(body) if isinstance(c, UsageChunk)]
    assert [u.web_search_requests for u in usages] == [0, 1, 0, 2]
    assert sum(u.output_tokens for u in usages) == 20


@pytest.mark.parametrize(
    ("kind", "block_kind", "field"),
    [
        ("text_delta", "text", "text"),
        ("citations_delta", "text", "citation"),
        ("thinking_delta", "thinking", "thinking"),
        ("signature_delta", "thinking", "signature"),
        ("input_json_delta", "tool_use", "partial_json"),
        ("input_json_delta", "server_tool_use", "partial_json"),
    ],
)
def test_a_delta_missing_its_payload_is_an_error_naming_the_event(
    kind: str, block_kind: str, field: str
) -> None:
    fields = {"id": "t", "name": "n", "input": {}} if "tool" in block_kind else {}
    body = sse([start(), block(0, block_kind, **fields), delta(0, kind)])
    for feed in (lambda: collect(body), lambda: process_all(body)):
        _, error = feed()
        assert type(error) is ProviderError
        assert "content_block_delta" in str(error)
        assert f"{kind} without {field}" in str(error)


def test_an_empty_text_delta_is_fine_and_gives_nothing() -> None:
    body = sse([start(), block(0), text(0, ""), stop(0), message_delta(), END])
    assert not [c for c in decode(body) if isinstance(c, TextChunk)]


def test_a_known_delta_for_the_wrong_block_kind_is_an_error() -> None:
    body = sse([start(), block(0, "tool_use", id="t", name="n", input={}), text(0, "x")])
    _, error = collect(body)
    assert type(error) is ProviderError
    assert "text_delta for block 0, a tool_use block" in str(error)


def test_a_redacted_thinking_block_without_data_is_an_error() -> None:
    _, error = collect(sse([start(), block(0, "redacted_thinking")]))
    assert type(error) is ProviderError
    assert "content_block_start" in str(error)


def test_a_named_block_with_a_field_of_the_wrong_type_is_an_error() -> None:
    _, error = collect(sse([start(), block(0, "tool_use", id=7, name="n", input={})]))
    assert type(error) is ProviderError
    assert "content_block_start" in str(error)


def process_all(body: bytes) -> tuple[list[MessageStreamChunk], ProviderError | None]:
    """The same events through StreamMachine.process, the slow path (no ChunkDecoder)."""
    machine = StreamMachine()
    chunks: list[MessageStreamChunk] = []
    try:
        for event in body.split(b"\n\n"):
            if event:
                name, data = event.split(b"\n")
                chunks += machine.process(decode_event(name[7:].decode(), data[6:]))
    except ProviderError as exc:
        return chunks, exc
    return chunks, None


def test_process_and_feed_give_the_same_chunks() -> None:
    body = sse(
        [
            start(),
            block(0, "thinking", thinking="", signature=""),
            delta(0, "thinking_delta", thinking="Hm"),
            delta(0, "signature_delta", signature="sig"),
            stop(0),
            block(1),
            delta(1, "citations_delta", citation={"type": "x"}),
            text(1, "a"),
            stop(1),
            block(2, "tool_use", id="t", name="n", input={}),
            delta(2, "input_json_delta", partial_json="{}"),
            stop(2),
            block(3, "server_tool_use", id="s", name="web_search", input={}),
            stop(3),
            message_delta("tool_use"),
            END,
        ]
    )
    assert process_all(body) == (decode(body), None)


# -- a message cut short inside a tool block: no tool call, no error -------------------------


def cut_tool(*tail: Event, stop_reason: str = "max_tokens", kind: str = "tool_use") -> bytes:
    return sse(
        [
            start(),
            block(0),
            text(0, "Calling."),
            stop(0),
            block(1, kind, id="toolu_cut", name="make_file", input={}),
            delta(1, "input_json_delta", partial_json=""),
            delta(1, "input_json_delta", partial_json='{"filename": "tax'),
            *tail,
            message_delta(stop_reason, output_tokens=124),
            END,
        ]
    )


@pytest.mark.parametrize("closed", [False, True], ids=["never closed", "closed"])
@pytest.mark.parametrize("reason", sorted(["max_tokens", "model_context_window_exceeded"]))
def test_a_tool_block_cut_short_ends_normally_without_a_tool_call(
    closed: bool, reason: str
) -> None:
    chunks, error = collect(cut_tool(*([stop(1)] if closed else []), stop_reason=reason))
    assert error is None
    assert chunks[-1] == StopChunk(reason, None, cut_blocks=(1,))  # the stop names the block
    assert not [c for c in chunks if isinstance(c, ToolUseChunk)]
    # The pieces that did come were handed on (a UI may show them).
    assert [c.partial_json for c in chunks if isinstance(c, ToolInputChunk)] == [
        "",
        '{"filename": "tax',
    ]
    assert texts(chunks) == "Calling."


def test_a_server_tool_block_cut_short_gives_no_block_chunk() -> None:
    chunks, error = collect(cut_tool(stop(1), kind="server_tool_use"))
    assert error is None
    assert not [c for c in chunks if isinstance(c, BlockChunk)]
    assert chunks[-1] == StopChunk("max_tokens", None, cut_blocks=(1,))


def test_cut_tool_input_in_a_message_that_was_not_cut_is_an_error_before_the_stop() -> None:
    chunks, error = collect(cut_tool(stop(1), stop_reason="tool_use"))
    assert type(error) is ProviderError
    assert "toolu_cut" in str(error)
    assert "make_file" in str(error)
    assert not [c for c in chunks if isinstance(c, StopChunk)]
    assert texts(chunks) == "Calling."


def test_an_open_block_at_message_stop_is_no_error() -> None:
    body = sse([start(), block(0), text(0, "half"), message_delta("max_tokens"), END])
    chunks, error = collect(body)
    assert error is None
    assert chunks[-1] == StopChunk("max_tokens", None, cut_blocks=(0,))


def test_a_text_delta_after_message_stop_for_a_block_left_open_is_refused() -> None:
    # The decoder's text fast path once yielded it, because the cut block was still "open".
    head = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x",'
        b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    late = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":" image"}}\n\n'
    )
    for pieces in ([head + late], [head, late]):
        decoder = ChunkDecoder()
        chunks = [c for piece in pieces for c in decoder.feed(piece)]
        assert not any(isinstance(c, TextChunk) for c in chunks)
        assert decoder.error is not None
        assert "content_block_delta after message_stop" in str(decoder.error)
