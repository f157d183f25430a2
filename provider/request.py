"""What a request asks for: per-call options, tools, and the JSON bodies (no I/O).

``RequestOptions`` is one frozen, reusable value: ``create_message(..., options=options)`` and
``count_tokens(..., options=options)`` take the same one. Options left as ``None`` are left out
of the body (the API's defaults apply), except ``max_tokens``, which the Messages API requires
and which defaults to the model's.

What is malformed on our side (a wrong type, an empty list, a value no request could carry)
is refused here, before any request, by a ``ProviderError`` naming the field. What the API
decides (ranges, which model takes which option, budget against ``max_tokens``) is left to
it: its 400 comes back as a ``ProviderError`` with its message. Nothing is silently dropped or
rewritten; ``extra_body`` carries API fields this module does not name yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .checks import fail, need_bool, need_int, need_number, need_str, one_of
from .content import CacheControl, Message, TextBlock, block_from_json
from .errors import ProviderError

__all__ = [
    "CountTokensRequest",
    "MessagesRequest",
    "RequestOptions",
    "Thinking",
    "Tool",
    "ToolChoice",
    "call_headers",
    "encode_body",
    "encode_count_body",
    "options_or_default",
]

ToolChoiceType = Literal["auto", "any", "tool", "none"]
ThinkingType = Literal["enabled", "adaptive", "disabled", "between_tools"]
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING_TYPES = ("enabled", "adaptive", "disabled", "between_tools")
_DISPLAYS = ("summarized", "omitted")
BETA_HEADER = "anthropic-beta"


def _sequence(field: str, value: Any) -> tuple[Any, ...]:
    """A list or tuple, kept as a tuple (frozen, reusable); a str is refused, since
    ``stop_sequences="END"`` would otherwise become three one-letter sequences."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise fail(field, "a list", value)
    return tuple(value)


