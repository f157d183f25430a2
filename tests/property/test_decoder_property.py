"""Property tests of ChunkDecoder on generated Messages streams.

- Any split of the same bytes gives the same chunks, and the same error, as one feed.
- The chunks say what the stream said: the text and thinking joined, each tool's input, the
  stop reason, and usage sums equal to the last cumulative values the stream reported.
- CRLF, CR and LF variants of a stream give the same chunks.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider.errors import ProviderError
from provider.stream import ChunkDecoder
from provider.types import (
    MessageStreamChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
    UsageChunk,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass
class Stream:
    """A generated stream: its events, and what its chunks must add up to."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str = ""
    thinking: str = ""
    tools: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)


# Text with what could trip a framer or a decoder: multi-byte UTF-8, the characters that
# str.splitlines() takes for line ends, quotes, backslashes and newlines (JSON escapes those).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('é😀\u2028\u0085\x0b\n\r"\\: data:\ufeff'),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=8,
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def usage_updates(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], tuple[int, ...]]:
    """A message_start usage and message_delta usages (cumulative, fields absent or null at
    times, zeros at start like some gateways), and the final values they add up to."""
    final = dict.fromkeys((*USAGE_FIELDS, "1h"), 0)
    reports = []
    for _ in range(draw(st.integers(1, 3))):
        usage: dict[str, Any] = {}
        for name in USAGE_FIELDS:
            choice = draw(st.integers(0, 3))
            if choice == 0:
                continue  # absent: keeps its value
            if choice == 1:
                usage[name] = None  # null: keeps its value too
            else:
                usage[name] = final[name] = draw(st.integers(0, 100_000))
        if draw(st.booleans()):
            one_hour = draw(st.integers(0, 5_000))
            usage["cache_creation"] = {"ephemeral_1h_input_tokens": one_hour}
            final["1h"] = one_hour
        reports.append(usage)
    totals = (*(final[name] for name in USAGE_FIELDS), final["1h"])
    return reports[0], reports[1:], totals


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    stream = Stream()
    start_usage, delta_usages, stream.usage = draw(usage_updates())
    events = stream.events
    events.append(("message_start", {"message": {"id": "msg_1", "usage": start_usage}}))
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "thinking", "tool_use", "server_tool_use", "other"]))
        if kind == "text":
            events.append(("content_block_start", _block(index, type="text", text="")))
            for piece in draw(st.lists(TEXT, max_size=5)):
                events.append(("content_block_delta", _delta(index, "text_delta", text=piece)))
                stream.text += piece
        elif kind == "thinking":
            events.append(("content_block_start", _block(index, type="thinking", thinking="")))
            for piece in draw(st.lists(TEXT, max_size=4)):
                events.append(
                    ("content_block_delta", _delta(index, "thinking_delta", thinking=piece))
                )
                stream.thinking += piece
            events.append(("content_block_delta", _delta(index, "signature_delta", signature="s")))
        elif kind in ("tool_use", "server_tool_use"):
            tool_input = draw(st.dictionaries(TEXT, JSON_VALUE, max_size=3))
            name = draw(st.sampled_from(["get_weather", "web_search", "f"]))
            tool_id = f"toolu_{index}"
            events.append(
                ("content_block_start", _block(index, type=kind, id=tool_id, name=name, input={}))
            )
            text = json.dumps(tool_input, ensure_ascii=draw(st.booleans()))
            cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
            for a, b in itertools.pairwise([0, *cuts, len(text)]):
                events.append(
                    (
                        "content_block_delta",
                        _delta(index, "input_json_delta", partial_json=text[a:b]),
                    )
                )
            if kind == "tool_use":
                stream.tools.append((tool_id, name, tool_input))
        else:
            events.append(("content_block_start", _block(index, type="a_new_kind", x=[1])))
            events.append(("content_block_delta", _delta(index, "a_new_delta", y=2)))
        events.append(("content_block_stop", {"index": index}))
    for i, usage in enumerate(delta_usages or [{}]):
        last = i == max(len(delta_usages), 1) - 1
        stop_reason = (
            draw(st.sampled_from(["end_turn", "tool_use", "max_tokens"])) if last else None
        )
        stream.stop_reason = stop_reason
        body: dict[str, Any] = {"delta": {"stop_reason": stop_reason, "stop_sequence": None}}
        if usage:
            body["usage"] = usage
        events.append(("message_delta", body))
    events.append(("message_stop", {}))
    # Pings and events of kinds not known yet, anywhere after the start.
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(1, len(events)))
        events.insert(at, draw(st.sampled_from([("ping", {}), ("a_new_event", {"z": 1})])))
    return stream


def _block(index: int, **content_block: Any) -> dict[str, Any]:
    return {"index": index, "content_block": content_block}


