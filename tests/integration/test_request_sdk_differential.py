"""The request this library sends equals the one the official SDK sends for the same parameters.

A seeded generator makes each case twice: once as this library's objects (``Message``, blocks,
``RequestOptions``) and once as the SDK's documented parameters (plain dicts, written here
from the SDK's TypedDicts, not from our encoder). Both requests are captured by mock
transports (httpx for us, httpx2 for the SDK) and compared as parsed JSON, with the path and
the headers that carry meaning.

What the SDK takes as its own keyword arguments but ``RequestOptions`` does not name
(``output_config``, ``speed``, ``inference_geo``, ``container``, the top-level
``cache_control``) goes through our ``extra_body``; what the SDK no longer names
(``temperature``, ``top_p``, ``top_k``) goes through the SDK's ``extra_body``.
"""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from msgspec import UNSET

from provider import (
    MODELS,
    AnthropicProvider,
    Base64Source,
    CacheControl,
    Citations,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    PlainTextSource,
    ProviderConfig,
    RawBlock,
    RedactedThinkingBlock,
    RequestOptions,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)

pytestmark = pytest.mark.anyio

MODEL = "claude-opus-4-8"
INFO = MODELS[MODEL]
KEY = "sk-ant-differential-test-key"
MESSAGE_CASES = 300
COUNT_CASES = 150
STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
    b'"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
)
# Headers whose value the two must agree on. Not compared: the credential header and
# anthropic-version (this SDK sends a Bearer token and a newer version by default, where this
# library keeps x-api-key and 2023-06-01, as documented), and the SDK's own x-stainless-*.
COMPARED_HEADERS = ("content-type", "anthropic-beta")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the transport is not what is compared here


Pair = tuple[Any, Any]  # (ours, the SDK's)
seen: Counter[str] = Counter()


# --- the generator: every function returns (our object, the SDK's parameter) ------------


PIECES = [
    "Hi",
    "what is in this picture?",
    'quotes " and \\ backslash',
    "tab\tnew\nline\r",
    "émoji 🚀 ünïcode",
    "中文",
    "\u2028\u0085",
    "nul\x00ctl\x1f",
    "</script>",
    "",
]


def text(r: random.Random, *, empty_ok: bool = True) -> str:
    out = "".join(r.choice(PIECES) for _ in range(r.randint(0, 3)))
    if not out and not empty_ok:
        return "x"
    return out


def ident(r: random.Random, prefix: str) -> str:
    return prefix + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(12))


