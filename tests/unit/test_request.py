"""The request side without a network: what is refused before any request (naming the field),
the JSON bodies of /v1/messages and /v1/messages/count_tokens, and the headers of one call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Base64Source,
    CacheControl,
    ImageBlock,
    Message,
    ProviderConfig,
    ProviderError,
    RawBlock,
    RequestOptions,
    TextBlock,
    Thinking,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from provider.request import call_headers, encode_body, encode_count_body

HI = [Message("user", "Hi")]
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def body(options: RequestOptions | None = None, system: Any = "", messages: Any = None) -> Any:
    return json.loads(encode_body("m", 1024, system, HI if messages is None else messages, options))


def count_body(options: RequestOptions | None = None, system: Any = "") -> Any:
    return json.loads(encode_count_body("m", system, HI, options))


# --- refused before any request, naming the field ---------------------------------------------

REFUSED: list[tuple[Callable[[], Any], str]] = [
    # messages and blocks
    (lambda: Message("system", "x"), "role 'system'"),
    (lambda: Message("user", []), "must not be an empty list"),
    (lambda: Message("user", ""), "non-empty string"),
    (lambda: Message("user", [42]), "content (role 'user')[0] is a int, not a content block"),
    (lambda: Message("user", ["Hi"]), "[0] is a str, not a content block"),
    (lambda: Message("user", [{"type": "image"}]), "is not a valid image block"),
    (lambda: CacheControl(ttl="10m"), "cache_control.ttl must be '5m' or '1h'"),
    (lambda: TextBlock(5), "text must be a str"),  # type: ignore[arg-type]
    (lambda: ImageBlock("https://x/y.png"), "image source must be one of"),  # type: ignore[arg-type]
    (lambda: Base64Source("image/png", b"\x89PNG"), "base64 text"),  # type: ignore[arg-type]
    (lambda: ToolUseBlock("id", "f", "{}"), "tool_use.input must be a dict"),  # type: ignore[arg-type]
    (lambda: ToolResultBlock(""), "tool_result.tool_use_id must not be empty"),
    (lambda: RawBlock({"no": "type"}), "string 'type'"),
    # options
    (lambda: RequestOptions(max_tokens=0), "RequestOptions.max_tokens must be an int >= 1, got 0"),
    (lambda: RequestOptions(max_tokens=-5), "RequestOptions.max_tokens must be an int >= 1"),
    (lambda: RequestOptions(max_tokens=True), "RequestOptions.max_tokens must be an int"),
    (lambda: RequestOptions(max_tokens=1.5), "RequestOptions.max_tokens must be an int"),  # type: ignore[arg-type]
    (lambda: RequestOptions(temperature="hot"), "RequestOptions.temperature must be a finite"),  # type: ignore[arg-type]
    (
        lambda: RequestOptions(temperature=float("nan")),
        "RequestOptions.temperature must be a finite",
    ),
    (lambda: RequestOptions(top_p=float("inf")), "RequestOptions.top_p must be a finite number"),
    (lambda: RequestOptions(top_k=2.5), "RequestOptions.top_k must be an int"),  # type: ignore[arg-type]
    (lambda: RequestOptions(stop_sequences="END"), "RequestOptions.stop_sequences must be a list"),
    (lambda: RequestOptions(stop_sequences=[""]), "RequestOptions.stop_sequences[0] must not be"),
    (lambda: RequestOptions(stop_sequences=[1]), "RequestOptions.stop_sequences[0] must be a str"),  # type: ignore[list-item]
    (
        lambda: RequestOptions(tools=[{"name": "x"}]),
        "tools[0] is a dict, not a Tool (the API's own",
    ),  # type: ignore[list-item]
    (lambda: RequestOptions(tools=Tool("x", {})), "RequestOptions.tools must be a list"),  # type: ignore[arg-type]
    (lambda: RequestOptions(server_tools=[Tool("x", {})]), "client tools go in tools"),  # type: ignore[list-item]
    (lambda: RequestOptions(server_tools=[{"name": "x"}]), "server_tools[0] must be a dict with"),
    (lambda: RequestOptions(tool_choice="auto"), "RequestOptions.tool_choice must be a ToolChoice"),  # type: ignore[arg-type]
    (lambda: RequestOptions(thinking=2048), "RequestOptions.thinking must be a Thinking"),  # type: ignore[arg-type]
    (lambda: RequestOptions(user_id=5), "RequestOptions.user_id must be a str"),  # type: ignore[arg-type]
    (lambda: RequestOptions(user_id=""), "RequestOptions.user_id must not be empty"),
    (lambda: RequestOptions(service_tier=1), "RequestOptions.service_tier must be a str"),  # type: ignore[arg-type]
    (lambda: RequestOptions(betas="a,b"), "RequestOptions.betas must be a list"),
    (lambda: RequestOptions(betas=["a,b"]), "RequestOptions.betas[0] must be one beta name"),
    (lambda: RequestOptions(betas=["beta\n"]), "RequestOptions.betas[0] cannot be sent"),
    (lambda: RequestOptions(headers={"bad name": "v"}), "'bad name' is not a valid HTTP header"),
    (lambda: RequestOptions(headers={"x-k": "v\r\n"}), "headers['x-k'] cannot be sent"),
    (lambda: RequestOptions(headers=["x"]), "RequestOptions.headers must be a dict"),  # type: ignore[arg-type]
    (lambda: RequestOptions(extra_body=[("a", 1)]), "RequestOptions.extra_body must be a dict"),  # type: ignore[arg-type]
    (
        lambda: RequestOptions(extra_body={1: 2}),
        "RequestOptions.extra_body must be a dict with str",
    ),  # type: ignore[dict-item]
    # tools, tool choice, thinking
    (lambda: Tool("", SCHEMA), "Tool.name must not be empty"),
    (lambda: Tool("f", "{}"), "Tool 'f' input_schema must be a dict"),  # type: ignore[arg-type]
    (lambda: Tool("f", SCHEMA, description=5), "Tool 'f' description must be a str"),  # type: ignore[arg-type]
    (lambda: Tool("f", SCHEMA, cache_control={"type": "ephemeral"}), "'f' cache_control must be"),  # type: ignore[arg-type]
    (lambda: Tool("f", SCHEMA, strict="yes"), "Tool 'f' strict must be a bool"),  # type: ignore[arg-type]
    (lambda: Tool("f", SCHEMA, input_examples=[1]), "Tool 'f' input_examples[] must be a dict"),  # type: ignore[list-item]
    (lambda: Tool("f", SCHEMA, allowed_callers="direct"), "'f' allowed_callers must be a list"),
    (lambda: ToolChoice("sometimes"), "ToolChoice.type must be 'auto' or 'any'"),  # type: ignore[arg-type]
    (lambda: ToolChoice("tool"), 'ToolChoice("tool") needs the name'),
    (lambda: ToolChoice("tool", name=""), "ToolChoice.name must not be empty"),
    (lambda: ToolChoice("auto", name="f"), 'ToolChoice.name is only for ToolChoice("tool")'),
    (lambda: ToolChoice("none", disable_parallel_tool_use=True), "does not apply"),
    (lambda: ToolChoice("any", disable_parallel_tool_use="y"), "use must be a bool"),  # type: ignore[arg-type]
    (lambda: Thinking(), "Thinking needs budget_tokens"),
    (lambda: Thinking(budget_tokens=0), "Thinking.budget_tokens must be an int >= 1, got 0"),
    (lambda: Thinking(budget_tokens=-1), "Thinking.budget_tokens must be an int >= 1"),
    (lambda: Thinking(budget_tokens=True), "Thinking.budget_tokens must be an int"),
    (lambda: Thinking(type="enabled"), 'Thinking(type="enabled") needs budget_tokens'),
    (lambda: Thinking(budget_tokens=2048, type="adaptive"), 'only for type="enabled"'),
    (lambda: Thinking(type="smart"), "Thinking.type must be 'enabled' or"),  # type: ignore[arg-type]
    (lambda: Thinking(type="disabled", display="omitted"), "Thinking.display does not apply"),
    (lambda: Thinking(budget_tokens=2048, display="full"), "Thinking.display must be"),  # type: ignore[arg-type]
    # the body's arguments
    (lambda: body(messages=[]), "At least one message is required"),
    (lambda: body(messages="Hi"), "messages must be a list of Messages, not str"),
    (lambda: body(messages=Message("user", "Hi")), "messages must be a list of Messages"),
    (lambda: body(messages=[{"role": "user", "content": "Hi"}]), "messages[0] is a dict, not"),
    (lambda: body(system=5), "system_prompt must be a str or a list of TextBlocks, not int"),
    (lambda: body(system=[ImageBlock(Base64Source("image/png", "AA=="))]), "only TextBlocks"),
    (lambda: body(system=[42]), "system_prompt[0] is a int, not a content block"),
    (lambda: body(RequestOptions(extra_body={"x": object()})), "cannot be written as JSON"),
]


@pytest.mark.parametrize(("make", "expected"), REFUSED)
def test_malformed_input_is_refused_naming_the_field(
    make: Callable[[], Any], expected: str
) -> None:
    with pytest.raises(ProviderError) as info:
        make()
    assert expected in str(info.value)


def test_a_refused_header_value_is_not_quoted() -> None:
    with pytest.raises(ProviderError) as info:
        RequestOptions(headers={"x-gateway-key": "secret-value-123\n"})
    assert "secret-value-123" not in str(info.value)


def test_api_rules_are_left_to_the_api() -> None:
    # A budget over max_tokens, a temperature out of range, an odd tier: the API decides.
    options = RequestOptions(
        max_tokens=100,
        thinking=Thinking(budget_tokens=5000),
        temperature=7.5,
        top_k=-3,
        service_tier="platinum",
    )
    sent = body(options)
    assert sent["max_tokens"] == 100
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 5000}
    assert (sent["temperature"], sent["top_k"], sent["service_tier"]) == (7.5, -3, "platinum")


class Counting:
    """A transport that counts requests, answering each with a 500 that would be retried."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(500, json={"type": "error", "error": {"type": "api_error"}})