def _dict(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(field, "a dict with str keys", value)
    return dict(value)


def _header_value(field: str, value: Any, *, name: str | None = None) -> None:
    """The config's rules for headers (endpoint.py's; imported here on first use, since it
    brings httpx, which ``import provider`` does not load). The value is never quoted."""
    from .endpoint import _TOKEN, _sendable

    if name is not None and not _TOKEN.fullmatch(name):
        raise ProviderError(f"{field}: {name!r} is not a valid HTTP header name")
    _sendable(field, value)


def _set(owner: msgspec.Struct, name: str, value: Any) -> None:
    msgspec.structs.force_setattr(owner, name, value)


class Tool(msgspec.Struct, frozen=True, omit_defaults=True, repr_omit_defaults=True):
    """A client tool the model may call: ``Tool("get_weather", {"type": "object", ...},
    description="...")``. The model's calls come back as ``tool_use`` blocks; answer each
    with a ``ToolResultBlock``. Fields left as ``None`` are not sent."""

    name: str
    input_schema: dict[str, Any]
    description: str | None = None
    cache_control: CacheControl | None = None
    strict: bool | None = None
    input_examples: Sequence[dict[str, Any]] | None = None
    defer_loading: bool | None = None
    allowed_callers: Sequence[str] | None = None
    eager_input_streaming: bool | None = None

    def __post_init__(self) -> None:
        need_str("Tool.name", self.name)
        if not isinstance(self.input_schema, dict):
            raise ProviderError(
                f"Tool {self.name!r} input_schema must be a dict (a JSON schema), "
                f"not {type(self.input_schema).__name__}"
            )
        if self.description is not None:
            need_str(f"Tool {self.name!r} description", self.description, empty_ok=True)
        if self.cache_control is not None and not isinstance(self.cache_control, CacheControl):
            raise fail(f"Tool {self.name!r} cache_control", "a CacheControl", self.cache_control)
        for flag in ("strict", "defer_loading", "eager_input_streaming"):
            if getattr(self, flag) is not None:
                need_bool(f"Tool {self.name!r} {flag}", getattr(self, flag))
        if self.input_examples is not None:
            examples = _sequence(f"Tool {self.name!r} input_examples", self.input_examples)
            for example in examples:
                if not isinstance(example, dict):
                    raise fail(f"Tool {self.name!r} input_examples[]", "a dict", example)
            _set(self, "input_examples", examples)
        if self.allowed_callers is not None:
            callers = _sequence(f"Tool {self.name!r} allowed_callers", self.allowed_callers)
            for caller in callers:
                need_str(f"Tool {self.name!r} allowed_callers[]", caller)
            _set(self, "allowed_callers", callers)


class ToolChoice(msgspec.Struct, frozen=True, omit_defaults=True, repr_omit_defaults=True):
    """How the model uses the tools: ``"auto"`` (it decides), ``"any"`` (some tool),
    ``"tool"`` (the one ``name``d), ``"none"``. ``disable_parallel_tool_use=True``: at most
    one tool call per turn."""

    type: ToolChoiceType
    name: str | None = None
    disable_parallel_tool_use: bool | None = None

    def __post_init__(self) -> None:
        one_of("ToolChoice.type", self.type, _TOOL_CHOICES)
        if self.type == "tool":
            if self.name is None:
                raise ProviderError('ToolChoice("tool") needs the name of the tool to use')
            need_str("ToolChoice.name", self.name)
        elif self.name is not None:
            raise ProviderError(
                f'ToolChoice.name is only for ToolChoice("tool"), not {self.type!r}'
            )
        if self.disable_parallel_tool_use is not None:
            if self.type == "none":
                raise ProviderError(
                    'ToolChoice.disable_parallel_tool_use does not apply to ToolChoice("none")'
                )
            need_bool("ToolChoice.disable_parallel_tool_use", self.disable_parallel_tool_use)


class Thinking(msgspec.Struct, frozen=True, omit_defaults=True, repr_omit_defaults=True):
    """Extended thinking. ``Thinking(budget_tokens=2048)`` thinks with that budget
    (``type="enabled"``); ``Thinking(type="adaptive")`` lets the model decide how much;
    ``Thinking(type="disabled")`` and ``"between_tools"`` turn it off. ``display``
    (``"summarized"`` or ``"omitted"``) says how thinking shows in the reply. Which types a
    model accepts, and the budget's range, are the API's to check."""

    budget_tokens: int | None = None
    type: ThinkingType | None = None
    display: Literal["summarized", "omitted"] | None = None

    def __post_init__(self) -> None:
        kind = self.type
        if kind is None:
            if self.budget_tokens is None:
                raise ProviderError(
                    'Thinking needs budget_tokens (or type="adaptive" / "disabled")'
                )
            kind = "enabled"
            _set(self, "type", kind)
        one_of("Thinking.type", kind, _THINKING_TYPES)
        if kind == "enabled":
            if self.budget_tokens is None:
                raise ProviderError('Thinking(type="enabled") needs budget_tokens')
            need_int("Thinking.budget_tokens", self.budget_tokens, minimum=1)
        elif self.budget_tokens is not None:
            raise ProviderError(f'Thinking.budget_tokens is only for type="enabled", not {kind!r}')
        if self.display is not None:
            if kind not in ("enabled", "adaptive"):
                raise ProviderError(f"Thinking.display does not apply to type={kind!r}")
            one_of("Thinking.display", self.display, _DISPLAYS)


class RequestOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Per-call settings for ``create_message`` and ``count_tokens`` (frozen: reuse it).

    ``max_tokens`` defaults to the model's. ``tools`` are ``Tool``s; ``server_tools`` are the
    API's own tools as it documents them (``{"type": "web_search_20250305", "name":
    "web_search", "max_uses": 3}``), sent after ``tools``. ``user_id`` goes out as
    ``metadata.user_id``. ``betas`` join the config's ``anthropic-beta`` in one header;
    ``headers`` are added to this call's (their values are masked like the config's);
    ``extra_body`` is merged into the JSON body last, for API fields not named here.

    ``count_tokens`` sends what its endpoint takes: the system prompt, messages, tools,
    ``tool_choice``, ``thinking`` and ``extra_body``; the sampling options, ``max_tokens``,
    ``stop_sequences``, ``user_id`` and ``service_tier`` are for ``create_message`` only.
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: Sequence[str] | None = None
    tools: Sequence[Tool] | None = None
    server_tools: Sequence[dict[str, Any]] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    user_id: str | None = None
    service_tier: str | None = None
    betas: Sequence[str] | None = None
    headers: Mapping[str, str] | None = None
    extra_body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            need_int("RequestOptions.max_tokens", self.max_tokens, minimum=1)
        for name in ("temperature", "top_p"):
            if getattr(self, name) is not None:
                need_number(f"RequestOptions.{name}", getattr(self, name))
        if self.top_k is not None:
            need_int("RequestOptions.top_k", self.top_k)
        if self.stop_sequences is not None:
            stops = _sequence("RequestOptions.stop_sequences", self.stop_sequences)
            for i, stop in enumerate(stops):
                need_str(f"RequestOptions.stop_sequences[{i}]", stop)
            _set(self, "stop_sequences", stops)
        if self.tools is not None:
            tools = _sequence("RequestOptions.tools", self.tools)
            for i, tool in enumerate(tools):
                if not isinstance(tool, Tool):
                    hint = " (the API's own tools go in server_tools)" * isinstance(tool, Mapping)
                    raise ProviderError(
                        f"RequestOptions.tools[{i}] is a {type(tool).__name__}, not a Tool{hint}"
                    )
            _set(self, "tools", tools)
        if self.server_tools is not None:
            server = _sequence("RequestOptions.server_tools", self.server_tools)
            for i, spec in enumerate(server):
                if isinstance(spec, Tool):
                    raise ProviderError(
                        f"RequestOptions.server_tools[{i}] is a Tool: client tools go in tools"
                    )
                if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
                    raise fail(
                        f"RequestOptions.server_tools[{i}]", "a dict with a str 'type'", spec
                    )
            _set(self, "server_tools", tuple(dict(spec) for spec in server))
        if self.tool_choice is not None and not isinstance(self.tool_choice, ToolChoice):
            raise fail("RequestOptions.tool_choice", "a ToolChoice", self.tool_choice)
        if self.thinking is not None and not isinstance(self.thinking, Thinking):
            raise fail("RequestOptions.thinking", "a Thinking", self.thinking)
        if self.user_id is not None:
            need_str("RequestOptions.user_id", self.user_id)
        if self.service_tier is not None:
            need_str("RequestOptions.service_tier", self.service_tier)
        if self.betas is not None:
            betas = _sequence("RequestOptions.betas", self.betas)
            for i, beta in enumerate(betas):
                need_str(f"RequestOptions.betas[{i}]", beta)
                if "," in beta:
                    raise ProviderError(
                        f"RequestOptions.betas[{i}] must be one beta name, not a list: {beta!r}"
                    )
                _header_value(f"RequestOptions.betas[{i}]", beta)
            _set(self, "betas", betas)
        if self.headers is not None:
            headers = _dict("RequestOptions.headers", self.headers)
            for name, value in headers.items():
                _header_value(f"RequestOptions.headers[{name!r}]", value, name=name)
            _set(self, "headers", headers)
        if self.extra_body is not None:
            _set(self, "extra_body", _dict("RequestOptions.extra_body", self.extra_body))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.__rich_repr__())
        return f"RequestOptions({shown})"

    __str__ = __repr__

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # Set fields only, and header values masked, as ProviderConfig masks its own.
        fields = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "headers":
                value = dict.fromkeys(value, "***")
            fields.append((name, value))
        return fields