def _delta(index: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": {"type": kind, **fields}}


def serialize(
    events: list[tuple[str, dict[str, Any]]],
    *,
    eol: str = "\n",
    named: bool = True,
    comments: bool = False,
    bom: bool = False,
) -> bytes:
    parts = ["\ufeff"] if bom else []
    for name, body in events:
        if comments:
            parts.append(": keep-alive" + eol)
        if named:
            parts.append(f"event: {name}{eol}")
        data = json.dumps({"type": name, **body}, ensure_ascii=False)
        parts.append(f"data: {data}{eol}{eol}")
    return "".join(parts).encode()


def run(pieces: list[bytes], max_event_size: int | None = None) -> tuple[list[Any], str | None]:
    """The chunks, and the error (class and message) the stream ends with, if any."""
    decoder = (
        ChunkDecoder() if max_event_size is None else ChunkDecoder(max_event_size=max_event_size)
    )
    chunks: list[MessageStreamChunk] = []
    try:
        for piece in pieces:
            chunks.extend(decoder.feed(piece))
        chunks.extend(decoder.close())
    except ProviderError as exc:
        # Where an oversized event is noticed depends on the split; only the start quoted differs.
        message = str(exc).split("; it starts:")[0]
        return chunks, f"{type(exc).__name__}: {message}"
    return chunks, None


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(body)) for c in cuts})
    return [body[a:b] for a, b in itertools.pairwise([0, *points, len(body)])]


CUTS = st.lists(st.integers(0, 5_000), max_size=12)
FORMAT = st.fixed_dictionaries(
    {
        "eol": st.sampled_from(["\n", "\r", "\r\n"]),
        "named": st.booleans(),
        "comments": st.booleans(),
        "bom": st.booleans(),
    }
)


@SETTINGS
@given(streams(), FORMAT, CUTS)
def test_chunks_say_what_the_stream_said_for_any_split(
    stream: Stream, fmt: dict[str, Any], cuts: list[int]
) -> None:
    body = serialize(stream.events, **fmt)
    whole, error = run([body])
    assert error is None
    assert run(split(body, cuts)) == (whole, None)
    assert run([body[i : i + 1] for i in range(len(body))]) == (whole, None)

    assert "".join(c.text for c in whole if isinstance(c, TextChunk)) == stream.text
    assert "".join(c.thinking for c in whole if isinstance(c, ThinkingChunk)) == stream.thinking
    assert all(c.text for c in whole if isinstance(c, TextChunk))
    assert [(c.id, c.name, c.input) for c in whole if isinstance(c, ToolUseChunk)] == stream.tools
    assert [c.stop_reason for c in whole if isinstance(c, StopChunk)] == [stream.stop_reason]
    usages = [c for c in whole if isinstance(c, UsageChunk)]
    assert len(usages) == 1 + sum(1 for name, _ in stream.events if name == "message_delta")
    totals = tuple(
        sum(getattr(u, name) for u in usages)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_write_tokens",
            "cache_read_tokens",
            "cache_write_1h_tokens",
        )
    )
    assert totals == stream.usage


FAULTS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("bad_json"), st.integers(0, 100)),
    st.tuples(st.just("overloaded"), st.integers(0, 100)),
    st.tuples(st.just("out_of_order"), st.integers(0, 100)),
    st.tuples(st.just("small_limit"), st.integers(20, 300)),
)


@SETTINGS
@given(streams(), FORMAT, FAULTS, CUTS)
def test_a_broken_stream_fails_the_same_way_for_any_split(
    stream: Stream, fmt: dict[str, Any], fault: tuple[str, int], cuts: list[int]
) -> None:
    kind, n = fault
    events = list(stream.events)
    limit = None
    if kind == "bad_json":
        body = serialize(events[: n % len(events)], **fmt)
        body += b'event: content_block_delta\ndata: {"type": "content_block_delta", \n\n'
        body += serialize(events[n % len(events) :], **fmt)
    else:
        if kind == "overloaded":
            error = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
            events.insert(n % len(events), ("error", error))
        elif kind == "out_of_order":
            events.insert(n % len(events) + 1, ("content_block_delta", _delta(99, "text_delta")))
        elif kind == "small_limit":
            limit = n
        body = serialize(events, **fmt)
        if kind == "truncate":
            body = body[: n % (len(body) + 1)]
    whole = run([body], limit)
    assert run(split(body, cuts), limit) == whole
    assert run([body[i : i + 1] for i in range(len(body))], limit) == whole
    if kind in ("bad_json", "overloaded", "out_of_order"):
        assert whole[1] is not None


@SETTINGS
@given(streams(), st.booleans(), st.booleans())
def test_crlf_cr_and_lf_give_the_same_chunks(stream: Stream, named: bool, bom: bool) -> None:
    results = [
        run([serialize(stream.events, eol=eol, named=named, bom=bom)])
        for eol in ("\n", "\r", "\r\n")
    ]
    assert results[0][1] is None
    assert results[0] == results[1] == results[2]


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete"]),
        st.integers(0, 10_000),
        st.binary(min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=4,
)


@SETTINGS
@given(streams(), FORMAT, MUTATIONS, CUTS)
def test_mangled_bytes_raise_only_provider_errors_and_the_same_for_any_split(
    stream: Stream, fmt: dict[str, Any], mutations: list[tuple[str, int, bytes]], cuts: list[int]
) -> None:
    # Random byte damage (invalid UTF-8, broken JSON, stray line ends): whatever happens, it is
    # a ProviderError (run() lets anything else through and fails the test), and the split
    # does not change it.
    body = bytearray(serialize(stream.events, **fmt))
    for op, at, blob in mutations:
        at %= len(body) + 1
        if op == "set":
            body[at : at + len(blob)] = blob
        elif op == "insert":
            body[at:at] = blob
        else:
            del body[at : at + len(blob)]
    data = bytes(body)
    whole = run([data])
    assert run(split(data, cuts)) == whole