def json_value(r: random.Random, depth: int = 0) -> Any:
    kind = r.randrange(7 if depth < 2 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return r.choice([True, False])
    if kind == 2:
        return r.randint(-(2**53), 2**53)
    if kind == 3:
        return r.choice([0.5, -1.25, 3.141592653589793, 1e-7, 12345.678])
    if kind == 4:
        return text(r)
    if kind == 5:
        return [json_value(r, depth + 1) for _ in range(r.randint(0, 3))]
    return {text(r) or "k": json_value(r, depth + 1) for _ in range(r.randint(0, 3))}


def json_object(r: random.Random) -> dict[str, Any]:
    return {ident(r, "k"): json_value(r, 1) for _ in range(r.randint(0, 3))}


def cache(r: random.Random) -> Pair:
    ttl = r.choice([None, None, None, "", "5m", "1h"])
    if ttl is None:
        return UNSET, None
    seen["cache_control"] += 1
    if not ttl:
        return CacheControl(), {"type": "ephemeral"}
    return CacheControl(ttl=ttl), {"type": "ephemeral", "ttl": ttl}


def add(sdk: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    if value is not None:
        sdk[key] = value
    return sdk


def text_block(r: random.Random, *, citations: bool = False) -> Pair:
    seen["text"] += 1
    body = text(r)
    ours_cache, sdk_cache = cache(r)
    sdk = add({"type": "text", "text": body}, "cache_control", sdk_cache)
    if citations and r.random() < 0.3:
        cites = [
            {
                "type": "char_location",
                "cited_text": text(r),
                "document_index": 0,
                "document_title": None,
                "start_char_index": 0,
                "end_char_index": 5,
            }
        ]
        sdk["citations"] = cites
        return TextBlock(body, citations=cites, cache_control=ours_cache), sdk
    return TextBlock(body, cache_control=ours_cache), sdk


def b64(r: random.Random) -> str:
    return Base64Source.from_bytes("x", r.randbytes(r.randint(1, 40))).data


def image_block(r: random.Random) -> Pair:
    seen["image"] += 1
    kind = r.choice(["base64", "url", "file"])
    seen[f"image.{kind}"] += 1
    if kind == "base64":
        media, data = r.choice(["image/png", "image/jpeg", "image/gif", "image/webp"]), b64(r)
        source: Pair = (
            Base64Source(media, data),
            {"type": "base64", "media_type": media, "data": data},
        )
    elif kind == "url":
        url = f"https://example.com/{ident(r, 'img')}.png"
        source = URLSource(url), {"type": "url", "url": url}
    else:
        file_id = ident(r, "file_")
        source = FileSource(file_id), {"type": "file", "file_id": file_id}
    ours_cache, sdk_cache = cache(r)
    sdk = add({"type": "image", "source": source[1]}, "cache_control", sdk_cache)
    return ImageBlock(source[0], cache_control=ours_cache), sdk


def document_block(r: random.Random) -> Pair:
    seen["document"] += 1
    kind = r.choice(["base64", "url", "text", "content", "file"])
    seen[f"document.{kind}"] += 1
    if kind == "base64":
        data = b64(r)
        source: Pair = (
            Base64Source("application/pdf", data),
            {"type": "base64", "media_type": "application/pdf", "data": data},
        )
    elif kind == "url":
        url = f"https://example.com/{ident(r, 'doc')}.pdf"
        source = URLSource(url), {"type": "url", "url": url}
    elif kind == "text":
        data = text(r)
        source = (
            PlainTextSource(data),
            {"type": "text", "media_type": "text/plain", "data": data},
        )
    elif kind == "content":
        if r.random() < 0.3:
            body = text(r, empty_ok=False)
            source = ContentSource(body), {"type": "content", "content": body}
        else:
            parts = [
                text_block(r) if r.random() < 0.7 else image_block(r)
                for _ in range(r.randint(1, 3))
            ]
            source = (
                ContentSource([p[0] for p in parts]),
                {"type": "content", "content": [p[1] for p in parts]},
            )
    else:
        file_id = ident(r, "file_")
        source = FileSource(file_id), {"type": "file", "file_id": file_id}
    fields: dict[str, Any] = {}
    if r.random() < 0.4:
        fields["title"] = text(r)
    if r.random() < 0.3:
        fields["context"] = text(r)
    sdk = {"type": "document", "source": source[1], **fields}
    if r.random() < 0.4:
        enabled = r.random() < 0.8
        fields["citations"] = Citations(enabled)
        sdk["citations"] = {"enabled": enabled}
    ours_cache, sdk_cache = cache(r)
    add(sdk, "cache_control", sdk_cache)
    return DocumentBlock(source[0], **fields, cache_control=ours_cache), sdk


def tool_use_block(r: random.Random) -> Pair:
    seen["tool_use"] += 1
    tool_id, name, tool_input = ident(r, "toolu_"), ident(r, "tool_"), json_object(r)
    sdk: dict[str, Any] = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
    caller: Any = UNSET
    if r.random() < 0.2:
        caller = r.choice(
            [{"type": "direct"}, {"type": "code_execution_20250825", "tool_id": ident(r, "srv")}]
        )
        sdk["caller"] = caller
    ours_cache, sdk_cache = cache(r)
    add(sdk, "cache_control", sdk_cache)
    return ToolUseBlock(tool_id, name, tool_input, caller=caller, cache_control=ours_cache), sdk


def tool_result_block(r: random.Random) -> Pair:
    seen["tool_result"] += 1
    tool_id = ident(r, "toolu_")
    sdk: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id}
    fields: dict[str, Any] = {}
    shape = r.choice(["none", "str", "blocks", "empty"])
    if shape == "str":
        fields["content"] = sdk["content"] = text(r)
    elif shape == "blocks":
        parts = [
            r.choice([text_block, text_block, image_block, document_block])(r)
            for _ in range(r.randint(1, 3))
        ]
        fields["content"] = [p[0] for p in parts]
        sdk["content"] = [p[1] for p in parts]
    elif shape == "empty":
        fields["content"] = []
        sdk["content"] = []
    if r.random() < 0.4:
        fields["is_error"] = sdk["is_error"] = r.random() < 0.5
    ours_cache, sdk_cache = cache(r)
    add(sdk, "cache_control", sdk_cache)
    return ToolResultBlock(tool_id, **fields, cache_control=ours_cache), sdk


def thinking_block(r: random.Random) -> Pair:
    seen["thinking"] += 1
    thought, signature = text(r), ident(r, "sig")
    return (
        ThinkingBlock(thought, signature),
        {"type": "thinking", "thinking": thought, "signature": signature},
    )


def redacted_block(r: random.Random) -> Pair:
    seen["redacted_thinking"] += 1
    data = ident(r, "enc")
    return RedactedThinkingBlock(data), {"type": "redacted_thinking", "data": data}


def raw_block(r: random.Random) -> Pair:
    seen["raw"] += 1
    tool_id = ident(r, "srvtoolu_")
    block = r.choice(
        [
            {
                "type": "server_tool_use",
                "id": tool_id,
                "name": "web_search",
                "input": {"query": text(r)},
            },
            {
                "type": "web_search_tool_result",
                "tool_use_id": tool_id,
                "content": [
                    {
                        "type": "web_search_result",
                        "url": "https://example.com",
                        "title": text(r),
                        "encrypted_content": ident(r, "e"),
                        "page_age": None,
                    }
                ],
            },
            {
                "type": "search_result",
                "source": "https://example.com/kb",
                "title": text(r),
                "content": [{"type": "text", "text": text(r)}],
            },
            {"type": "container_upload", "file_id": ident(r, "file_")},
            {"type": "future_block_kind", "anything": json_value(r)},
        ]
    )
    return RawBlock(block), block


USER_BLOCKS = [text_block, image_block, document_block, tool_result_block, raw_block]
ASSISTANT_BLOCKS = [text_block, tool_use_block, thinking_block, redacted_block, raw_block]


def message(r: random.Random, role: str) -> Pair:
    if r.random() < 0.25:
        seen["content.str"] += 1
        body = text(r, empty_ok=False)
        return Message(role, body), {"role": role, "content": body}  # type: ignore[arg-type]
    kinds = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    parts = []
    for _ in range(r.randint(1, 4)):
        kind = r.choice(kinds)
        # Citations come back on an assistant's text blocks, and go back with them.
        parts.append(
            text_block(r, citations=role == "assistant") if kind is text_block else kind(r)
        )
    return (
        Message(role, [p[0] for p in parts]),  # type: ignore[arg-type]
        {"role": role, "content": [p[1] for p in parts]},
    )


def conversation(r: random.Random) -> Pair:
    pairs = [message(r, "user" if i % 2 == 0 else "assistant") for i in range(r.randint(1, 4))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def system(r: random.Random) -> Pair:
    form = r.choice(["none", "str", "blocks"])
    seen[f"system.{form}"] += 1
    if form == "none":
        return r.choice(["", []]), None
    if form == "str":
        body = text(r, empty_ok=False)
        return body, body
    parts = [text_block(r) for _ in range(r.randint(1, 3))]
    return [p[0] for p in parts], [p[1] for p in parts]


def tool(r: random.Random) -> Pair:
    seen["tool"] += 1
    name = ident(r, "tool_")
    schema = {"type": "object", "properties": {ident(r, "p"): {"type": "string"}}}
    if r.random() < 0.5:
        schema["required"] = list(schema["properties"])  # type: ignore[arg-type]
    sdk: dict[str, Any] = {"name": name, "input_schema": schema}
    fields: dict[str, Any] = {}
    if r.random() < 0.6:
        fields["description"] = text(r)
    ours_cache, sdk_cache = cache(r)
    if sdk_cache is not None:
        fields["cache_control"] = ours_cache
        sdk["cache_control"] = sdk_cache
    for flag in ("strict", "defer_loading", "eager_input_streaming"):
        if r.random() < 0.15:
            fields[flag] = r.random() < 0.5
    if r.random() < 0.15:
        fields["input_examples"] = [json_object(r) for _ in range(r.randint(1, 2))]
    if r.random() < 0.15:
        fields["allowed_callers"] = ["direct", "code_execution_20250825"][: r.randint(1, 2)]
    for key, value in fields.items():
        if key != "cache_control":
            sdk[key] = value
    return Tool(name, schema, **fields), sdk


def server_tool(r: random.Random) -> dict[str, Any]:
    seen["server_tool"] += 1
    return r.choice(
        [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": r.randint(1, 5)},
            {
                "type": "web_search_20250305",
                "name": "web_search",
                "allowed_domains": ["example.com"],
                "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
            },
            {"type": "web_fetch_20250910", "name": "web_fetch", "max_uses": 2},
            {"type": "code_execution_20250825", "name": "code_execution"},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        ]
    )


def tool_choice(r: random.Random, tool_names: list[str]) -> Pair:
    kind = r.choice(["auto", "any", "tool", "none"])
    seen[f"tool_choice.{kind}"] += 1
    fields: dict[str, Any] = {}
    if kind == "tool":
        fields["name"] = r.choice(tool_names) if tool_names else "some_tool"
    if kind != "none" and r.random() < 0.5:
        fields["disable_parallel_tool_use"] = r.random() < 0.5
    return ToolChoice(kind, **fields), {"type": kind, **fields}  # type: ignore[arg-type]


def thinking(r: random.Random) -> Pair:
    kind = r.choice(["enabled", "enabled", "adaptive", "disabled", "between_tools"])
    seen[f"thinking.{kind}"] += 1
    fields: dict[str, Any] = {}
    if kind == "enabled":
        fields["budget_tokens"] = r.randint(1024, 8000)
    if kind in ("enabled", "adaptive") and r.random() < 0.4:
        fields["display"] = r.choice(["summarized", "omitted"])
    if kind == "enabled" and r.random() < 0.5:
        return Thinking(**fields), {"type": kind, **fields}  # type inferred from the budget
    return Thinking(type=kind, **fields), {"type": kind, **fields}  # type: ignore[arg-type]


# Fields the SDK names as keyword arguments and RequestOptions does not: our extra_body.
EXTRA_FOR_MESSAGES = {
    "output_config": lambda r: {"effort": r.choice(["low", "medium", "high", "max"])},
    "speed": lambda r: r.choice(["standard", "fast"]),
    "inference_geo": lambda r: r.choice(["us", "global"]),
    "container": lambda r: ident(r, "container_"),
    "cache_control": lambda r: {"type": "ephemeral"},
}
EXTRA_FOR_COUNT = ("output_config", "speed", "cache_control")


class Case:
    """One generated request: our arguments and the SDK's keyword arguments."""

    def __init__(self, seed: int, *, count: bool) -> None:
        r = random.Random(seed)
        self.system, sdk_system = system(r)
        self.messages, sdk_messages = conversation(r)
        sdk: dict[str, Any] = {"model": MODEL, "messages": sdk_messages}
        if sdk_system is not None:
            sdk["system"] = sdk_system
        options: dict[str, Any] = {}
        sdk_extra_body: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if not count:
            if r.random() < 0.5:
                options["max_tokens"] = r.randint(1, 128000)
            sdk["max_tokens"] = options.get("max_tokens", INFO.max_tokens)
            sdk["stream"] = True
        # Options count_tokens does not send are set for it too: they must stay out.
        for name, make in (
            ("temperature", lambda: r.choice([0, 0.0, 0.3, 1.0, 0.7])),
            ("top_p", lambda: r.choice([0.1, 0.95, 1])),
            ("top_k", lambda: r.randint(1, 500)),
        ):
            if r.random() < 0.3:
                seen[name] += 1
                options[name] = sdk_extra_body[name] = make()
        only_messages: dict[str, Any] = {}  # what count_tokens does not take
        if r.random() < 0.3:
            seen["stop_sequences"] += 1
            stops = [text(r, empty_ok=False) for _ in range(r.randint(1, 3))]
            options["stop_sequences"] = only_messages["stop_sequences"] = stops
        if r.random() < 0.25:
            seen["user_id"] += 1
            options["user_id"] = ident(r, "user-")
            only_messages["metadata"] = {"user_id": options["user_id"]}
        if r.random() < 0.2:
            seen["service_tier"] += 1
            tier = r.choice(["auto", "standard_only"])
            options["service_tier"] = only_messages["service_tier"] = tier
        if not count:
            sdk.update(only_messages)
        tools = [tool(r) for _ in range(r.randint(0, 3))] if r.random() < 0.5 else []
        servers = [server_tool(r) for _ in range(r.randint(1, 2))] if r.random() < 0.3 else []
        if tools:
            options["tools"] = [t[0] for t in tools]
        if servers:
            options["server_tools"] = servers
        if tools or servers:
            sdk["tools"] = [t[1] for t in tools] + servers
        if r.random() < 0.35:
            choice = tool_choice(r, [t[0].name for t in tools])
            options["tool_choice"], sdk["tool_choice"] = choice
        if r.random() < 0.35:
            options["thinking"], sdk["thinking"] = thinking(r)
        self.betas: list[str] = []
        if r.random() < 0.3:
            seen["betas"] += 1
            self.betas = r.sample(
                ["files-api-2025-04-14", "context-1m-2025-08-07", "interleaved-thinking"],
                r.randint(1, 2),
            )
            options["betas"] = self.betas
        if r.random() < 0.3:
            seen["headers"] += 1
            headers["x-trace-id"] = ident(r, "trace-")
            options["headers"] = headers
        extra_names = list(EXTRA_FOR_COUNT if count else EXTRA_FOR_MESSAGES)
        extra = {name: EXTRA_FOR_MESSAGES[name](r) for name in extra_names if r.random() < 0.15}
        if extra:
            seen["extra_body"] += 1
            options["extra_body"] = extra
            sdk.update(extra)  # the SDK's own keyword arguments
        if sdk_extra_body and not count:
            sdk["extra_body"] = sdk_extra_body
        sdk_headers = dict(headers)
        if self.betas:
            sdk_headers["anthropic-beta"] = ",".join(self.betas)
        if sdk_headers:
            sdk["extra_headers"] = sdk_headers
        self.options = RequestOptions(**options) if options else None
        self.sdk = sdk
        self.headers = headers


class Captured:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []

    def keep(self, method: str, path: str, headers: Any, body: bytes) -> None:
        assert method == "POST"
        wanted = {name: headers[name] for name in COMPARED_HEADERS if name in headers}
        wanted |= {name: headers[name] for name in headers if name.startswith("x-trace")}
        self.requests.append((path, wanted, json.loads(body)))


def reply(path: str) -> tuple[dict[str, str], bytes]:
    if path.endswith("/count_tokens"):
        return {"content-type": "application/json"}, b'{"input_tokens": 7}'
    return {"content-type": "text/event-stream"}, STREAM


def sdk_client(captured: Captured) -> anthropic.Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        captured.keep(request.method, request.url.path, request.headers, request.read())
        headers, body = reply(request.url.path)
        return httpx2.Response(200, headers=headers, content=body)

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return anthropic.Anthropic(
        api_key=KEY, base_url="https://api.example.test", http_client=http, max_retries=0
    )


def our_client(captured: Captured) -> AnthropicProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        captured.keep(request.method, request.url.path, request.headers, request.read())
        headers, body = reply(request.url.path)
        return httpx.Response(200, headers=headers, content=body)

    config = ProviderConfig(
        model_id=MODEL, model_info=INFO, api_key=KEY, base_url="https://api.example.test"
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AnthropicProvider(config, http_client=http, max_retries=0)


def check_coverage(names: list[str], minimum: int) -> None:
    missing = {name: seen[name] for name in names if seen[name] < minimum}
    assert not missing, f"the generator rarely made these: {missing}"


async def test_messages_body_equals_the_sdks() -> None:
    seen.clear()
    ours, theirs = Captured(), Captured()
    sdk = sdk_client(theirs)
    p = our_client(ours)
    matched = 0
    try:
        for seed in range(MESSAGE_CASES):
            case = Case(seed, count=False)
            chunks = [
                c async for c in p.create_message(case.system, case.messages, options=case.options)
            ]
            assert chunks, seed
            with sdk.messages.create(**case.sdk) as stream:  # type: ignore[call-overload]
                for _ in stream:
                    pass
            assert ours.requests[-1] == theirs.requests[-1], f"case {seed}"
            matched += 1
    finally:
        sdk.close()
        await p._http().aclose()
    assert matched == MESSAGE_CASES
    check_coverage(
        [
            *("text", "image", "document", "tool_use", "tool_result", "thinking"),
            *("redacted_thinking", "raw", "content.str", "cache_control"),
            *(f"image.{k}" for k in ("base64", "url", "file")),
            *(f"document.{k}" for k in ("base64", "url", "text", "content", "file")),
            *(f"system.{k}" for k in ("none", "str", "blocks")),
            *("temperature", "top_p", "top_k", "stop_sequences", "user_id", "service_tier"),
            *("tool", "server_tool", "betas", "headers", "extra_body"),
            *(f"tool_choice.{k}" for k in ("auto", "any", "tool", "none")),
            *(f"thinking.{k}" for k in ("enabled", "adaptive", "disabled", "between_tools")),
        ],
        minimum=5,
    )


async def test_count_tokens_body_equals_the_sdks() -> None:
    seen.clear()
    ours, theirs = Captured(), Captured()
    sdk = sdk_client(theirs)
    p = our_client(ours)
    matched = 0
    try:
        for seed in range(10_000, 10_000 + COUNT_CASES):
            case = Case(seed, count=True)
            n = await p.count_tokens(case.system, case.messages, options=case.options)
            assert n == 7
            assert sdk.messages.count_tokens(**case.sdk).input_tokens == 7
            assert ours.requests[-1] == theirs.requests[-1], f"case {seed}"
            matched += 1
    finally:
        sdk.close()
        await p._http().aclose()
    assert matched == COUNT_CASES
    assert ours.requests[-1][0] == "/v1/messages/count_tokens"
    check_coverage(
        ["temperature", "stop_sequences", "tool", "server_tool", "extra_body", "system.blocks"],
        minimum=5,
    )