_NO_OPTIONS = RequestOptions()


def options_or_default(options: RequestOptions | None) -> RequestOptions:
    """``options``, or the empty one; anything else is refused."""
    if options is None:
        return _NO_OPTIONS
    if not isinstance(options, RequestOptions):
        raise ProviderError(f"options must be a RequestOptions, not {type(options).__name__}")
    return options


class _Metadata(msgspec.Struct, frozen=True):
    user_id: str


class MessagesRequest(msgspec.Struct, kw_only=True):
    """The JSON body of a streaming ``POST /v1/messages`` (``UNSET`` fields are left out)."""

    model: str
    max_tokens: int
    system: str | Sequence[TextBlock] | UnsetType = UNSET
    messages: Sequence[Message]
    tools: Sequence[Any] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    thinking: Thinking | UnsetType = UNSET
    metadata: _Metadata | UnsetType = UNSET
    service_tier: str | UnsetType = UNSET
    stop_sequences: Sequence[str] | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    stream: bool = True


class CountTokensRequest(msgspec.Struct, kw_only=True):
    """The JSON body of ``POST /v1/messages/count_tokens``: what that endpoint takes."""

    model: str
    system: str | Sequence[TextBlock] | UnsetType = UNSET
    messages: Sequence[Message]
    tools: Sequence[Any] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    thinking: Thinking | UnsetType = UNSET


