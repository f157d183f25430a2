"""Wire-event decoding: each kind, unknown kinds skipped, bad data quoted."""

from __future__ import annotations

import json

import pytest

from provider.errors import ProviderError
from provider.stream import (
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    decode_event,
)

MESSAGE_START = (
    b'{"type":"message_start","message":{"model":"claude-haiku-4-5-20251001",'
    b'"id":"msg_01","type":"message","role":"assistant","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":598,"cache_creation_input_tokens":10,'
    b'"cache_read_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":4,'
    b'"ephemeral_1h_input_tokens":6},"output_tokens":8,"service_tier":"standard"}}}'
)


def test_message_start() -> None:
    event = decode_event("message_start", MESSAGE_START)
    assert isinstance(event, MessageStart)
    message = event.message
    assert (message.id, message.model, message.role) == (
        "msg_01",
        "claude-haiku-4-5-20251001",
        "assistant",
    )
    usage = message.usage
    assert usage is not None
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_read_input_tokens,
    ) == (598, 8, 10, 20)
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_1h_input_tokens == 6
    assert usage.cache_creation.ephemeral_5m_input_tokens == 4


def test_absent_and_null_usage_fields_are_none() -> None:
    data = b'{"type":"message_start","message":{"usage":{"input_tokens":null,"output_tokens":3}}}'
    event = decode_event("message_start", data)
    assert isinstance(event, MessageStart)
    assert event.message.usage is not None
    assert event.message.usage.input_tokens is None
    assert event.message.usage.output_tokens == 3
    assert event.message.usage.cache_read_input_tokens is None
    assert event.message.usage.cache_creation is None


@pytest.mark.parametrize(
    ("block", "fields"),
    [
        (b'{"type":"text","text":""}', {"type": "text", "text": ""}),
        (b'{"type":"thinking","thinking":"","signature":""}', {"type": "thinking"}),
        (b'{"type":"redacted_thinking","data":"EmwKAhgBEgy3"}', {"type": "redacted_thinking"}),
        (
            b'{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{},'
            b'"caller":{"type":"direct"}}',
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
        ),
        (
            b'{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}',
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
        ),
        (
            b'{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}',
            {"type": "web_search_tool_result"},
        ),
        (b'{"type":"a_block_from_2030","whatever":[1,2,3]}', {"type": "a_block_from_2030"}),
    ],
)
def test_content_block_start_of_every_kind(block: bytes, fields: dict[str, object]) -> None:
    data = b'{"type":"content_block_start","index":2,"content_block":' + block + b"}"
    event = decode_event("content_block_start", data)
    assert isinstance(event, ContentBlockStart)
    assert event.index == 2
    for name, value in fields.items():
        assert event.content_block[name] == value
    # The whole block is kept, so kinds not named here can be handed on as they came.
    assert event.content_block == json.loads(block)


@pytest.mark.parametrize(
    ("delta", "fields"),
    [
        (b'{"type":"text_delta","text":"Hi"}', {"type": "text_delta", "text": "Hi"}),
        (
            b'{"type":"input_json_delta","partial_json":"{\\"a\\":"}',
            {"type": "input_json_delta", "partial_json": '{"a":'},
        ),
        (
            b'{"type":"thinking_delta","thinking":"Hmm"}',
            {"type": "thinking_delta", "thinking": "Hmm"},
        ),
        (b'{"type":"signature_delta","signature":"EoQDCm0"}', {"type": "signature_delta"}),
        (
            b'{"type":"citations_delta","citation":{"type":"web_search_result_location",'
            b'"url":"https://example.com","cited_text":"x"}}',
            {"type": "citations_delta", "text": None},
        ),
        (b'{"type":"hologram_delta","pixels":[1]}', {"type": "hologram_delta"}),
    ],
)
def test_content_block_delta_of_every_kind(delta: bytes, fields: dict[str, object]) -> None:
    data = b'{"type":"content_block_delta","index":0,"delta":' + delta + b"}"
    event = decode_event("content_block_delta", data)
    assert isinstance(event, ContentBlockDelta)
    assert event.index == 0
    for name, value in fields.items():
        assert getattr(event.delta, name) == value


def test_content_block_stop() -> None:
    event = decode_event("content_block_stop", b'{"type":"content_block_stop","index":1  }')
    assert event == ContentBlockStop(index=1)


