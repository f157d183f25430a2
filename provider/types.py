"""Data types of the public contract, as msgspec Structs.

Python attributes are snake_case; the JSON form (``models.json``, written by the TypeScript
side) is camelCase, which ``rename="camel"`` maps with no hand-written translation.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from .content import Message, RawBlock
from .errors import ProviderError

__all__ = [
    "BlockChunk",
    "CitationChunk",
    "Message",
    "MessageStreamChunk",
    "ModelConfig",
    "ModelInfo",
    "ModelRef",
    "ModelsConfig",
    "ProviderConfig",
    "RedactedThinkingChunk",
    "StartChunk",
    "StopChunk",
    "TextChunk",
    "ThinkingChunk",
    "ToolInputChunk",
    "ToolUseChunk",
    "UsageChunk",
]

# Chunks: one small immutable Struct per kind. ``type`` is a class constant, not a field, so
# no chunk can claim another kind; msgspec writes it as the JSON tag, so the union round-trips.
# gc=False: those that hold only scalars can never be part of a reference cycle.
# Fields added after the first release come last, with defaults, so existing calls still work.
# ``index`` is the content block a chunk belongs to (the API's block index).


class StartChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="start"):
    """The message's ``id`` and ``model``, first of every stream (at ``message_start``)."""

    id: str
    model: str
    type: ClassVar[Literal["start"]] = "start"


class TextChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="text"):
    """A piece of the reply's text, as it arrived."""

    text: str
    index: int = 0
    type: ClassVar[Literal["text"]] = "text"


class ThinkingChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="thinking"):
    """A piece of extended-thinking text; or, at the block's ``signature_delta``, one with
    ``thinking=""`` and the block's ``signature`` (send it back with the block)."""

    thinking: str
    index: int = 0
    signature: str | None = None
    type: ClassVar[Literal["thinking"]] = "thinking"


class RedactedThinkingChunk(
    msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="redacted_thinking"
):
    """A ``redacted_thinking`` block (encrypted ``data``), at its start."""

    data: str
    index: int = 0
    type: ClassVar[Literal["redacted_thinking"]] = "redacted_thinking"


class CitationChunk(msgspec.Struct, frozen=True, tag_field="type", tag="citation"):
    """A citation of the text block ``index`` (a ``citations_delta``), as the API sent it."""

    citation: dict[str, Any]
    index: int = 0
    type: ClassVar[Literal["citation"]] = "citation"


class UsageChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="usage"):
    """Token counts added since the previous UsageChunk of the same stream.

    Summing every UsageChunk of a stream gives the message's final usage.
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with the 1-hour TTL;
    ``web_search_requests`` counts the server-side web searches (billed per search).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0
    type: ClassVar[Literal["usage"]] = "usage"


class ToolInputChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="tool_input"):
    """A piece of a client tool call's input JSON (each ``input_json_delta``), for a UI that
    shows the call forming. The complete call comes as a ToolUseChunk."""

    partial_json: str
    index: int = 0
    type: ClassVar[Literal["tool_input"]] = "tool_input"


class ToolUseChunk(msgspec.Struct, frozen=True, tag_field="type", tag="tool_use"):
    """A complete tool call, emitted once when its content block ends with complete JSON.

    ``caller`` is the block's ``caller`` when the API sends one (a call made from code
    execution)."""

    id: str
    name: str
    input: dict[str, Any]
    index: int = 0
    caller: dict[str, Any] | None = None
    type: ClassVar[Literal["tool_use"]] = "tool_use"


class BlockChunk(msgspec.Struct, frozen=True, tag_field="type", tag="block"):
    """Any other content block (``server_tool_use``, ``web_search_tool_result``,
    ``compaction``, kinds not known yet), complete, at its end: the block as a non-streaming
    reply holds it (a server tool's ``input`` assembled from its ``input_json_delta`` pieces,
    a compaction's ``content`` from its ``compaction_delta``)."""

    block: RawBlock
    index: int = 0
    type: ClassVar[Literal["block"]] = "block"


class StopChunk(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="stop"):
    """Why the model stopped (``end_turn``, ``max_tokens``, ``tool_use`` …).

    ``cut_blocks``: the indexes of the content blocks this stop left unfinished (a block never
    closed, or a tool block whose input is not complete JSON, when ``max_tokens`` cut it); they
    gave no ToolUseChunk or BlockChunk. Empty for a message whose blocks all ended."""

    stop_reason: str | None
    stop_sequence: str | None = None
    cut_blocks: tuple[int, ...] = ()
    type: ClassVar[Literal["stop"]] = "stop"


MessageStreamChunk = (
    TextChunk
    | UsageChunk
    | ThinkingChunk
    | ToolUseChunk
    | StopChunk
    | StartChunk
    | RedactedThinkingChunk
    | CitationChunk
    | ToolInputChunk
    | BlockChunk
)


# Checked when decoding (models.json), so a typo cannot make a negative cost.
Price = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(gt=0)]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """What a model can do and what it costs. Prices are USD per million tokens.

    Frozen, so the built-in table cannot be changed through a config that shares an entry;
    derive a variant with ``msgspec.structs.replace(info, max_tokens=...)``."""

    max_tokens: Count | None = None
    context_window: Count | None = None
    supports_images: bool | None = None
    supports_prompt_cache: bool | None = None
    input_price: Price | None = None
    output_price: Price | None = None
    cache_writes_price: Price | None = None
    cache_reads_price: Price | None = None
    # Beyond the seed: the 1-hour-TTL cache write price (2x input where Anthropic publishes it).
    cache_writes_1h_price: Price | None = msgspec.field(default=None, name="cacheWrites1hPrice")
    description: str | None = None
    # Long-context pricing (Sonnet 4 / 4.5 with the 1M window): a request whose prompt (input +
    # cache writes + cache reads) exceeds ``long_context_threshold`` tokens is billed, for every
    # token, at these input / output prices, cache prices scaled by the same factor as input.
    long_context_threshold: Count | None = None
    long_context_input_price: Price | None = None
    long_context_output_price: Price | None = None
    # USD per 1,000 server-side web searches; None: Anthropic's published $10 per 1,000.
    web_search_price: Price | None = None

    def __post_init__(self) -> None:
        # msgspec checks the constraints when decoding (models.json); this checks them when the
        # struct is built in Python too, so ModelInfo(input_price=-3) cannot make a negative cost.
        for name, kind in _INFO_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            try:
                msgspec.convert(value, kind, strict=True)
            except msgspec.ValidationError as e:
                problem = str(e).split(" - at ", 1)[0]
                raise ProviderError(f"ModelInfo.{name} = {value!r}: {problem}") from None


_INFO_FIELDS = [(f.name, f.type) for f in msgspec.structs.fields(ModelInfo)]


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """How to reach one model.

    Credentials: ``api_key`` is sent as ``x-api-key``; ``auth_token`` as ``Authorization:
    Bearer`` (for gateways that want a token instead). With neither set, the provider reads
    ``ANTHROPIC_API_KEY``, else ``ANTHROPIC_AUTH_TOKEN``; an explicit one is never mixed with the
    environment's. ``base_url`` defaults to ``ANTHROPIC_BASE_URL``, else the public API.
    ``headers`` are added to every request (a gateway's own auth, ``anthropic-beta`` …);
    ``anthropic_version`` defaults to ``2023-06-01``. Credentials are refused over plain
    ``http://`` to a host that is not loopback unless ``allow_insecure_http`` is set.
    """

    model_id: str = ""
    model_info: ModelInfo | None = None
    api_key: str | None = None
    base_url: str | None = None
    auth_token: str | None = None
    headers: dict[str, str] | None = None
    anthropic_version: str | None = None
    allow_insecure_http: bool = False

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.__rich_repr__())
        return f"ProviderConfig({shown})"

    __str__ = __repr__

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # Secrets are masked here, which also covers repr, str, rich and pytest's diffs.
        # Header values are masked too: a gateway's own credentials travel there.
        return [
            ("model_id", self.model_id),
            ("model_info", self.model_info),
            ("api_key", None if self.api_key is None else "***"),
            ("base_url", self.base_url),
            ("auth_token", None if self.auth_token is None else "***"),
            ("headers", None if self.headers is None else dict.fromkeys(self.headers, "***")),
            ("anthropic_version", self.anthropic_version),
            ("allow_insecure_http", self.allow_insecure_http),
        ]


class ModelConfig(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One named entry of ``models.json``."""

    provider_config: ProviderConfig
    provider: str = "anthropic"
    enabled: bool = True


class ModelsConfig(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The workspace ``models.json``: named models and the active one."""

    active: str
    models: dict[str, ModelConfig]


class ModelRef(msgspec.Struct, frozen=True):
    """What ``get_model()`` returns: the model's id and its info."""

    id: str
    info: ModelInfo