def _system(system_prompt: Any) -> str | tuple[TextBlock, ...] | UnsetType:
    """A str, or a sequence of TextBlocks (so it can carry cache_control); empty is left out."""
    if isinstance(system_prompt, str):
        return system_prompt or UNSET
    if isinstance(system_prompt, (bytes, Mapping)) or not isinstance(system_prompt, Sequence):
        raise ProviderError(
            "system_prompt must be a str or a list of TextBlocks, "
            f"not {type(system_prompt).__name__}"
        )
    blocks = []
    for i, item in enumerate(system_prompt):
        block = block_from_json(item, f"system_prompt[{i}]")
        if not isinstance(block, TextBlock):
            raise ProviderError(
                f"system_prompt[{i}] is a {type(block).__name__}: the system prompt takes "
                "only TextBlocks"
            )
        blocks.append(block)
    return tuple(blocks) or UNSET


def _messages(messages: Any) -> Sequence[Message]:
    if isinstance(messages, (str, bytes, Mapping, Message)) or not isinstance(messages, Sequence):
        raise ProviderError(f"messages must be a list of Messages, not {type(messages).__name__}")
    if not messages:
        raise ProviderError("At least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Message):
            raise ProviderError(f"messages[{i}] is a {type(message).__name__}, not a Message")
    return messages


def _tools(options: RequestOptions) -> tuple[Any, ...] | UnsetType:
    tools = (*(options.tools or ()), *(options.server_tools or ()))
    return tools or UNSET


def _given(value: Any) -> Any:
    return UNSET if value is None else value


_encode = msgspec.json.Encoder().encode


def _encode_with(request: msgspec.Struct, extra_body: Mapping[str, Any] | None) -> bytes:
    """The body's JSON, with ``extra_body`` merged into it last (top level, as the official
    SDK merges its ``extra_body``: a key given there replaces the body's own)."""
    try:
        if not extra_body:
            return _encode(request)
        body = {
            name: getattr(request, name)
            for name in request.__struct_fields__
            if getattr(request, name) is not UNSET
        }
        body.update(extra_body)
        return _encode(body)
    except (TypeError, msgspec.EncodeError) as e:
        raise ProviderError(f"The request body cannot be written as JSON: {e}", e) from e


def encode_body(
    model: str,
    max_tokens: int,
    system_prompt: str | Sequence[TextBlock],
    messages: Sequence[Message],
    options: RequestOptions | None = None,
) -> bytes:
    """The body of a streaming ``POST /v1/messages``. ``max_tokens`` is the default (the
    model's) that ``options.max_tokens`` overrides; an empty system prompt is left out."""
    options = options_or_default(options)
    metadata = UNSET if options.user_id is None else _Metadata(options.user_id)
    request = MessagesRequest(
        model=model,
        max_tokens=max_tokens if options.max_tokens is None else options.max_tokens,
        system=_system(system_prompt),
        messages=_messages(messages),
        tools=_tools(options),
        tool_choice=_given(options.tool_choice),
        thinking=_given(options.thinking),
        metadata=metadata,
        service_tier=_given(options.service_tier),
        stop_sequences=_given(options.stop_sequences),
        temperature=_given(options.temperature),
        top_k=_given(options.top_k),
        top_p=_given(options.top_p),
    )
    return _encode_with(request, options.extra_body)


def encode_count_body(
    model: str,
    system_prompt: str | Sequence[TextBlock],
    messages: Sequence[Message],
    options: RequestOptions | None = None,
) -> bytes:
    """The body of ``POST /v1/messages/count_tokens``: the Messages body without
    ``max_tokens``, ``stream`` and the options that endpoint does not take."""
    options = options_or_default(options)
    request = CountTokensRequest(
        model=model,
        system=_system(system_prompt),
        messages=_messages(messages),
        tools=_tools(options),
        tool_choice=_given(options.tool_choice),
        thinking=_given(options.thinking),
    )
    return _encode_with(request, options.extra_body)


def call_headers(headers: Mapping[str, str], options: RequestOptions) -> dict[str, str]:
    """The headers of one call: ``headers`` (the provider's), then ``options.headers``, with
    every ``anthropic-beta`` (the config's, the call's, ``options.betas``) joined in one
    header, each beta once, in that order."""
    merged = dict(headers)
    betas = _betas(merged.get(BETA_HEADER, ""))
    for name, value in (options.headers or {}).items():
        if name.lower() == BETA_HEADER:
            betas += _betas(value)
        else:
            merged[name.lower()] = value
    betas += list(options.betas or ())
    if betas:
        merged[BETA_HEADER] = ",".join(dict.fromkeys(betas))
    return merged


def _betas(value: str) -> list[str]:
    return [beta.strip() for beta in value.split(",") if beta.strip()]