def provider(transport: Counting) -> AnthropicProvider:
    config = ProviderConfig(
        model_id="claude-opus-4-8", model_info=MODELS["claude-opus-4-8"], api_key="sk-ant-t"
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(transport))
    return AnthropicProvider(config, http_client=client, max_retries=0)


BAD_CALLS: list[tuple[Any, Any, Any, str]] = [
    ("", [], None, "At least one message"),
    (5, HI, None, "system_prompt must be"),
    ("", HI, {"max_tokens": 5}, "options must be a RequestOptions, not dict"),
    ("", [Message("user", "Hi"), "Hi"], None, "messages[1] is a str"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("system", "messages", "options", "expected"), BAD_CALLS)
async def test_bad_arguments_fail_before_any_request(
    system: Any, messages: Any, options: Any, expected: str
) -> None:
    transport = Counting()
    p = provider(transport)
    with pytest.raises(ProviderError, match=expected.replace("[", r"\[")):
        async for _ in p.create_message(system, messages, options=options):
            pass
    with pytest.raises(ProviderError, match=expected.replace("[", r"\[")):
        await p.count_tokens(system, messages, options=options)
    assert transport.calls == 0
    await p._http().aclose()


# --- the body ------------------------------------------------------------------------------


def test_no_options_sends_what_it_always_did() -> None:
    data = encode_body("m", 1024, "Be brief.", HI)
    assert data == (
        b'{"model":"m","max_tokens":1024,"system":"Be brief.",'
        b'"messages":[{"role":"user","content":"Hi"}],"stream":true}'
    )


def test_max_tokens_defaults_to_the_given_default_and_options_override_it() -> None:
    assert body()["max_tokens"] == 1024
    assert body(RequestOptions(max_tokens=7))["max_tokens"] == 7


@pytest.mark.parametrize("empty", ["", [], ()])
def test_an_empty_system_prompt_is_left_out(empty: Any) -> None:
    assert "system" not in body(system=empty)
    assert "system" not in count_body(system=empty)


def test_a_system_prompt_of_text_blocks_carries_cache_control() -> None:
    system = [TextBlock("rules"), TextBlock("long", cache_control=CacheControl(ttl="1h"))]
    assert body(system=system)["system"] == [
        {"type": "text", "text": "rules"},
        {"type": "text", "text": "long", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]


def test_every_option_has_its_api_name_and_shape() -> None:
    options = RequestOptions(
        max_tokens=512,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END", "STOP"],
        tools=[
            Tool(
                "get_weather",
                SCHEMA,
                description="Weather for a city",
                cache_control=CacheControl(),
                strict=True,
            )
        ],
        server_tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        tool_choice=ToolChoice("tool", name="get_weather", disable_parallel_tool_use=True),
        thinking=Thinking(budget_tokens=2048, display="omitted"),
        user_id="u-123",
        service_tier="auto",
    )
    sent = body(options)
    assert sent == {
        "model": "m",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [
            {
                "name": "get_weather",
                "input_schema": SCHEMA,
                "description": "Weather for a city",
                "cache_control": {"type": "ephemeral"},
                "strict": True,
            },
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
        "metadata": {"user_id": "u-123"},
        "service_tier": "auto",
        "stop_sequences": ["END", "STOP"],
        "temperature": 0.2,
        "top_k": 40,
        "top_p": 0.9,
        "stream": True,
    }


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (Thinking(budget_tokens=1024), {"type": "enabled", "budget_tokens": 1024}),
        (Thinking(1024, type="enabled"), {"type": "enabled", "budget_tokens": 1024}),
        (Thinking(type="adaptive"), {"type": "adaptive"}),
        (
            Thinking(type="adaptive", display="summarized"),
            {"type": "adaptive", "display": "summarized"},
        ),
        (Thinking(type="disabled"), {"type": "disabled"}),
        (Thinking(type="between_tools"), {"type": "between_tools"}),
    ],
)
def test_thinking_kinds(thinking: Thinking, expected: dict[str, Any]) -> None:
    assert body(RequestOptions(thinking=thinking))["thinking"] == expected


@pytest.mark.parametrize("kind", ["auto", "any", "none"])
def test_tool_choice_kinds(kind: Any) -> None:
    assert body(RequestOptions(tool_choice=ToolChoice(kind)))["tool_choice"] == {"type": kind}


def test_extra_body_is_merged_last_and_wins() -> None:
    options = RequestOptions(
        max_tokens=10,
        extra_body={"output_config": {"effort": "low"}, "max_tokens": 99, "stream": True},
    )
    sent = body(options)
    assert sent["output_config"] == {"effort": "low"}
    assert sent["max_tokens"] == 99
    assert count_body(options)["output_config"] == {"effort": "low"}


def test_the_count_body_has_only_what_that_endpoint_takes() -> None:
    options = RequestOptions(
        max_tokens=10,
        temperature=0.5,
        top_p=0.5,
        top_k=5,
        stop_sequences=["X"],
        tools=[Tool("f", SCHEMA)],
        server_tools=[{"type": "bash_20250124", "name": "bash"}],
        tool_choice=ToolChoice("any"),
        thinking=Thinking(type="adaptive"),
        user_id="u",
        service_tier="auto",
    )
    sent = count_body(options, system="S")
    assert sent == {
        "model": "m",
        "system": "S",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [
            {"name": "f", "input_schema": SCHEMA},
            {"type": "bash_20250124", "name": "bash"},
        ],
        "tool_choice": {"type": "any"},
        "thinking": {"type": "adaptive"},
    }


def test_options_are_frozen_and_do_not_follow_the_callers_lists() -> None:
    stops, tools = ["END"], [Tool("f", SCHEMA)]
    options = RequestOptions(stop_sequences=stops, tools=tools)
    first = body(options)
    stops.append("MORE")
    tools.clear()
    assert body(options) == first
    with pytest.raises(AttributeError):
        options.max_tokens = 5  # type: ignore[misc]


def test_a_conversation_with_tools_goes_back_as_it_came() -> None:
    history = [
        Message("user", "Weather in Paris?"),
        Message("assistant", [ToolUseBlock("toolu_1", "get_weather", {"city": "Paris"})]),
        Message("user", [ToolResultBlock("toolu_1", "18C", is_error=False)]),
    ]
    assert body(messages=history)["messages"] == json.loads(msgspec.json.encode(history))


def test_options_repr_masks_header_values_and_shows_only_what_is_set() -> None:
    options = RequestOptions(temperature=0.1, headers={"x-gateway-key": "gw-secret-123456"})
    for text in (repr(options), str(options)):
        assert "gw-secret-123456" not in text
        assert "x-gateway-key" in text
        assert "temperature=0.1" in text
        assert "top_k" not in text


# --- headers -------------------------------------------------------------------------------

BASE = {"x-api-key": "k", "anthropic-version": "2023-06-01", "anthropic-beta": "a, b"}


def test_betas_join_the_configs_in_one_header_each_once() -> None:
    options = RequestOptions(betas=["c", "a"], headers={"Anthropic-Beta": "d,b"})
    assert call_headers(BASE, options)["anthropic-beta"] == "a,b,d,c"


def test_betas_without_a_config_beta() -> None:
    headers = call_headers({"x-api-key": "k"}, RequestOptions(betas=["files-api-2025-04-14"]))
    assert headers["anthropic-beta"] == "files-api-2025-04-14"


def test_no_betas_no_header() -> None:
    assert "anthropic-beta" not in call_headers({"x-api-key": "k"}, RequestOptions())


def test_call_headers_add_and_override_without_touching_the_providers() -> None:
    base = dict(BASE)
    options = RequestOptions(headers={"X-Trace": "t1", "Anthropic-Version": "2026-10-21"})
    headers = call_headers(base, options)
    assert headers["x-trace"] == "t1"
    assert headers["anthropic-version"] == "2026-10-21"
    assert base == BASE


# --- the contract's own example (DESIGN.md, "Conversations") ---------------------------------

REQUEST_NAMES = [
    *("Message", "TextBlock", "ImageBlock", "DocumentBlock", "ToolUseBlock", "ToolResultBlock"),
    *("ThinkingBlock", "RedactedThinkingBlock", "RawBlock", "Base64Source", "URLSource"),
    *("PlainTextSource", "CacheControl", "RequestOptions", "Tool", "ToolChoice", "Thinking"),
]


@pytest.mark.parametrize("name", REQUEST_NAMES)
def test_request_side_names_are_exported(name: str) -> None:
    import provider as package

    assert name in package.__all__
    assert getattr(package, name) is not None


@pytest.mark.anyio
async def test_the_contracts_example_runs_as_written() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/count_tokens"):
            return httpx.Response(200, json={"input_tokens": 12})
        return httpx.Response(400, json={"type": "error", "error": {"message": "stop here"}})

    b64 = Base64Source.from_bytes("image/png", b"\x89PNG").data
    messages = [
        Message("user", "Hi"),
        Message(
            "user",
            [TextBlock("What is in this picture?"), ImageBlock(Base64Source("image/png", b64))],
        ),
    ]
    system = [TextBlock("long prompt", cache_control=CacheControl(ttl="1h"))]
    options = RequestOptions(
        max_tokens=1024, temperature=0.2, top_p=None, top_k=None, stop_sequences=["END"],
        tools=[Tool("get_weather", {"type": "object", "properties": {}}, description="...")],
        server_tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        tool_choice=ToolChoice("auto"), thinking=Thinking(budget_tokens=2048),
        user_id="u-123", service_tier=None, betas=["b1"], headers={"x-h": "v"}, extra_body={"e": 1},
    )  # fmt: skip
    config = ProviderConfig(
        model_id="claude-opus-4-8", model_info=MODELS["claude-opus-4-8"], api_key="sk-ant-t"
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with AnthropicProvider(config, http_client=client, max_retries=0) as p:
        assert await p.count_tokens(system, messages, options=options) == 12
        with pytest.raises(ProviderError, match="stop here"):
            async for _ in p.create_message(system, messages, options=options):
                pass
    await client.aclose()
    count, create = (json.loads(r.content) for r in sent)
    assert create["tools"][1]["type"] == "web_search_20250305"
    assert create["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert create["messages"][1]["content"][1]["source"]["data"] == b64
    assert (create["e"], count["e"]) == (1, 1)
    assert sent[0].headers["anthropic-beta"] == sent[1].headers["anthropic-beta"] == "b1"


@pytest.mark.anyio
async def test_complete_sends_the_options_too() -> None:
    sent: list[httpx.Request] = []
    stream = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
        b'"type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
        b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    )

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    config = ProviderConfig(
        model_id="claude-opus-4-8", model_info=MODELS["claude-opus-4-8"], api_key="sk-ant-t"
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    options = RequestOptions(temperature=0.5, betas=["b1"])
    async with AnthropicProvider(config, http_client=client, max_retries=0) as p:
        turn = await p.complete([TextBlock("sys")], HI, options=options)
    await client.aclose()
    assert turn.stop_reason == "end_turn"
    [request] = sent
    assert json.loads(request.content)["temperature"] == 0.5
    assert request.headers["anthropic-beta"] == "b1"
