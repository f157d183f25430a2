"""Property tests of Message and its blocks: a saved conversation loads back as it was.

- Any generated Message encodes to JSON that decodes (``msgspec.json.decode(b, type=Message)``)
  to an equal Message, every block back as its own class (a RawBlock as a RawBlock).
- A whole history (``list[Message]``) does too, and encoding it again gives the same bytes.
- The JSON of every block carries its ``type`` and never an unset optional field.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from provider import (
    Base64Source,
    CacheControl,
    Citations,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    PlainTextSource,
    RawBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN = {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"}

texts = st.text(max_size=20)
nonempty = st.text(min_size=1, max_size=20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(UNSET) | strategy


caches = maybe(st.builds(CacheControl, maybe(st.sampled_from(["5m", "1h"]))))
base64_sources = st.builds(
    Base64Source.from_bytes,
    st.sampled_from(["image/png", "application/pdf"]),
    st.binary(min_size=1),
)
url_sources = st.builds(URLSource, nonempty)
file_sources = st.builds(FileSource, nonempty)

text_blocks = st.builds(
    TextBlock, texts, citations=maybe(st.lists(json_objects, max_size=2)), cache_control=caches
)
image_blocks = st.builds(
    ImageBlock, base64_sources | url_sources | file_sources, cache_control=caches
)
content_sources = st.builds(
    ContentSource, nonempty | st.lists(text_blocks | image_blocks, min_size=1, max_size=3)
)
document_blocks = st.builds(
    DocumentBlock,
    base64_sources
    | url_sources
    | file_sources
    | st.builds(PlainTextSource, texts, st.sampled_from(["text/plain", "text/markdown"]))
    | content_sources,
    title=maybe(texts),
    context=maybe(texts),
    citations=maybe(st.builds(Citations, st.booleans())),
    cache_control=caches,
)
tool_use_blocks = st.builds(
    ToolUseBlock,
    nonempty,
    nonempty,
    json_objects,
    caller=maybe(st.just({"type": "direct"})),
    cache_control=caches,
)
raw_blocks = st.builds(
    lambda kind, fields: RawBlock({**fields, "type": kind}),
    st.text(min_size=1, max_size=12).filter(lambda kind: kind not in KNOWN),
    json_objects,
)
tool_result_blocks = st.builds(
    ToolResultBlock,
    nonempty,
    maybe(texts | st.lists(text_blocks | image_blocks | document_blocks | raw_blocks, max_size=3)),
    is_error=maybe(st.booleans()),
    cache_control=caches,
)
thinking_blocks = st.builds(ThinkingBlock, texts, texts)
redacted_blocks = st.builds(RedactedThinkingBlock, nonempty)
blocks = (
    text_blocks
    | image_blocks
    | document_blocks
    | tool_use_blocks
    | tool_result_blocks
    | thinking_blocks
    | redacted_blocks
    | raw_blocks
)
messages = st.builds(
    Message,
    st.sampled_from(["user", "assistant"]),
    nonempty | st.lists(blocks, min_size=1, max_size=4),
)


@SETTINGS
@given(messages)
def test_a_message_decodes_back_to_an_equal_message(message: Message) -> None:
    data = msgspec.json.encode(message)
    back = msgspec.json.decode(data, type=Message)
    assert back == message
    if not isinstance(message.content, str):
        assert [type(b) for b in back.content] == [type(b) for b in message.content]


@SETTINGS
@given(st.lists(messages, min_size=1, max_size=4))
def test_a_history_round_trips_to_the_same_bytes(history: list[Message]) -> None:
    data = msgspec.json.encode(history)
    back = msgspec.json.decode(data, type=list[Message])
    assert back == history
    assert msgspec.json.encode(back) == data


@SETTINGS
@given(blocks)
def test_a_block_is_tagged_and_leaves_out_what_is_unset(block: Any) -> None:
    encoded = json.loads(msgspec.json.encode(block))
    assert isinstance(encoded["type"], str)
    if not isinstance(block, RawBlock):
        fields = block.__struct_fields__
        unset = {name for name in fields if getattr(block, name) is UNSET}
        assert not unset & set(encoded)
        assert set(encoded) - {"type"} == set(fields) - unset