def test_message_delta() -> None:
    data = (
        b'{"type":"message_delta","delta":{"stop_reason":"stop_sequence",'
        b'"stop_sequence":"END","stop_details":null},"usage":{"output_tokens":92,'
        b'"output_tokens_details":{"thinking_tokens":53}}}'
    )
    event = decode_event("message_delta", data)
    assert isinstance(event, MessageDelta)
    assert event.delta.stop_reason == "stop_sequence"
    assert event.delta.stop_sequence == "END"
    assert event.usage is not None
    assert event.usage.output_tokens == 92
    assert event.usage.input_tokens is None


def test_message_stop() -> None:
    assert isinstance(decode_event("message_stop", b'{"type":"message_stop"    }'), MessageStop)


def test_error() -> None:
    data = (
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
        b'"request_id":"req_011"}'
    )
    event = decode_event("error", data)
    assert isinstance(event, ErrorEvent)
    assert (event.error.type, event.error.message, event.request_id) == (
        "overloaded_error",
        "Overloaded",
        "req_011",
    )


def test_ping_and_unknown_events_are_skipped() -> None:
    assert decode_event("ping", b'{"type": "ping"}') is None
    # Not even decoded: a kind we do not know may carry anything.
    assert decode_event("ping", b"not json") is None
    assert decode_event("message_annotation", b'{"type":"message_annotation"}') is None
    assert decode_event("something_new", b"<<binary>>") is None


def test_str_data_decodes_like_bytes() -> None:
    data = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"é"}}'
    assert decode_event("content_block_delta", data) == decode_event(
        "content_block_delta", data.encode()
    )


class TestDataOnlyEvents:
    """A gateway that sends no ``event:`` line: the SSE name is "message"; ``type`` decides."""

    def test_known_types_decode_as_if_named(self) -> None:
        for name, data in [
            ("message_start", MESSAGE_START),
            ("content_block_stop", b'{"type":"content_block_stop","index":3}'),
            ("message_stop", b'{"type":"message_stop"}'),
            ("error", b'{"type":"error","error":{"type":"api_error","message":"boom"}}'),
        ]:
            event = decode_event("message", data)
            assert event is not None
            assert event == decode_event(name, data)

    def test_ping_unknown_and_untyped_data_are_skipped(self) -> None:
        assert decode_event("message", b'{"type":"ping"}') is None
        assert decode_event("message", b'{"type":"brand_new"}') is None
        assert decode_event("message", b'{"no_type":1}') is None
        assert decode_event("message", b'{"type":7}') is None

    def test_invalid_json_raises(self) -> None:
        with pytest.raises(ProviderError, match=r"invalid message event .*'\[DONE\]'"):
            decode_event("message", b"[DONE]")


def test_unknown_fields_are_ignored_everywhere() -> None:
    data = (
        b'{"type":"content_block_delta","index":0,"new_top":{"x":1},'
        b'"delta":{"type":"text_delta","text":"ok","new_field":[null]}}'
    )
    event = decode_event("content_block_delta", data)
    assert isinstance(event, ContentBlockDelta)
    assert event.delta.text == "ok"


def test_invalid_json_raises_quoting_the_event_and_the_data() -> None:
    data = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"oops'
    with pytest.raises(ProviderError) as caught:
        decode_event("content_block_delta", data)
    message = str(caught.value)
    assert "content_block_delta" in message
    assert '"text":"oops' in message
    assert caught.value.__cause__ is not None


def test_the_quote_is_only_the_start_of_the_data() -> None:
    data = b'{"type":"message_stop","padding":"' + b"p" * 500 + b'"'
    with pytest.raises(ProviderError) as caught:
        decode_event("message_stop", data)
    message = str(caught.value)
    assert "p" * 60 in message
    assert "p" * 101 not in message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("content_block_delta", b'{"index":"zero","delta":{"type":"text_delta","text":"x"}}'),
        ("content_block_delta", b'{"index":0}'),
        ("content_block_start", b'{"index":0,"content_block":{"text":"no type"}}'),
        ("content_block_stop", b"[]"),
        ("message_start", b'{"message":{"usage":{"input_tokens":"many"}}}'),
        ("message_delta", b'{"delta":{"stop_reason":42}}'),
        ("message_start", b"{}"),
    ],
)
def test_json_of_the_wrong_shape_raises(name: str, data: bytes) -> None:
    with pytest.raises(ProviderError, match=name):
        decode_event(name, data)


def test_invalid_utf8_in_a_string_is_a_provider_error() -> None:
    # msgspec reports this one as UnicodeDecodeError, not DecodeError.
    data = b'{"index":0,"delta":{"type":"text_delta","text":"\xff\xfe"}}'
    with pytest.raises(ProviderError, match="content_block_delta"):
        decode_event("content_block_delta", data)
    with pytest.raises(ProviderError, match="message"):
        decode_event("message", b'{"type":"\xff"}')
