"""Message validation, the chunk Structs, and the camelCase JSON of ModelInfo / ProviderConfig."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from provider import (
    Message,
    MessageStreamChunk,
    ModelInfo,
    ModelsConfig,
    ProviderConfig,
    ProviderError,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
    UsageChunk,
)
from provider.content import TextBlock
from provider.types import ModelConfig

# Shaped like a real key so that a leak is recognisable; it is not one.
FAKE_KEY = "sk-ant-api03-TESTONLY0123456789abcdefXYZ_-AA"

# ---------------------------------------------------------------------------------------------
# Message


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_message_accepts_the_two_roles(role: str) -> None:
    message = Message(role=role, content="Hi")  # type: ignore[arg-type]
    assert (message.role, message.content) == (role, "Hi")


@pytest.mark.parametrize("role", ["system", "User", "ASSISTANT", "", "tool", None, 1])
def test_message_rejects_a_bad_role(role: Any) -> None:
    with pytest.raises(ProviderError) as info:
        Message(role=role, content="Hi")
    text = str(info.value)
    assert "role" in text
    assert repr(role) in text  # names the offending value
    assert "'user'" in text and "'assistant'" in text  # and what is allowed


def test_message_rejects_empty_content() -> None:
    with pytest.raises(ProviderError) as info:
        Message(role="user", content="")
    text = str(info.value)
    assert "content" in text
    assert "non-empty" in text


@pytest.mark.parametrize("content", [None, 1, b"Hi", {"text": "Hi"}])
def test_message_rejects_non_str_content(content: Any) -> None:
    with pytest.raises(ProviderError) as info:
        Message(role="assistant", content=content)
    text = str(info.value)
    assert "content" in text
    assert "string" in text
    assert "'assistant'" in text  # says which message


def test_message_rejects_a_list_item_that_is_not_a_block() -> None:
    with pytest.raises(ProviderError, match=r"\(role 'user'\)\[1\] is a str, not a content block"):
        Message(role="user", content=[TextBlock("a"), "Hi"])  # type: ignore[list-item]


def test_message_validation_also_runs_when_decoding() -> None:
    with pytest.raises(ProviderError, match="content"):
        msgspec.json.decode(b'{"role": "user", "content": ""}', type=Message)
    decoded = msgspec.json.decode(b'{"role": "user", "content": "Hi"}', type=Message)
    assert decoded == Message(role="user", content="Hi")


def test_message_is_immutable_and_comparable() -> None:
    message = Message(role="user", content="Hi")
    with pytest.raises(AttributeError):
        message.content = "changed"  # type: ignore[misc]
    assert message == Message(role="user", content="Hi")
    assert message != Message(role="assistant", content="Hi")
    assert message != Message(role="user", content="Hi!")
    assert len({message, Message(role="user", content="Hi")}) == 1


# ---------------------------------------------------------------------------------------------
# Chunks

CHUNKS: list[tuple[Any, str]] = [
    (TextChunk(text="Hello"), "text"),
    (ThinkingChunk(thinking="Let me see"), "thinking"),
    (
        UsageChunk(
            input_tokens=1,
            output_tokens=2,
            cache_write_tokens=3,
            cache_read_tokens=4,
            cache_write_1h_tokens=1,
        ),
        "usage",
    ),
    (ToolUseChunk(id="toolu_01", name="get_weather", input={"city": "Paris"}), "tool_use"),
    (StopChunk(stop_reason="end_turn", stop_sequence=None), "stop"),
]
CHUNK_IDS = [expected for _, expected in CHUNKS]


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunk_type_string(chunk: Any, expected: str) -> None:
    assert chunk.type == expected


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunk_type_appears_in_the_builtin_form(chunk: Any, expected: str) -> None:
    # Consumers that serialise chunks (logs, JSON lines) must be able to tell them apart.
    assert msgspec.to_builtins(chunk)["type"] == expected


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunks_are_immutable(chunk: Any, expected: str) -> None:
    field = msgspec.structs.fields(chunk)[0].name
    with pytest.raises(AttributeError):
        setattr(chunk, field, None)
    with pytest.raises(AttributeError):
        chunk.type = "other"


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunks_compare_by_value(chunk: Any, expected: str) -> None:
    twin = copy.deepcopy(chunk)
    assert twin is not chunk
    assert twin == chunk
    first = msgspec.structs.fields(chunk)[0].name
    changed = msgspec.structs.replace(chunk, **{first: _other(getattr(chunk, first))})
    assert changed != chunk


def _other(value: Any) -> Any:
    if isinstance(value, str):
        return value + "!"
    if isinstance(value, int):
        return value + 1
    return None


def test_chunks_of_different_kinds_with_the_same_payload_differ() -> None:
    text: object = TextChunk(text="x")
    assert text != ThinkingChunk(thinking="x")
    assert text != StopChunk(stop_reason="x")


def test_scalar_chunks_are_hashable() -> None:
    chunks = {TextChunk(text="a"), TextChunk(text="a"), UsageChunk(output_tokens=1), UsageChunk()}
    assert len(chunks) == 3


def test_usage_chunk_defaults_to_zero() -> None:
    usage = UsageChunk()
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_write_tokens,
        usage.cache_read_tokens,
        usage.cache_write_1h_tokens,
    ) == (0, 0, 0, 0, 0)
    assert UsageChunk() == UsageChunk(0, 0, 0, 0, 0)


def test_stop_chunk_sequence_defaults_to_none() -> None:
    assert StopChunk(stop_reason="max_tokens").stop_sequence is None
    assert StopChunk(stop_reason=None).stop_reason is None


def test_tool_use_chunk_keeps_the_parsed_input() -> None:
    chunk = ToolUseChunk(id="toolu_01", name="f", input={"a": [1, 2], "b": {"c": None}})
    assert chunk.input == {"a": [1, 2], "b": {"c": None}}
    assert chunk == ToolUseChunk(id="toolu_01", name="f", input={"a": [1, 2], "b": {"c": None}})
    assert chunk != ToolUseChunk(id="toolu_01", name="f", input={"a": [1, 2]})


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunk_type_cannot_be_overridden(chunk: Any, expected: str) -> None:
    # DESIGN: the type is a constant. As a field with a default, TextChunk(text=..., type="usage")
    # would build a text chunk that claims to be usage.
    fields = msgspec.structs.asdict(chunk)
    with pytest.raises(TypeError):
        type(chunk)(**fields, type="other")
    assert "type" not in fields


@pytest.mark.parametrize(("chunk", "expected"), CHUNKS, ids=CHUNK_IDS)
def test_chunk_union_round_trips_through_json(chunk: Any, expected: str) -> None:
    encoded = msgspec.json.encode(chunk)
    assert msgspec.json.decode(encoded)["type"] == expected
    back = msgspec.json.decode(encoded, type=MessageStreamChunk)
    assert type(back) is type(chunk)
    assert back == chunk


# ---------------------------------------------------------------------------------------------
# ProviderConfig never shows the key


def _config(api_key: str | None = FAKE_KEY) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=ModelInfo(max_tokens=1024, input_price=3.0),
        api_key=api_key,
        base_url="https://gateway.example/v1",
    )


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda c: f"{c}",
        lambda c: f"{c!r}",
        lambda c: "%s %r" % (c, c),  # noqa: UP031 - old-style formatting must be covered too
        format,
    ],
    ids=["repr", "str", "fstring", "fstring-r", "percent", "format"],
)
def test_provider_config_text_forms_hide_the_key(render: Any) -> None:
    text = render(_config())
    assert FAKE_KEY not in text
    assert "TESTONLY" not in text  # not even a fragment
    assert "***" in text  # but says that a key is set
    assert "claude-sonnet-4-5" in text  # and still shows the rest
    assert "https://gateway.example/v1" in text


def test_provider_config_without_key_shows_that_none_is_set() -> None:
    text = repr(_config(api_key=None))
    assert "api_key=None" in text
    assert "***" not in text


def test_provider_config_rich_repr_hides_the_key() -> None:
    fields = dict(_config().__rich_repr__())
    assert fields["api_key"] == "***"
    assert FAKE_KEY not in repr(list(_config().__rich_repr__()))
    assert fields["model_id"] == "claude-sonnet-4-5"
    assert dict(_config(api_key=None).__rich_repr__())["api_key"] is None


def test_containers_of_provider_config_hide_the_key() -> None:
    entry = ModelConfig(provider_config=_config())
    models = ModelsConfig(active="main", models={"main": entry})
    for text in (repr(entry), repr(models), str(models), repr([_config()]), repr({"c": _config()})):
        assert FAKE_KEY not in text
        assert "***" in text


def test_pytest_assertion_diff_hides_the_key() -> None:
    left, right = _config(), _config(api_key=FAKE_KEY + "2")
    with pytest.raises(AssertionError) as info:
        assert left == right
    assert "TESTONLY" not in str(info.value)


def test_provider_config_still_holds_the_key() -> None:
    # Masking is for display only: the provider needs the real value.
    assert _config().api_key == FAKE_KEY


# ---------------------------------------------------------------------------------------------
# camelCase JSON round trip

FULL_INFO = ModelInfo(
    max_tokens=64000,
    context_window=200000,
    supports_images=True,
    supports_prompt_cache=True,
    input_price=3.0,
    output_price=15.0,
    cache_writes_price=3.75,
    cache_reads_price=0.3,
    cache_writes_1h_price=6.0,
    description="Claude Sonnet 4.5",
)


def test_model_info_json_uses_camel_case() -> None:
    document = msgspec.json.decode(msgspec.json.encode(FULL_INFO))
    assert {
        "maxTokens",
        "contextWindow",
        "supportsImages",
        "supportsPromptCache",
        "inputPrice",
        "outputPrice",
        "cacheWritesPrice",
        "cacheReadsPrice",
        "cacheWrites1hPrice",
        "description",
    } <= set(document)
    assert not any("_" in key for key in document)
    assert document["maxTokens"] == 64000
    assert document["cacheReadsPrice"] == 0.3


def test_model_info_round_trips() -> None:
    assert msgspec.json.decode(msgspec.json.encode(FULL_INFO), type=ModelInfo) == FULL_INFO
    sparse = ModelInfo(input_price=1.0)
    assert msgspec.json.decode(msgspec.json.encode(sparse)) == {"inputPrice": 1.0}
    assert msgspec.json.decode(msgspec.json.encode(sparse), type=ModelInfo) == sparse


def test_model_info_decodes_the_typescript_form() -> None:
    raw = (
        b'{"maxTokens": 8192, "contextWindow": 200000, "supportsImages": true,'
        b' "supportsPromptCache": true, "inputPrice": 0.8, "outputPrice": 4,'
        b' "cacheWritesPrice": 1, "cacheReadsPrice": 0.08, "description": "Haiku 3.5"}'
    )
    info = msgspec.json.decode(raw, type=ModelInfo)
    assert info.max_tokens == 8192
    assert info.context_window == 200000
    assert info.supports_images is True
    assert info.supports_prompt_cache is True
    assert (info.input_price, info.output_price) == (0.8, 4.0)
    assert (info.cache_writes_price, info.cache_reads_price) == (1.0, 0.08)
    assert info.cache_writes_1h_price is None


def test_provider_config_round_trips_in_camel_case() -> None:
    config = ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=FULL_INFO,
        api_key=FAKE_KEY,
        base_url="https://gateway.example",
    )
    encoded = msgspec.json.encode(config)
    document = msgspec.json.decode(encoded)
    assert set(document) == {"modelId", "modelInfo", "apiKey", "baseUrl"}
    assert document["modelId"] == "claude-sonnet-4-5"
    assert document["modelInfo"]["inputPrice"] == 3.0
    back = msgspec.json.decode(encoded, type=ProviderConfig)
    assert back == config
    assert back.model_info == FULL_INFO
    assert back.api_key == FAKE_KEY


def test_provider_config_omits_unset_fields() -> None:
    document = msgspec.json.decode(msgspec.json.encode(ProviderConfig(model_id="m")))
    assert document == {"modelId": "m"}


def test_model_info_one_hour_price_key_is_spelled_like_typescript() -> None:
    # rename="camel" alone would spell it "cacheWrites1HPrice", and the TypeScript key
    # "cacheWrites1hPrice" would then be silently ignored as an unknown field.
    info = msgspec.json.decode(b'{"cacheWrites1hPrice": 6}', type=ModelInfo)
    assert info.cache_writes_1h_price == 6.0
    encoded = msgspec.json.decode(msgspec.json.encode(ModelInfo(cache_writes_1h_price=6.0)))
    assert encoded == {"cacheWrites1hPrice": 6.0}
